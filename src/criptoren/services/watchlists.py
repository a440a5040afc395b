"""Per-client watchlists: each client follows its own symbols (the admin has its own list)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from criptoren.db.watchlists import WatchlistRepository
from criptoren.ports import MarketWatch, PriceSource, WatchlistFollower
from criptoren.services.auth import Principal
from criptoren.services.symbols import SymbolService
from criptoren.services.unit_of_work import after_commit


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
    ) -> None:
        self.symbols = symbols
        self.market = market
        self.prices = prices
        self.followers = list(followers)

    async def watch(self, session: AsyncSession, principal: Principal, symbol: str) -> MonitorState:
        """Validate ``symbol`` and put it on the caller's list (idempotent)."""
        rules = await self.symbols.rules(session, symbol)
        await WatchlistRepository(session).add(principal.client_id, rules.symbol)
        after_commit(session, partial(self.market.watch, [rules.symbol]))
        self._tell_followers(session, principal.client_id)
        state = self.state(rules.symbol, rules.status, monitored=True)
        if state.last_price is None:  # not streamed yet: the exchange's ticker
            state = replace(state, last_price=await self.prices.current_price(rules.symbol))
        return state

    async def unwatch(
        self, session: AsyncSession, principal: Principal, symbol: str
    ) -> MonitorState:
        """Take ``symbol`` off the caller's list; the feed drops it once nobody needs it."""
        rules = await self.symbols.rules(session, symbol)
        await WatchlistRepository(session).remove(principal.client_id, rules.symbol)
        after_commit(session, partial(self.market.unwatch, [rules.symbol]))
        self._tell_followers(session, principal.client_id)
        return self.state(rules.symbol, rules.status, monitored=False)

    async def list(
        self, session: AsyncSession, principal: Principal, client_id: int | None = None
    ) -> list[MonitorState]:
        """The caller's list; the admin's own, or any client's it names."""
        owner = principal.scope(client_id)
        names = await WatchlistRepository(session).list(owner)
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

    def _tell_followers(self, session: AsyncSession, owner: int | None) -> None:
        for follower in self.followers:
            after_commit(session, partial(follower.watchlist_changed, owner))
