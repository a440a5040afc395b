"""The same ``Strategy`` class drives live and backtest: scripted candles traded on the fake
exchange through the live runner give the backtest's fills, to the digit; a restart neither
duplicates nor loses the strategy's order or position."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

import pytest
from sqlalchemy import select

from criptoren.backtest.simulator import simulate
from criptoren.db.models import PositionedOrder, Trade
from criptoren.domain.channels import Candle
from criptoren.domain.orders import OrderStatus
from criptoren.domain.strategies import ChannelParams, ChannelStrategy, Sizing, StrategyKind
from criptoren.fake_exchange import FakeExchange
from criptoren.market.schemas import AggTrade, kline_stream
from tests.support.candles import candles, emit_candle, future_minute
from tests.support.harness import BTC_START, Harness, service_on

SYMBOL = "BTCUSDT"
QUANTITY = Decimal("0.001")


def walk(seed: int, count: int) -> list[tuple[int, int, int, int]]:
    """Integer candles of a random walk around 62,000 (open = previous close)."""
    rng = random.Random(seed)
    rows, close = [], 62_000
    for _ in range(count):
        o, close = close, close + rng.randint(-30, 30)
        rows.append(
            (o, max(o, close) + rng.randint(0, 12), min(o, close) - rng.randint(0, 12), close)
        )
    return rows


class Tape:
    """Awaits the service having taken every emitted trade and executed what they fired."""

    def __init__(self, service: Harness) -> None:
        self.service = service
        self.seen = 0
        self._changed = asyncio.Event()
        service.container.feed.book.add_listener(self._on_trade)

    def _on_trade(self, trade: AggTrade) -> None:
        if trade.symbol == SYMBOL:
            self.seen = trade.agg_id
            self._changed.set()

    async def settle(self) -> None:
        last = self.service.exchange.market.tape(SYMBOL).last
        assert last is not None
        async with asyncio.timeout(10):
            while self.seen < last.a:
                self._changed.clear()
                await self._changed.wait()
        await self.service.container.trigger_engine.wait_idle()


async def close_and_settle(service: Harness, tape: Tape, candle: Candle, strategy_id: int) -> None:
    """Trade ``candle``, close it on the stream, wait until the runner acted on the close."""
    emit_candle(service.exchange, SYMBOL, candle)
    await tape.settle()
    service.exchange.close_klines(SYMBOL)
    runner = service.container.strategy_runner
    await runner.wait_for(
        lambda: runner.idle() and runner.live[strategy_id].last_close_ms == candle.open_time_ms
    )


async def enable(service: Harness, headers: dict[str, str], kind: str, window: int) -> int:
    body = {"symbol": SYMBOL, "kind": kind, "interval": "1m", "window": window}
    response = await service.http.post(
        "/api/v1/strategies", json={**body, "quantity": str(QUANTITY)}, headers=headers
    )
    assert response.status_code == 201, response.text
    strategy_id = int(response.json()["id"])
    await service.exchange.wait_subscribed(kline_stream(SYMBOL, "1m"))
    runner = service.container.strategy_runner
    await runner.wait_for(lambda: runner.idle() and strategy_id in runner.live)
    return strategy_id


async def fills_and_waiting(
    service: Harness, strategy_id: int
) -> tuple[list[tuple[str, Decimal, Decimal]], list[tuple[str, Decimal, str]]]:
    async with service.container.session_factory() as session:
        orders = (
            await session.scalars(
                select(PositionedOrder).where(PositionedOrder.strategy_id == strategy_id)
            )
        ).all()
        ids = [o.id for o in orders]
        trades = (
            await session.scalars(
                select(Trade).where(Trade.positioned_order_id.in_(ids)).order_by(Trade.id)
            )
        ).all()
    fills = [(str(t.type), t.price, t.quantity) for t in trades]
    waiting = sorted(
        (str(o.type), o.target_price, str(o.condition))
        for o in orders
        if o.status == OrderStatus.WAITING
    )
    return fills, waiting


def backtest(
    kind: str, window: int, rows: list[Candle]
) -> tuple[list[tuple[str, Decimal, Decimal]], list[tuple[str, Decimal, str]]]:
    strategy = ChannelStrategy(ChannelParams(StrategyKind(kind), window), Sizing(QUANTITY))
    run = simulate(strategy, rows)
    fills: list[tuple[str, Decimal, Decimal]] = []
    for trade in run.trades:
        fills += [
            ("buy", trade.entry_price, trade.quantity),
            ("sell", trade.exit_price, trade.quantity),
        ]
    if run.open_position is not None:
        fills.append(("buy", run.open_position.entry_price, run.open_position.quantity))
    waiting = sorted((str(o.side), o.price, str(o.condition)) for o in run.waiting)
    return fills, waiting


async def start_following(
    service: Harness, kind: str, window: int, rows: list[Candle]
) -> tuple[int, dict[str, str], Tape]:
    """History short of a band (the harness's opening trade + window - 1 candles, the last
    still open on the exchange's clock), then the strategy, then that candle closes on the
    stream: the first orders come from a streamed close, as the backtest's from its N-th."""
    for candle in rows[: window - 1]:
        emit_candle(service.exchange, SYMBOL, candle)
    _, headers = await service.new_client()
    tape = Tape(service)
    strategy_id = await enable(service, headers, kind, window)
    service.exchange.close_klines(SYMBOL)
    runner = service.container.strategy_runner
    done = rows[window - 2].open_time_ms
    await runner.wait_for(lambda: runner.idle() and runner.live[strategy_id].last_close_ms == done)
    return strategy_id, headers, tape


@pytest.mark.parametrize(
    ("kind", "window", "seed"), [("channel-breakout", 3, 14), ("channel-reversion", 4, 4)]
)
async def test_live_runner_fills_what_the_backtest_fills(
    service: Harness, kind: str, window: int, seed: int
) -> None:
    rows = candles(future_minute(), walk(seed, 24))
    strategy_id, _, tape = await start_following(service, kind, window, rows)
    for candle in rows[window - 1 :]:
        await close_and_settle(service, tape, candle, strategy_id)

    seen = service.container.strategy_runner.live[strategy_id].candles
    # after the harness's opening trade, the scripted candles (volumes aside)
    assert [c[:5] for c in seen[1:]] == [c[:5] for c in rows]
    live = await fills_and_waiting(service, strategy_id)
    expected = backtest(kind, window, seen)
    assert len(expected[0]) >= 4, "the candles should make the strategy trade"
    assert live == expected


async def strategy_orders(service: Harness, strategy_id: int) -> list[tuple[int, str, Decimal]]:
    async with service.container.session_factory() as session:
        query = select(PositionedOrder).where(PositionedOrder.strategy_id == strategy_id)
        orders = (await session.scalars(query.order_by(PositionedOrder.id))).all()
    return [(o.id, str(o.status), o.target_price) for o in orders]


async def test_a_restart_neither_duplicates_nor_loses_the_order_or_the_position(
    database_url: str,
) -> None:
    kind, window = "channel-breakout", 3
    rows = candles(future_minute(), walk(14, 24))
    async with FakeExchange() as exchange:
        exchange.emit_prices(SYMBOL, [BTC_START])
        async with service_on(exchange, database_url) as first:
            strategy_id, _, tape = await start_following(first, kind, window, rows)
            for done, candle in enumerate(rows[window - 1 :], window - 1):
                await close_and_settle(first, tape, candle, strategy_id)
                fills, waiting = await fills_and_waiting(first, strategy_id)
                if len(fills) % 2 == 1 and waiting:
                    break  # long, its exit waiting: stop here
            before = await strategy_orders(first, strategy_id)
            seen = list(first.container.strategy_runner.live[strategy_id].candles)
        assert before[-1][1] == "waiting"
        async with service_on(exchange, database_url) as second:
            runner = second.container.strategy_runner
            await exchange.wait_subscribed(kline_stream(SYMBOL, "1m"))
            await runner.wait_for(lambda: runner.idle() and strategy_id in runner.live)
            # the same rows in the same states: nothing cancelled, nothing placed twice
            assert await strategy_orders(second, strategy_id) == before
            tape = Tape(second)
            for candle in rows[done + 1 :]:
                await close_and_settle(second, tape, candle, strategy_id)
            live = await fills_and_waiting(second, strategy_id)
    assert live == backtest(kind, window, seen[:1] + rows)
