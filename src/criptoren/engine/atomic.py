"""The paper execution transaction as one synchronous function.

Claim, holdings check, fill, trade row and ``executed`` run inside a single transaction on
one connection, so the runner can hand the whole of it to the database in one go (one
thread hop on SQLite; back-to-back round trips on PostgreSQL).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.engine import Connection

from criptoren.db import statements
from criptoren.db.statements import ClaimedOrder
from criptoren.db.types import utcnow
from criptoren.domain.filters import SymbolRules
from criptoren.domain.orders import OrderStatus, Side, TradeSource
from criptoren.domain.positions import held_quantity
from criptoren.engine.broker import AtomicBroker, Fill, OrderRejected, execution_request
from criptoren.engine.events import EventKind, OrderEvent
from criptoren.engine.rules_cache import RulesCache
from criptoren.services.ledger import sale_shortfall


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
        row = connection.execute(
            *statements.claim_order(order_id, OrderStatus.TRIGGERED, utcnow())
        ).first()
        if row is None:
            return None
        order = ClaimedOrder(*row)
        symbol_rules = rules.get_sync(connection, order.symbol)
        reason = _refusal(connection, order, symbol_rules)
        if reason is None:
            assert symbol_rules is not None  # an unknown symbol is a refusal
            try:
                fill = broker.fill(execution_request(order, symbol_rules, *trigger))
            except OrderRejected as exc:
                reason = str(exc)
            else:
                return _record(connection, order, fill)
        connection.execute(
            *statements.transition(
                order.id,
                OrderStatus.TRIGGERED,
                OrderStatus.FAILED,
                utcnow(),
                failure_reason=reason[:500],
            )
        )
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


def _record(connection: Connection, order: ClaimedOrder, fill: Fill) -> OrderEvent:
    trade_id = connection.execute(
        *statements.insert_trade(**trade_values(order, fill))
    ).scalar_one()
    connection.execute(
        *statements.transition(
            order.id,
            OrderStatus.TRIGGERED,
            OrderStatus.EXECUTED,
            utcnow(),
            executed_trade_id=trade_id,
        )
    )
    return executed_event(order, trade_id, fill)


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
