"""The execution transactions, each one synchronous function over one connection.

The runner hands each to the database in one go (one thread hop on SQLite; back-to-back
round trips on PostgreSQL). Fired orders go in batches (what is queued, never waiting
for more): one statement claims the batch, so each order is still claimed exactly once
whatever crashes or races (another engine, a cancel). A paper fill needs no I/O, so claim,
fills, trade rows and ``executed`` share one transaction: its orders are locked while still
``waiting`` and each changes once, to ``executed`` (``db/fills.py``); live orders are
claimed (``triggered``) in one transaction, sent outside any, and each outcome recorded in
its own. The statements are the ledger's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from criptoren.db import audit, ledger
from criptoren.db import fills as fills_db
from criptoren.db.ledger import ClaimedOrder
from criptoren.db.types import utcnow
from criptoren.domain.filters import SymbolRules
from criptoren.domain.orders import OrderStatus, Side, TradeSource
from criptoren.domain.positions import TradeFact, trade_fact
from criptoren.engine import audit_steps
from criptoren.engine.broker import (
    AtomicBroker,
    ExecutionRequest,
    Fill,
    OrderRejected,
    execution_request,
)
from criptoren.engine.events import EventKind, OrderEvent
from criptoren.engine.notices import notify
from criptoren.engine.rules_cache import RulesCache

Trigger = tuple[Decimal, int]
"""The price and trade time (ms) of the trade that fired an order."""


@dataclass(frozen=True, slots=True)
class Claim:
    """An order held in ``triggered``, and what its broker call needs."""

    order: ClaimedOrder
    request: ExecutionRequest


def execute_batch(
    connection: Connection,
    triggers: Mapping[int, Trigger],
    broker: AtomicBroker,
    rules: RulesCache,
) -> list[OrderEvent]:
    """Claim the orders of ``triggers`` and fill each at its own trigger, all or nothing.

    ``triggers`` is in firing order (trade by trade, each trade's orders by id). One
    transaction: one claim statement, then, in that order, each order is filled or
    refused (a sell whose holdings are gone fails with the reason, the rest go on), then
    every trade row and every status change. The outcomes come back in that order; orders
    someone else claimed first (another engine, a cancel) have none.
    """
    with connection.begin():
        claims, events = _claim_batch(connection, triggers, rules, broker)
        trades = [trade_values(claim.order, fill) for claim, fill in claims if fill is not None]
        # locked in this very transaction: each order changes once, ``waiting → executed``
        executed = list(zip(claims, fills_db.record_fills(connection, trades), strict=True))
        fills = {}
        for (claim, fill), trade_id in executed:
            assert fill is not None  # an atomic broker filled every order it kept
            events[claim.order.id] = executed_event(claim.order, trade_id, fill)
            fills[claim.order.id] = fill
        audit.append(connection, audit_steps.batch(triggers, events, fills))
        outcomes = [events[order_id] for order_id in triggers if order_id in events]
        fired_at = {event.order_id: triggers[event.order_id][0] for event in outcomes}
        notify(connection, outcomes, fired_at)  # the outbox, in the same transaction
    return outcomes


def claim_batch_for_venue(
    connection: Connection, triggers: Mapping[int, Trigger], rules: RulesCache
) -> list[Claim | OrderEvent]:
    """Commit ``waiting → triggered`` of a batch before the venue is called, in firing order.

    An order refused as it is claimed comes back as its ``failed`` event.
    """
    with connection.begin():
        claims, events = _claim_batch(connection, triggers, rules, None)
        claimed = {c.order.id: (c.order.client_id, c.order.symbol) for c, _ in claims}
        audit.append(connection, audit_steps.venue_claims(triggers, claimed, events))
        # sent to the venue next: their ``triggered`` step now, their outcome when known
        steps = [_triggered_claim(c, triggers[c.order.id][0]) for c, _ in claims]
        fired_at = {order_id: triggers[order_id][0] for order_id in events}
        notify(connection, steps + list(events.values()), fired_at)
    outcomes: dict[int, Claim | OrderEvent] = {c.order.id: c for c, _ in claims}
    outcomes |= events
    return [outcomes[order_id] for order_id in triggers if order_id in outcomes]


def _claim_batch(
    connection: Connection,
    triggers: Mapping[int, Trigger],
    rules: RulesCache,
    broker: AtomicBroker | None,
) -> tuple[list[tuple[Claim, Fill | None]], dict[int, OrderEvent]]:
    """Claim, then decide each order in firing order: filled (or to be sent), or failed.

    Failed orders are transitioned here; the rest are returned with their fill (atomic
    broker) or ``None`` (to be sent to the venue). Holdings follow the earlier decisions.
    """
    # paper: locked, settled below in one change; live: ``triggered``, committed before sending
    paper = broker is not None
    claimed = (fills_db.lock_waiting if paper else ledger.claim_batch)(connection, list(triggers))
    sellers = [order.client_id for order in claimed if order.type is Side.SELL]
    holdings = ledger.BatchHoldings(connection, sellers)
    kept: list[tuple[Claim, Fill | None]] = []
    failed: dict[int, tuple[ClaimedOrder, str]] = {}
    for order in claimed:
        decided = _decide(connection, order, triggers[order.id], rules, holdings, broker)
        if isinstance(decided, str):
            failed[order.id] = (order, decided)
        else:
            kept.append(decided)
    changes: list[dict[str, object]] = [
        {"order_id": oid, "failure_reason": why[:500]} for oid, (_, why) in failed.items()
    ]
    if paper:  # still ``waiting``: it fails as it is triggered
        changes = [change | {"triggered_at": utcnow()} for change in changes]
    was = OrderStatus.WAITING if paper else OrderStatus.TRIGGERED
    ledger.transition_many(connection, was, OrderStatus.FAILED, changes)
    return kept, {oid: failed_event(order, why) for oid, (order, why) in failed.items()}


def _decide(
    connection: Connection,
    order: ClaimedOrder,
    trigger: Trigger,
    rules: RulesCache,
    holdings: ledger.BatchHoldings,
    broker: AtomicBroker | None,
) -> tuple[Claim, Fill | None] | str:
    """The claim (and its fill) of one order of a batch, or why it fails."""
    symbol_rules = rules.get_sync(connection, order.symbol)
    if symbol_rules is None:
        return f"symbol {order.symbol} is no longer known"
    if order.type is Side.SELL:
        # its own reservation covers it: only the holdings themselves can fall short
        reason = holdings.refusal(order.client_id, symbol_rules, order.quantity)
        if reason is not None:
            return reason
    claim = Claim(order, execution_request(order, symbol_rules, *trigger))
    fill = None
    if broker is not None:
        try:
            fill = broker.fill(claim.request)
        except OrderRejected as exc:
            return str(exc)
    if order.client_id in holdings.sellers:  # a later sell of the batch counts this order
        holdings.apply(order.client_id, symbol_rules, _fact(order, symbol_rules, fill))
    return claim, fill


def _fact(order: ClaimedOrder, rules: SymbolRules, fill: Fill | None) -> TradeFact:
    """What an order does to its client's holdings: its fill, or (sent to the venue) its sale."""
    if fill is None:  # a live buy adds nothing until it is filled; a live sell takes its quantity
        quantity = order.quantity if order.type is Side.SELL else Decimal(0)
        return trade_fact(order.type, order.target_price, quantity, Decimal(0), None, None, None)
    return trade_fact(
        order.type,
        fill.price,
        fill.quantity,
        fill.fee,
        fill.fee_asset,
        rules.base_asset,
        rules.quote_asset,
    )


def record_fill(
    connection: Connection, order: ClaimedOrder, fill: Fill, reconciled: bool = False
) -> OrderEvent | None:
    """The trade row and ``triggered → executed``, once; ``None`` if already recorded."""
    try:
        with connection.begin() as transaction:
            trade_id = ledger.insert_trade(connection, trade_values(order, fill))
            if not _transition(connection, order, OrderStatus.EXECUTED, executed_trade_id=trade_id):
                transaction.rollback()  # settled by someone else: never a second trade
                return None
            event = executed_event(order, trade_id, fill)
            audit.append(connection, [audit_steps.outcome(event, fill, reconciled=reconciled)])
            notify(connection, [event])
            return event
    except IntegrityError:
        # trades.positioned_order_id is unique: the reconciler (or the executor) wrote it first
        return None


def record_rejection(
    connection: Connection, order: ClaimedOrder, reason: str, reconciled: bool = False
) -> OrderEvent | None:
    """``triggered → failed`` with the venue's reason; ``None`` if no longer triggered."""
    with connection.begin():
        event = _fail(connection, order, reason)
        if event is not None:
            audit.append(connection, [audit_steps.outcome(event, None, reconciled=reconciled)])
        return event


def _transition(
    connection: Connection, order: ClaimedOrder, new: OrderStatus, **changes: object
) -> bool:
    return ledger.transition(connection, order.id, OrderStatus.TRIGGERED, new, **changes)


def _fail(connection: Connection, order: ClaimedOrder, reason: str) -> OrderEvent | None:
    if not _transition(connection, order, OrderStatus.FAILED, failure_reason=reason[:500]):
        return None
    event = failed_event(order, reason)
    notify(connection, [event])
    return event


def _triggered_claim(claim: Claim, price: Decimal) -> OrderEvent:
    order = claim.order
    return OrderEvent(
        EventKind.TRIGGERED, order.id, order.client_id, order.symbol, order.type, price=price
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
