"""The execution transactions, each one synchronous function over one connection.

The runner hands each to the database in one go (one thread hop on SQLite; back-to-back
round trips on PostgreSQL). A paper fill needs no I/O, so claim, fill, trade row and
``executed`` share one transaction; a live order is claimed in one transaction, sent
outside any, and its outcome recorded in another.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.engine import Connection

from criptoren.db import statements
from criptoren.db.statements import ClaimedOrder
from criptoren.db.types import utcnow
from criptoren.domain.filters import SymbolRules
from criptoren.domain.orders import OrderStatus, Side, TradeSource
from criptoren.domain.positions import held_quantity
from criptoren.engine.broker import (
    AtomicBroker,
    ExecutionRequest,
    Fill,
    OrderRejected,
    execution_request,
)
from criptoren.engine.events import EventKind, OrderEvent
from criptoren.engine.rules_cache import RulesCache
from criptoren.services.ledger import sale_shortfall

log = logging.getLogger(__name__)


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
        inserted = connection.execute(*statements.insert_trade(**trade_values(claimed.order, fill)))
        trade_id = inserted.scalar_one()
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
    """``triggered → executed`` and the trade row, once; ``None`` if already recorded."""
    with connection.begin():
        if not _transition(connection, order, OrderStatus.EXECUTED):
            return None  # recorded by someone else (reconciler): never a second trade
        inserted = connection.execute(*statements.insert_trade(**trade_values(order, fill)))
        trade_id = inserted.scalar_one()
        connection.execute(
            *statements.transition(
                order.id,
                OrderStatus.EXECUTED,
                OrderStatus.EXECUTED,
                utcnow(),
                executed_trade_id=trade_id,
            )
        )
        return executed_event(order, trade_id, fill)


def record_rejection(connection: Connection, order: ClaimedOrder, reason: str) -> OrderEvent | None:
    """``triggered → failed`` with the venue's reason; ``None`` if no longer triggered."""
    with connection.begin():
        return _fail(connection, order, reason)


def _claim(
    connection: Connection, order_id: int, trigger: tuple[Decimal, int], rules: RulesCache
) -> Claim | OrderEvent | None:
    row = connection.execute(
        *statements.claim_order(order_id, OrderStatus.TRIGGERED, utcnow())
    ).first()
    if row is None:
        return None  # another engine, or a cancel, won the compare-and-set
    order = ClaimedOrder(*row)
    symbol_rules = rules.get_sync(connection, order.symbol)
    reason = _refusal(connection, order, symbol_rules)
    if reason is not None:
        return _fail(connection, order, reason)
    assert symbol_rules is not None  # an unknown symbol is a refusal
    return Claim(order, execution_request(order, symbol_rules, *trigger))


def _transition(
    connection: Connection, order: ClaimedOrder, new: OrderStatus, **changes: object
) -> bool:
    bound = statements.transition(order.id, OrderStatus.TRIGGERED, new, utcnow(), **changes)
    return bool(connection.execute(*bound).rowcount == 1)


def _fail(connection: Connection, order: ClaimedOrder, reason: str) -> OrderEvent | None:
    if not _transition(connection, order, OrderStatus.FAILED, failure_reason=reason[:500]):
        return None
    log.warning("order %s failed: %s", order.id, reason)
    return failed_event(order, reason)


def _refusal(connection: Connection, order: ClaimedOrder, rules: SymbolRules | None) -> str | None:
    if rules is None:
        return f"symbol {order.symbol} is no longer known"
    if order.type != Side.SELL.value:
        return None
    connection.execute(*statements.lock_client(order.client_id))
    rows = connection.execute(*statements.trade_facts(order.client_id, order.symbol))
    held = held_quantity(statements.to_trade_fact(row, rules.base_asset) for row in rows)
    return sale_shortfall(order.quantity, held, rules.base_asset)


def trade_values(order: ClaimedOrder, fill: Fill) -> dict[str, object]:
    """The trade row of a filled order."""
    return {
        "client_id": order.client_id,
        "symbol": order.symbol,
        "type": order.type,
        "price": fill.price,
        "quantity": fill.quantity,
        "fee": fill.fee,
        "fee_asset": fill.fee_asset,
        "order_id": fill.exchange_order_id,
        "positioned_order_id": order.id,
        "source": TradeSource.ENGINE.value,
        "mode": fill.mode.value,
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
