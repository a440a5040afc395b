"""Monitored symbols: persisted, and kept streaming by the market watch."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from criptoren.db.repositories import MonitoredSymbolRepository, OrderRepository
from criptoren.errors import Conflict
from criptoren.ports import MarketWatch, PriceSource
from criptoren.services.memo import Memo
from criptoren.services.symbols import SymbolService
from criptoren.services.unit_of_work import after_commit, now_and_after_commit

PERSISTED_TTL_SECONDS = 10.0  # a stop by another worker is seen within this


@dataclass(frozen=True, slots=True)
class MonitorState:
    """A monitored symbol and its live snapshot."""

    symbol: str
    monitored: bool
    status: str
    last_price: Decimal | None
    market: Mapping[str, Any] | None


class MonitoringService:
    """Starts and stops watching symbols; the set survives restarts."""

    def __init__(self, symbols: SymbolService, market: MarketWatch, prices: PriceSource) -> None:
        self.symbols = symbols
        self.market = market
        self.prices = prices
        self.persisted: Memo[str, bool] = Memo(PERSISTED_TTL_SECONDS)

    async def monitor(self, session: AsyncSession, symbol: str) -> MonitorState:
        """Validate ``symbol``, persist it as monitored and stream it once that is committed."""
        rules = await self.symbols.rules(session, symbol)
        if self.persisted.get(rules.symbol) is None:  # known monitored: nothing to write
            generation = self.persisted.generation
            await MonitoredSymbolRepository(session).add(rules.symbol)
            after_commit(session, partial(self._persisted, rules.symbol, generation))
        after_commit(session, partial(self.market.watch, [rules.symbol]))
        state = self.state(rules.symbol, rules.status, monitored=True)
        if state.last_price is None:  # not streamed yet
            state = replace(state, last_price=await self.prices.current_price(rules.symbol))
        return state

    async def stop(self, session: AsyncSession, symbol: str) -> MonitorState:
        """Stop monitoring a symbol that no waiting order needs (409 otherwise)."""
        rules = await self.symbols.rules(session, symbol)
        if rules.symbol in await OrderRepository(session).waiting_symbols():
            raise Conflict(f"{rules.symbol} has waiting orders and stays monitored")
        await MonitoredSymbolRepository(session).remove(rules.symbol)
        now_and_after_commit(session, partial(self.persisted.forget, _is(rules.symbol)))
        after_commit(session, partial(self.market.unwatch, [rules.symbol]))
        return self.state(rules.symbol, rules.status, monitored=False)

    async def list(self, session: AsyncSession) -> list[MonitorState]:
        """Every monitored symbol with its snapshot."""
        names = await MonitoredSymbolRepository(session).list()
        return [self.state(name, "", monitored=True) for name in names]

    async def resume(self, session: AsyncSession) -> set[str]:
        """At start-up: watch the persisted set and every symbol with waiting orders."""
        wanted = set(await MonitoredSymbolRepository(session).list())
        wanted |= await OrderRepository(session).waiting_symbols()
        if wanted:
            await self.market.watch(sorted(wanted))
        return wanted

    async def _persisted(self, symbol: str, generation: int) -> None:
        self.persisted.put(symbol, True, generation)

    def state(self, symbol: str, status: str, *, monitored: bool) -> MonitorState:
        """Snapshot of one symbol."""
        return MonitorState(
            symbol=symbol,
            monitored=monitored,
            status=status,
            last_price=self.prices.cached_price(symbol),
            market=self.market.snapshot(symbol),
        )


def _is(symbol: str) -> Callable[[str, bool], bool]:
    return lambda key, _value: key == symbol
