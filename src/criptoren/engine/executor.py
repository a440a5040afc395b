"""Executes fired orders exactly once, in batches: the database's compare-and-set arbitrates.

An atomic broker (paper) fills inside the claiming transaction: claim, fills, trade rows
and ``executed`` of a whole batch commit together or not at all. A broker with I/O (live)
cannot: the batch's claim is committed first (``triggered``), each order is sent to the
venue outside any transaction (concurrently, one exchange order per positioned order),
and each outcome is recorded in a transaction of its own; an unknown outcome leaves its
order ``triggered`` for the reconciler. The transactions themselves are in ``transactions.py``.
The executor publishes each committed step (``triggered``, then ``executed``/``failed``)
and logs one line per outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from criptoren import metrics
from criptoren.db.ledger import ClaimedOrder
from criptoren.db.session import TransactionRunner
from criptoren.engine.broker import AtomicBroker, Broker, OrderRejected, OutcomeUnknown
from criptoren.engine.events import EventBus, EventKind, OrderEvent
from criptoren.engine.rules_cache import RulesCache
from criptoren.engine.transactions import (
    Claim,
    claim_batch_for_venue,
    execute_batch,
    record_fill,
    record_rejection,
)

log = logging.getLogger(__name__)
# exchange orders awaiting their reply at once (connections of the transport's pool);
# the request weight they cost is paced by the transport itself
MAX_IN_FLIGHT = 32


@dataclass(frozen=True, slots=True)
class TriggerTick:
    """The trade that fired an order."""

    symbol: str
    agg_id: int
    price: Decimal
    trade_time_ms: int


class Executor:
    """Turns a fired order into a trade exactly once."""

    def __init__(
        self,
        broker: Broker,
        runner: TransactionRunner,
        bus: EventBus,
        *,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.broker = broker
        self.runner = runner
        self.bus = bus
        self.rules = RulesCache()
        self.on_unknown: Callable[[], None] = _nothing
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._atomic: AtomicBroker | None = None
        if broker.atomic and isinstance(broker, AtomicBroker):
            self._atomic = broker

    async def execute(self, order_id: int, tick: TriggerTick) -> OrderEvent | None:
        """Claim and fill one order: a batch of one (``None`` if lost, or while unknown)."""
        events = await self.execute_batch([(order_id, tick)])
        return events[0] if events else None

    async def execute_batch(self, fired: Sequence[tuple[int, TriggerTick]]) -> list[OrderEvent]:
        """Claim and fill a batch of fired orders (in firing order); the outcomes known now.

        Paper: one transaction. Live: one claiming transaction, then one exchange order
        per positioned order, sent concurrently (the transport paces them by weight).
        Each order gets its own ``triggered`` and outcome events, as if executed alone.
        """
        ticks = dict(fired)
        triggers = {order_id: (t.price, t.trade_time_ms) for order_id, t in fired}
        if self._atomic is not None:
            run = partial(execute_batch, triggers=triggers, broker=self._atomic, rules=self.rules)
            events = await self.runner.run(run)
            for event in events:
                self._triggered(event, ticks[event.order_id])
                self._outcome(event)
                _committed_after(ticks[event.order_id])
            return events
        claimed = await self.runner.run(
            partial(claim_batch_for_venue, triggers=triggers, rules=self.rules)
        )
        known: list[OrderEvent | None] = []
        claims = []
        for outcome in claimed:
            if isinstance(outcome, Claim):
                self._triggered(outcome.order, ticks[outcome.order.id])
                claims.append(outcome)
            else:  # refused as it was claimed
                self._triggered(outcome, ticks[outcome.order_id])
                known.append(self._outcome(outcome))
                _committed_after(ticks[outcome.order_id])
        known += await asyncio.gather(
            *(self._send(claim, ticks[claim.order.id]) for claim in claims)
        )
        return [event for event in known if event is not None]

    async def _send(self, claim: Claim, tick: TriggerTick) -> OrderEvent | None:
        """One claimed order to the venue (a bounded number at once)."""
        async with self._in_flight:
            try:
                event = await self.settle(claim, resend=True)
                if event is not None:
                    _committed_after(tick)
                return event
            except Exception:  # sent, maybe filled, not recorded: the reconciler finds out
                log.exception("order %s: sending or recording failed", claim.order.id)
                self.on_unknown()
                return None

    async def settle(self, claim: Claim, *, resend: bool) -> OrderEvent | None:
        """Send (or look up) a claimed order and record the outcome; ``None`` while unknown."""
        try:
            if resend:
                fill = await self.broker.execute(claim.request)
            else:
                found = await self.broker.lookup(claim.request)
                if found is None:  # it never reached the venue: send it, same client id
                    return await self.settle(claim, resend=True)
                fill = found
        except OrderRejected as exc:
            rejected = partial(
                record_rejection, order=claim.order, reason=str(exc), reconciled=not resend
            )
            return self._outcome(await self.runner.run(rejected))
        except OutcomeUnknown as exc:
            log.warning("order %s: outcome unknown (%s); reconciling", claim.order.id, exc)
            self.on_unknown()
            return None
        filled = partial(record_fill, order=claim.order, fill=fill, reconciled=not resend)
        return self._outcome(await self.runner.run(filled))

    def _triggered(self, order: OrderEvent | ClaimedOrder, tick: TriggerTick) -> None:
        if isinstance(order, OrderEvent):
            order_id, client_id, side = order.order_id, order.client_id, order.side
        else:
            order_id, client_id, side = order.id, order.client_id, order.type
        event = OrderEvent(
            EventKind.TRIGGERED, order_id, client_id, tick.symbol, side, price=tick.price
        )
        self.bus.publish(event)

    def _outcome(self, event: OrderEvent | None) -> OrderEvent | None:
        """Log and publish a committed outcome."""
        if event is None:
            return None
        if event.kind is EventKind.EXECUTED:
            metrics.EXECUTED.inc()
            log.info(
                "order %s executed: client %s %s %s at %s (trade %s)",
                event.order_id,
                event.client_id,
                event.side,
                event.symbol,
                event.price,
                event.trade_id,
            )
        else:
            metrics.FAILED.inc()
            log.info(
                "order %s failed: client %s %s %s: %s",
                event.order_id,
                event.client_id,
                event.side,
                event.symbol,
                event.reason,
            )
        self.bus.publish(event)
        return event


def _nothing() -> None:
    return None


def _committed_after(tick: TriggerTick) -> None:
    """Observe the time from the crossing trade (exchange clock) to the outcome's commit."""
    metrics.TICK_TO_COMMIT.observe(max(0.0, time.time() - tick.trade_time_ms / 1000))
