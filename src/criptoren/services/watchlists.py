"""Per-client watchlists: each client follows its own symbols (the admin has its own list)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial
from typing import Any

from criptoren.db.watchlists import WatchlistRepository, listed_query
from criptoren.domain.audit import AuditEntry
from criptoren.ports import MarketWatch, PriceSource, WatchlistFollower
from criptoren.services.auth import Principal
from criptoren.services.memo import Memo
from criptoren.services.symbols import SymbolService
from criptoren.services.unit_of_work import UnitOfWork

LISTED_TTL_SECONDS = 10.0  # a removal made by another process is seen within this
Entry = tuple[int | None, str]


@dataclass(frozen=True, slots=True)
class MonitorState:
    """A watched symbol and its live snapshot."""

    symbol: str
    monitored: bool
    status: str
    last_price: Decimal | None
    market: Mapping[str, Any] | None


class WatchlistService:
    """Adds to and removes from the caller's watchlist; the feed follows after commit."""

    def __init__(
        self,
        symbols: SymbolService,
        market: MarketWatch,
        prices: PriceSource,
        followers: Sequence[WatchlistFollower] = (),
        listed_ttl: float = LISTED_TTL_SECONDS,
    ) -> None:
        self.symbols = symbols
        self.market = market
        self.prices = prices
        self.followers = list(followers)
        self.listed: Memo[Entry, bool] = Memo(listed_ttl)
        """Entries known to be on their owner's list: watching them again writes nothing."""

    async def watch(self, work: UnitOfWork, principal: Principal, symbol: str) -> MonitorState:
        """Validate ``symbol`` and put it on the caller's list (idempotent)."""
        rules = await self.symbols.rules(work.read, symbol)
        entry = (principal.client_id, rules.symbol)
        if self.listed.get(entry) is None:
            # every request in flight when the memory expires gets here at once: a plain
            # read each (an ORM session each stalled all of them ≈ 0.5 s at 32 connections)
            generation = self.listed.generation
            if not await work.fetch(*listed_query(*entry)):
                await self._add(work, principal, entry)
            work.after_commit(partial(self.market.watch, [rules.symbol]))
            work.after_commit(partial(self._remember, entry, generation))
        state = self.state(rules.symbol, rules.status, monitored=True)
        if state.last_price is None:  # not streamed yet: the exchange's ticker
            state = replace(state, last_price=await self.prices.current_price(rules.symbol))
        return state

    async def unwatch(self, work: UnitOfWork, principal: Principal, symbol: str) -> MonitorState:
        """Take ``symbol`` off the caller's list; the feed drops it once nobody needs it."""
        rules = await self.symbols.rules(work.read, symbol)
        entry = (principal.client_id, rules.symbol)
        work.now_and_after_commit(partial(self.listed.forget, lambda key, _: key == entry))
        if await WatchlistRepository(work.session).remove(*entry):
            work.record(_entry(principal, "watchlist.removed", rules.symbol))
        work.after_commit(partial(self.market.unwatch, [rules.symbol]))
        self._tell_followers(work, principal.client_id)
        return self.state(rules.symbol, rules.status, monitored=False)

    async def list(
        self, work: UnitOfWork, principal: Principal, client_id: int | None = None
    ) -> list[MonitorState]:
        """The caller's list; the admin's own, or any client's it names."""
        owner = principal.scope(client_id)
        names = await WatchlistRepository(work.session).list(owner)
        return [self.state(name, "", monitored=True) for name in names]

    def state(self, symbol: str, status: str, *, monitored: bool) -> MonitorState:
        """Snapshot of one symbol."""
        return MonitorState(
            symbol=symbol,
            monitored=monitored,
            status=status,
            last_price=self.prices.cached_price(symbol),
            market=self.market.snapshot(symbol),
        )

    async def _add(self, work: UnitOfWork, principal: Principal, entry: Entry) -> None:
        if await WatchlistRepository(work.session).add(*entry):
            work.record(_entry(principal, "watchlist.added", entry[1]))
            self._tell_followers(work, principal.client_id)

    async def _remember(self, entry: Entry, generation: int) -> None:
        self.listed.put(entry, True, generation)

    def _tell_followers(self, work: UnitOfWork, owner: int | None) -> None:
        for follower in self.followers:
            work.after_commit(partial(follower.watchlist_changed, owner))


def _entry(principal: Principal, action: str, symbol: str) -> AuditEntry:
    """A change to the caller's list (the admin's own list has no client)."""
    client_id = principal.client_id
    return AuditEntry(principal.actor, action, "watchlist", symbol, {"symbol": symbol}, client_id)
