"""Executes one fired order exactly once: the database's compare-and-set arbitrates.

An atomic broker (paper) fills inside the claiming transaction: claim, fill, trade row and
``executed`` commit together or not at all. A broker with I/O (live) cannot: the claim is
committed first (``triggered``), the venue is called outside any transaction, and the
outcome is recorded in a second transaction; an unknown outcome leaves the order
``triggered`` for the reconciler. The transactions themselves are in ``transactions.py``.
The executor publishes each committed step (``triggered``, then ``executed``/``failed``)
and logs one line per outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from criptoren.db.session import TransactionRunner
from criptoren.engine.broker import AtomicBroker, Broker, OrderRejected, OutcomeUnknown
from criptoren.engine.events import EventBus, EventKind, OrderEvent
from criptoren.engine.rules_cache import RulesCache
from criptoren.engine.transactions import (
    Claim,
    claim_for_venue,
    execute_atomically,
    record_fill,
    record_rejection,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TriggerTick:
    """The trade that fired an order."""

    symbol: str
    agg_id: int
    price: Decimal
    trade_time_ms: int


class Executor:
    """Turns a fired order into a trade exactly once."""

    def __init__(self, broker: Broker, runner: TransactionRunner, bus: EventBus) -> None:
        self.broker = broker
        self.runner = runner
        self.bus = bus
        self.rules = RulesCache()
        self.on_unknown: Callable[[], None] = _nothing
        self._atomic: AtomicBroker | None = None
        if broker.atomic and isinstance(broker, AtomicBroker):
            self._atomic = broker

    async def execute(self, order_id: int, tick: TriggerTick) -> OrderEvent | None:
        """Claim and fill ``order_id``; ``None`` if someone else got it first, or while unknown."""
        trigger = (tick.price, tick.trade_time_ms)
        if self._atomic is not None:
            event = await self.runner.run(
                partial(
                    execute_atomically,
                    order_id=order_id,
                    trigger=trigger,
                    broker=self._atomic,
                    rules=self.rules,
                )
            )
            if event is not None:
                self._triggered(event.order_id, event.client_id, event.symbol, event.side, tick)
            return self._outcome(event)
        claimed = await self.runner.run(
            partial(claim_for_venue, order_id=order_id, trigger=trigger, rules=self.rules)
        )
        if claimed is None:
            return None
        if not isinstance(claimed, Claim):  # refused as it was claimed
            self._triggered(claimed.order_id, claimed.client_id, claimed.symbol, claimed.side, tick)
            return self._outcome(claimed)
        order = claimed.order
        self._triggered(order.id, order.client_id, order.symbol, order.type, tick)
        try:
            return await self.settle(claimed, resend=True)
        except Exception:
            self.on_unknown()  # sent, maybe filled, not recorded: the reconciler finds out
            raise

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
            return self._outcome(
                await self.runner.run(partial(record_rejection, order=claim.order, reason=str(exc)))
            )
        except OutcomeUnknown as exc:
            log.warning("order %s: outcome unknown (%s); reconciling", claim.order.id, exc)
            self.on_unknown()
            return None
        return self._outcome(
            await self.runner.run(partial(record_fill, order=claim.order, fill=fill))
        )

    def _triggered(
        self, order_id: int, client_id: int, symbol: str, side: str, tick: TriggerTick
    ) -> None:
        self.bus.publish(
            OrderEvent(EventKind.TRIGGERED, order_id, client_id, symbol, side, price=tick.price)
        )

    def _outcome(self, event: OrderEvent | None) -> OrderEvent | None:
        """Log and publish a committed outcome."""
        if event is None:
            return None
        if event.kind is EventKind.EXECUTED:
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
