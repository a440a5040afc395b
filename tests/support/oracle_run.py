"""Drive a recorded session through the fake exchange in segments, and read the ledger back.

Helpers of ``tests/integration/test_oracle.py``: the recording, the orders to place, a
price-book listener that tells when the engine has seen a trade, and the ledger as the
oracle (``tests/support/oracle.py``) sees it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from criptoren.db.models import PositionedOrder, Trade
from criptoren.engine.trigger_engine import epoch_ms
from criptoren.fake_exchange.records import AggRecord, read_session
from criptoren.market.feed import BinanceFeed
from criptoren.market.schemas import AggTrade
from tests.support.harness import Harness
from tests.support.oracle import OracleOrder, OracleTrade
from tests.support.paths import shared_data

SYMBOL = "BTCUSDT"
RECORDING = "btcusdt_trade_stream_2024-08-08T2354_2024-08-09T0005.jsonl"
TICK = Decimal("0.01")
STEP = Decimal("0.00001")
MIN_NOTIONAL = Decimal(5)
WAIT = 60.0  # seconds any one condition may take before the test fails


def recording_path() -> Path:
    """The real BTCUSDT ``@trade`` capture (about 11 minutes, 19,904 trades)."""
    path = shared_data() / "binance" / "ws" / "hftbacktest" / RECORDING
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def load_recording() -> list[AggRecord]:
    """The capture as aggregate trades, fresh objects (emission stamps ids and times on them)."""
    return [timed.record for timed in read_session(recording_path())]


def price_range(records: Sequence[AggRecord]) -> tuple[Decimal, Decimal]:
    """Lowest and highest price of the session."""
    prices = [Decimal(rec.p) for rec in records]
    return min(prices), max(prices)


# --- the orders ------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderSpec:
    """One order to place through the API (and whether to cancel it right away)."""

    side: str
    condition: str
    target: Decimal
    quantity: Decimal
    cancel: bool = False

    def body(self) -> dict[str, Any]:
        """The ``POST /api/v1/orders`` body."""
        return {
            "symbol": SYMBOL,
            "side": self.side,
            "condition": self.condition,
            "target_price": str(self.target),
            "quantity": str(self.quantity),
        }


def random_specs(
    rng: random.Random, count: int, low: Decimal, high: Decimal, cancel_share: float
) -> list[OrderSpec]:
    """Both sides, both conditions, targets on the tick over the session's range (a little
    wider, so some never fire), quantities on the step with a notional of at least 5 USDT."""
    lo, hi = int((low - 20) / TICK), int((high + 20) / TICK)
    specs = []
    for _ in range(count):
        target = rng.randint(lo, hi) * TICK
        min_steps = int((MIN_NOTIONAL / target / STEP).to_integral_value(ROUND_CEILING))
        quantity = rng.randint(min_steps, 300) * STEP
        specs.append(
            OrderSpec(
                side=rng.choice(("buy", "sell")),
                condition=rng.choice(("lte", "gte")),
                target=target,
                quantity=quantity,
                cancel=rng.random() < cancel_share,
            )
        )
    return specs


async def place(harness: Harness, auth: dict[str, str], spec: OrderSpec) -> int:
    """Place one order (and cancel it at once if the spec says so); returns its id."""
    response = await harness.http.post("/api/v1/orders", json=spec.body(), headers=auth)
    assert response.status_code == 201, response.text
    order_id = int(response.json()["id"])
    if spec.cancel:
        cancelled = await harness.http.post(f"/api/v1/orders/{order_id}/cancel", headers=auth)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
    return order_id


# --- following the engine --------------------------------------------------------------


class TradeTracker:
    """A price-book listener registered after the engine's: once it has seen a trade, so has
    the engine (which queued whatever that trade fired)."""

    def __init__(self, market: BinanceFeed, symbol: str = SYMBOL) -> None:
        self.symbol = symbol
        self.ids: list[int] = []
        self._changed = asyncio.Event()
        market.book.add_listener(self._on_trade)

    def _on_trade(self, trade: AggTrade) -> None:
        if trade.symbol == self.symbol:
            self.ids.append(trade.agg_id)
            self._changed.set()

    async def wait_for_id(self, agg_id: int, timeout: float = WAIT) -> None:
        """Wait until the trade ``agg_id`` (or a later one) was delivered."""
        async with asyncio.timeout(timeout):
            while not self.ids or self.ids[-1] < agg_id:
                self._changed.clear()
                await self._changed.wait()


class Replay:
    """Emits the recording in segments and waits until the service has digested them."""

    def __init__(self, harness: Harness, records: list[AggRecord], chunk: int = 500) -> None:
        self.harness = harness
        self.records = records
        self.chunk = chunk
        self.position = 0
        self.tracker = TradeTracker(harness.container.feed)
        self.before = harness.exchange.market.emitted(SYMBOL)  # trades from before the replay

    @property
    def tape(self) -> list[AggRecord]:
        """Everything the fake exchange emitted for the symbol, with ids and times."""
        return self.harness.exchange.market.tape(SYMBOL).records

    def replayed_ids(self) -> list[int]:
        """Agg ids the replay emitted, in order."""
        return [rec.a for rec in self.tape[self.before :]]

    async def emit_until(self, end: int, *, at_once: bool = False) -> tuple[int, int]:
        """Emit recorded trades up to index ``end``; returns the first and last agg id given.

        ``at_once`` emits them without yielding to the event loop (nothing else runs
        meanwhile); otherwise chunk by chunk, as fast as the loop goes.
        """
        fake = self.harness.exchange
        # a trade in the millisecond an order was created never counts for it (the rule is
        # strict): orders placed just before this call must see these trades as later ones,
        # as the harness's fresh_millisecond gives emit_prices (a faster placement made the
        # gap's probe order miss the gap ~1 run in 4)
        fake.market.next_millisecond()
        start, before = self.position, fake.market.emitted(SYMBOL)
        for i in range(start, end, self.chunk):
            fake.market.emit(SYMBOL, self.records[i : min(i + self.chunk, end)])
            if not at_once:
                await asyncio.sleep(0)  # a yield, like the fake's own replay at speed 0
        self.position = end
        await fake.wait_emitted(SYMBOL, before + end - start)
        return self.tape[before].a, self.tape[-1].a

    async def caught_up(self) -> None:
        """Wait until the last emitted trade reached the engine and everything fired executed."""
        await self.tracker.wait_for_id(self.tape[-1].a)
        await asyncio.wait_for(self.harness.container.trigger_engine.wait_idle(), WAIT)


# --- the ledger ------------------------------------------------------------------------


@dataclass
class Ledger:
    """Stored orders and engine trades, by id."""

    orders: dict[int, PositionedOrder]
    trades: list[Trade]


async def read_ledger(harness: Harness, order_ids: Sequence[int]) -> Ledger:
    """The stored orders ``order_ids`` and every trade recorded for a positioned order."""
    async with harness.container.session_factory() as session:
        orders = (
            await session.scalars(select(PositionedOrder).where(PositionedOrder.symbol == SYMBOL))
        ).all()
        trades = (
            await session.scalars(
                select(Trade).where(Trade.positioned_order_id.is_not(None)).order_by(Trade.id)
            )
        ).all()
    by_id = {order.id: order for order in orders}
    assert set(by_id) == set(order_ids), "the database holds other orders than those placed"
    return Ledger(by_id, list(trades))


def oracle_trades(tape: Sequence[AggRecord]) -> list[OracleTrade]:
    """The emitted trades as the oracle takes them."""
    return [OracleTrade(rec.a, Decimal(rec.p), rec.T) for rec in tape]


def oracle_orders(ledger: Ledger, cancelled: set[int]) -> list[OracleOrder]:
    """The stored orders as the oracle takes them (``cancelled``: those the test cancelled)."""
    return [
        OracleOrder(
            id=order.id,
            side=order.type,
            condition=order.condition,
            target=order.target_price,
            quantity=order.quantity,
            created_ms=epoch_ms(order.created_at),
            cancelled=order.id in cancelled,
        )
        for order in ledger.orders.values()
    ]
