"""Trades recorded by hand (``registrar-compra``/``registrar-venda``) and listed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from criptoren.config import Mode
from criptoren.db import ledger
from criptoren.db.models import Trade
from criptoren.db.repositories import TradeRepository
from criptoren.db.types import utcnow
from criptoren.domain.filters import SymbolRules, check_order
from criptoren.domain.orders import Side, TradeSource
from criptoren.errors import InvalidInput
from criptoren.ports import TradeFollower
from criptoren.services.auth import Principal, require_active_client
from criptoren.services.symbols import SymbolService, normalise_symbol
from criptoren.services.unit_of_work import after_commit


@dataclass(frozen=True, slots=True)
class TradeRequest:
    """A trade executed elsewhere that the client wants on its ledger."""

    client_id: int | None
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal = Decimal(0)
    fee_asset: str | None = None
    order_id: str | None = None


class TradeService:
    """Records and lists trades."""

    def __init__(
        self, symbols: SymbolService, mode: Mode, followers: Sequence[TradeFollower] = ()
    ) -> None:
        self.symbols = symbols
        self.mode = mode
        self.followers = list(followers)

    async def record(
        self, session: AsyncSession, principal: Principal, request: TradeRequest
    ) -> Trade:
        """Validate and store a manual trade; a sale beyond the unreserved holdings is refused."""
        client_id = principal.acting_for(request.client_id)
        await require_active_client(session, client_id)
        rules = await self.symbols.trading_rules(session, request.symbol)
        check_order(rules, request.price, request.quantity)
        fee_asset = (request.fee_asset or rules.quote_asset).strip().upper()
        if fee_asset not in (rules.base_asset, rules.quote_asset) and request.fee:
            raise InvalidInput(
                f"fee asset must be {rules.base_asset} or {rules.quote_asset} for {rules.symbol}"
            )
        if request.side is Side.SELL:
            await ensure_can_sell(session, client_id, rules, request.quantity)
        values = {
            "client_id": client_id,
            "symbol_id": rules.symbol_id,
            "symbol": rules.symbol,
            "type": request.side,
            "price": request.price,
            "quantity": request.quantity,
            "fee": request.fee,
            "fee_asset": fee_asset,
            "order_id": request.order_id,
            "source": TradeSource.MANUAL,
            "mode": self.mode,
            "executed_at": utcnow(),
        }
        trade_id = await ledger.run_in(session, partial(ledger.insert_trade, values=values))
        for follower in self.followers:
            after_commit(
                session, partial(follower.trade_recorded, trade_id, client_id, rules.symbol)
            )
        return Trade(id=trade_id, positioned_order_id=None, **values)

    async def list(
        self,
        session: AsyncSession,
        principal: Principal,
        client_id: int | None = None,
        symbol: str | None = None,
    ) -> Sequence[Trade]:
        """The caller's trades, newest first."""
        clean = normalise_symbol(symbol) if symbol else None
        return await TradeRepository(session).list(principal.scope(client_id), clean)


async def ensure_can_sell(
    session: AsyncSession, client_id: int, rules: SymbolRules, quantity: Decimal
) -> None:
    """Refuse (422) a new sale, recorded or positioned, that would eat reserved holdings."""
    refusal = await ledger.run_in(
        session,
        partial(
            ledger.sale_refusal,
            client_id=client_id,
            rules=rules,
            quantity=quantity,
            count_reserved=True,
        ),
    )
    if refusal is not None:
        raise InvalidInput(refusal, code="insufficient_holdings")
