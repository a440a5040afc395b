"""Positions and P&L per client and symbol, recomputed from the trades."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from criptoren.db.ledger import to_fact
from criptoren.db.repositories import SymbolRepository, TradeRepository
from criptoren.domain.filters import SymbolRules
from criptoren.domain.money import QUANTUM
from criptoren.domain.positions import Position, TradeFact, position_from_trades
from criptoren.ports import PriceSource
from criptoren.services.auth import Principal


@dataclass(frozen=True, slots=True)
class PositionView:
    """One symbol's position as a client sees it."""

    client_id: int
    symbol: str
    quantity: Decimal
    average_cost: Decimal
    cost_basis: Decimal
    realized_pnl: Decimal
    last_price: Decimal | None
    unrealized_pnl: Decimal | None


class PositionService:
    """Derives positions from trades (so they can always be recomputed)."""

    def __init__(self, prices: PriceSource) -> None:
        self.prices = prices

    async def list(
        self, session: AsyncSession, principal: Principal, client_id: int | None = None
    ) -> list[PositionView]:
        """Every (client, symbol) position the caller may see."""
        trades = await TradeRepository(session).list(principal.scope(client_id), oldest_first=True)
        symbols = SymbolRepository(session)
        grouped: dict[tuple[int, str], list[TradeFact]] = defaultdict(list)
        rules: dict[str, SymbolRules | None] = {}
        for trade in trades:
            if trade.symbol not in rules:
                rules[trade.symbol] = await symbols.get(trade.symbol)
            row = (trade.type, trade.price, trade.quantity, trade.fee, trade.fee_asset)
            grouped[(trade.client_id, trade.symbol)].append(to_fact(row, rules[trade.symbol]))
        return [self._view(cid, sym, position_from_trades(f)) for (cid, sym), f in grouped.items()]

    async def of(self, session: AsyncSession, client_id: int, symbol: str) -> PositionView | None:
        """One client's position in one symbol (``None`` before its first trade)."""
        trades = await TradeRepository(session).list(client_id, symbol, oldest_first=True)
        if not trades:
            return None
        rules = await SymbolRepository(session).get(symbol)
        facts = [to_fact((t.type, t.price, t.quantity, t.fee, t.fee_asset), rules) for t in trades]
        return self._view(client_id, symbol, position_from_trades(facts))

    def _view(self, client_id: int, symbol: str, position: Position) -> PositionView:
        last = self.prices.cached_price(symbol)
        return PositionView(
            client_id=client_id,
            symbol=symbol,
            quantity=position.quantity.quantize(QUANTUM),
            average_cost=position.average_cost.quantize(QUANTUM),
            cost_basis=position.cost_basis.quantize(QUANTUM),
            realized_pnl=position.realized_pnl.quantize(QUANTUM),
            last_price=last,
            unrealized_pnl=position.unrealized_pnl(last).quantize(QUANTUM) if last else None,
        )
