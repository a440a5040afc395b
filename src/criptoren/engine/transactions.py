"""The execution transactions, each one synchronous function over one connection.

The runner hands each to the database in one go (one thread hop on SQLite; back-to-back
round trips on PostgreSQL). A paper fill needs no I/O, so claim, fill, trade row and
``executed`` share one transaction; a live order is claimed in one transaction, sent
outside any, and its outcome recorded in another. The statements are the ledger's.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from criptoren.db import ledger
from criptoren.db.ledger import ClaimedOrder
from criptoren.db.types import utcnow
from criptoren.domain.filters import SymbolRules
from criptoren.domain.orders import OrderStatus, Side, TradeSource
from criptoren.engine.broker import (
    AtomicBroker,
    ExecutionRequest,
    Fill,
    OrderRejected,
    execution_request,
)
from criptoren.engine.events import EventKind, OrderEvent
from criptoren.engine.rules_cache import RulesCache


@dataclass(frozen=True, slots=True)
class Claim:
    """An order held in ``triggered``, and what its broker call needs."""

    order: ClaimedOrder
    request: ExecutionRequest


def execute_atomically(
    connection: Connection,
    order_id: int,
    trigger: tuple[Decimal, int],
    broker: AtomicBroker,
    rules: RulesCache,
) -> OrderEvent | None:
    """Claim ``order_id`` and fill it at ``trigger`` (price, trade time), all or nothing.

    ``None`` when someone else (another engine, a cancel) claimed the order first.
    """
    with connection.begin():
        claimed = _claim(connection, order_id, trigger, rules)
        if not isinstance(claimed, Claim):
            return claimed
        try:
            fill = broker.fill(claimed.request)
        except OrderRejected as exc:
            return _fail(connection, claimed.order, str(exc))
        trade_id = ledger.insert_trade(connection, trade_values(claimed.order, fill))
        # claimed in this very transaction: the compare-and-set cannot be lost here
        _transition(connection, claimed.order, OrderStatus.EXECUTED, executed_trade_id=trade_id)
        return executed_event(claimed.order, trade_id, fill)


def claim_for_venue(
    connection: Connection, order_id: int, trigger: tuple[Decimal, int], rules: RulesCache
) -> Claim | OrderEvent | None:
    """Commit ``waiting → triggered`` before the venue is called (an event if refused)."""
    with connection.begin():
        return _claim(connection, order_id, trigger, rules)


def record_fill(connection: Connection, order: ClaimedOrder, fill: Fill) -> OrderEvent | None:
    """The trade row and ``triggered → executed``, once; ``None`` if already recorded."""
    try:
        with connection.begin() as transaction:
            trade_id = ledger.insert_trade(connection, trade_values(order, fill))
            if not _transition(connection, order, OrderStatus.EXECUTED, executed_trade_id=trade_id):
                transaction.rollback()  # settled by someone else: never a second trade
                return None
            return executed_event(order, trade_id, fill)
    except IntegrityError:
        # trades.positioned_order_id is unique: the reconciler (or the executor) wrote it first
        return None


def record_rejection(connection: Connection, order: ClaimedOrder, reason: str) -> OrderEvent | None:
    """``triggered → failed`` with the venue's reason; ``None`` if no longer triggered."""
    with connection.begin():
        return _fail(connection, order, reason)


def _claim(
    connection: Connection, order_id: int, trigger: tuple[Decimal, int], rules: RulesCache
) -> Claim | OrderEvent | None:
    order = ledger.claim(connection, order_id)
    if order is None:
        return None  # another engine, or a cancel, won the compare-and-set
    symbol_rules = rules.get_sync(connection, order.symbol)
    reason = _refusal(connection, order, symbol_rules)
    if reason is not None:
        return _fail(connection, order, reason)
    assert symbol_rules is not None  # an unknown symbol is a refusal
    return Claim(order, execution_request(order, symbol_rules, *trigger))


def _transition(
    connection: Connection, order: ClaimedOrder, new: OrderStatus, **changes: object
) -> bool:
    return ledger.transition(connection, order.id, OrderStatus.TRIGGERED, new, **changes)


def _fail(connection: Connection, order: ClaimedOrder, reason: str) -> OrderEvent | None:
    if not _transition(connection, order, OrderStatus.FAILED, failure_reason=reason[:500]):
        return None
    return failed_event(order, reason)


def _refusal(connection: Connection, order: ClaimedOrder, rules: SymbolRules | None) -> str | None:
    if rules is None:
        return f"symbol {order.symbol} is no longer known"
    if order.type is not Side.SELL:
        return None
    # the order's own reservation covers it: only the holdings themselves can fall short
    return ledger.sale_refusal(
        connection, order.client_id, rules, order.quantity, count_reserved=False
    )


def trade_values(order: ClaimedOrder, fill: Fill) -> dict[str, object]:
    """The trade row of a filled order."""
    return {
        "client_id": order.client_id,
        "symbol_id": order.symbol_id,
        "symbol": order.symbol,
        "type": order.type,
        "price": fill.price,
        "quantity": fill.quantity,
        "fee": fill.fee,
        "fee_asset": fill.fee_asset,
        "order_id": fill.exchange_order_id,
        "positioned_order_id": order.id,
        "source": TradeSource.ENGINE,
        "mode": fill.mode,
        "executed_at": utcnow(),
    }


def executed_event(order: ClaimedOrder, trade_id: int, fill: Fill) -> OrderEvent:
    """The ``executed`` event of a recorded fill."""
    return OrderEvent(
        EventKind.EXECUTED,
        order.id,
        order.client_id,
        order.symbol,
        order.type,
        trade_id=trade_id,
        price=fill.price,
    )


def failed_event(order: ClaimedOrder, reason: str) -> OrderEvent:
    """The ``failed`` event of an order that will never execute."""
    return OrderEvent(
        EventKind.FAILED, order.id, order.client_id, order.symbol, order.type, reason=reason
    )
