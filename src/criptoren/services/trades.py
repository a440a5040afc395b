"""Trades recorded by hand (``registrar-compra``/``registrar-venda``) and listed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection

from criptoren.config import Mode
from criptoren.db import ledger
from criptoren.db.models import Trade
from criptoren.db.repositories import TradeRepository, TradeRow
from criptoren.db.single_statement import insert_trade_alone
from criptoren.db.types import utcnow
from criptoren.domain.audit import AuditEntry
from criptoren.domain.filters import SymbolRules, check_order
from criptoren.domain.orders import Side, TradeSource
from criptoren.domain.paging import EVERYTHING, Page
from criptoren.domain.positions import ZERO, trade_fact
from criptoren.errors import InvalidInput
from criptoren.ports import TradeFollower
from criptoren.services.auth import Principal, require_active_client
from criptoren.services.symbols import SymbolService, normalise_symbol
from criptoren.services.unit_of_work import UnitOfWork


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


TRADE_FIELDS = ("symbol", "type", "price", "quantity", "fee", "fee_asset", "order_id", "source")


class TradeService:
    """Records and lists trades."""

    def __init__(
        self, symbols: SymbolService, mode: Mode, followers: Sequence[TradeFollower] = ()
    ) -> None:
        self.symbols = symbols
        self.mode = mode
        self.followers = list(followers)

    async def record(
        self, work: UnitOfWork, principal: Principal, request: TradeRequest
    ) -> TradeRow:
        """Validate and store a manual trade; a sale beyond the unreserved holdings is refused."""
        client_id = principal.acting_for(request.client_id)
        await require_active_client(work.read, principal, client_id)
        rules = await self.symbols.trading_rules(work.read, request.symbol)
        check_order(rules, request.price, request.quantity)
        fee_asset = (request.fee_asset or rules.quote_asset).strip().upper()
        if fee_asset not in (rules.base_asset, rules.quote_asset) and request.fee:
            raise InvalidInput(
                f"fee asset must be {rules.base_asset} or {rules.quote_asset} for {rules.symbol}"
            )
        values: dict[str, Any] = {
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
        trade_id = await work.write(*_writes(work, rules, values, principal.actor))
        for follower in self.followers:
            work.after_commit(partial(follower.trade_recorded, trade_id, client_id, rules.symbol))
        return TradeRow(id=trade_id, positioned_order_id=None, **values)

    async def list(
        self,
        work: UnitOfWork,
        principal: Principal,
        client_id: int | None = None,
        symbol: str | None = None,
        page: Page = EVERYTHING,
    ) -> Sequence[Trade]:
        """The caller's trades, newest first, optionally paged."""
        clean = normalise_symbol(symbol) if symbol else None
        trades = TradeRepository(work.session)
        return await trades.list(principal.scope(client_id), clean, page=page)


def _writes(
    work: UnitOfWork, rules: SymbolRules, values: dict[str, Any], actor: str
) -> tuple[Callable[[Connection], int], Callable[[Connection], int | None] | None]:
    """The trade's write as a transaction, and as one statement unless it is a sale (checked
    against the holdings first, in the transaction)."""

    def entry_of(trade_id: int) -> AuditEntry:
        return work.stamped(_recorded(trade_id, actor, values))

    def audit(trade_id: int) -> None:
        work.record(entry_of(trade_id))

    store = partial(_store, rules=rules, values=values, audit=audit)
    if values["type"] is Side.SELL:
        return store, None
    return store, partial(insert_trade_alone, values=values, entry_of=entry_of)


def _store(
    connection: Connection,
    rules: SymbolRules,
    values: dict[str, Any],
    audit: Callable[[int], None],
) -> int:
    if values["type"] is Side.SELL:
        sale = trade_fact(
            Side.SELL, values["price"], values["quantity"], values["fee"] or ZERO,
            values["fee_asset"], rules.base_asset, rules.quote_asset,
        )  # fmt: skip
        refuse_sale(connection, values["client_id"], rules, sale.quantity, sale.base_fee)
    trade_id = ledger.insert_trade(connection, values)
    audit(trade_id)
    return trade_id


def _recorded(trade_id: int, actor: str, values: dict[str, Any]) -> AuditEntry:
    data = {key: values[key] for key in TRADE_FIELDS}
    return AuditEntry(actor, "trade.recorded", "trade", trade_id, data, values["client_id"])


def refuse_sale(
    connection: Connection,
    client_id: int,
    rules: SymbolRules,
    quantity: Decimal,
    base_fee: Decimal = ZERO,
) -> None:
    """Refuse (422) a new sale, recorded or positioned, that would eat reserved holdings (or
    more than is held, with its fee when that is paid in the base asset)."""
    refusal = ledger.sale_refusal(
        connection, client_id, rules, quantity, count_reserved=True, base_fee=base_fee
    )
    if refusal is not None:
        raise InvalidInput(refusal, code="insufficient_holdings")
