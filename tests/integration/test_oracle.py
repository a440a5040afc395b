"""The ledger equals the oracle on a real recorded session (issue acceptance).

The real BTCUSDT capture is replayed through the fake exchange in segments, as fast as the
service consumes it. Before each of the first four segments a batch of orders is placed
through the HTTP API (both sides, both conditions, targets over the session's range; some
cancelled at once). At the end the stored orders and trades must be exactly what the
offline oracle computes from the emitted trades: the same orders executed, each once, at
the same price, quantity and fee; cancelled ones never; all others still waiting.

The second variant cuts every stream connection and emits the segment holding the
session's low while nobody is connected: those trades reach the engine only through the
feed's REST gap-fill, and at least one order crosses only there.
"""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal

import pytest

from criptoren.engine.events import EventKind
from tests.support.events import EventRecorder
from tests.support.harness import running_service
from tests.support.oracle import OracleFill, expected_fills
from tests.support.oracle_run import (
    SYMBOL,
    WAIT,
    Ledger,
    OrderSpec,
    Replay,
    load_recording,
    oracle_orders,
    oracle_trades,
    place,
    price_range,
    random_specs,
    read_ledger,
)

SEED = 20240809
CLIENTS = 4
HOLDINGS = Decimal(20)  # BTC bought by hand by each client first, so that no sell fails
ORDERS_PER_BATCH = 500
CANCEL_SHARE = 0.1
FEE_RATE = Decimal("0.001")
SLIPPAGE_BPS = Decimal("2.5")  # non-zero, so a wrong slippage sign or rounding shows
# recorded-trade indices: a short warm-up gives the price book a last price (the reference
# price of the orders), then a batch of orders is placed before each of the next four
# segments; the fourth batch's segment holds every trade at the session's low (7384-7406)
WARM_UP = 100
SEGMENT_ENDS = (2500, 5000, 7200, 7600, None)  # None: to the end of the recording
BATCHES = 4
GAP = 3  # the segment emitted while disconnected, in the variant with a drop


@pytest.mark.slow
@pytest.mark.parametrize("drop", [False, True], ids=["live", "connection-drop"])
async def test_ledger_equals_the_oracle_on_the_recorded_session(
    database_url: str, drop: bool
) -> None:
    records = load_recording()
    low, high = price_range(records)
    rng = random.Random(SEED)
    async with running_service(
        database_url, paper_fee_rate=FEE_RATE, paper_slippage_bps=SLIPPAGE_BPS
    ) as service:
        events = EventRecorder(service.container.bus)
        clients = [await service.new_client(f"client-{i}") for i in range(CLIENTS)]
        for client_id, auth in clients:
            bought = await service.buy(
                auth, client_id, preco_executado=records[0].p, quantidade=str(HOLDINGS)
            )
            assert bought.status_code == 201, bought.text
        replay = Replay(service, records)
        feed = service.container.feed
        watched = await service.http.put(f"/api/v1/monitored/{SYMBOL}", headers=service.admin)
        assert watched.status_code == 200, watched.text
        await service.exchange.wait_subscribed(f"{SYMBOL.lower()}@aggTrade")
        await replay.emit_until(WARM_UP)
        await replay.caught_up()
        placed: list[int] = []
        cancelled: set[int] = set()
        probe = 0
        gap_ids = (0, 0)
        for number, stop in enumerate(SEGMENT_ENDS):
            end = len(records) if stop is None else stop
            if number < BATCHES:
                specs = random_specs(rng, ORDERS_PER_BATCH, low, high, CANCEL_SHARE)
                if number == GAP:  # only the gap segment reaches the session's low
                    specs.append(OrderSpec("buy", "lte", low, Decimal("0.001")))
                for i, spec in enumerate(specs):
                    client_id, auth = clients[i % CLIENTS]
                    order_id = await place(service, auth, spec)
                    placed.append(order_id)
                    if spec.cancel:
                        cancelled.add(order_id)
                if number == GAP:
                    probe = placed[-1]
            if drop and number == GAP:
                reconnects = feed.reconnects
                service.exchange.drop_connections()
                gap_ids = await replay.emit_until(end, at_once=True)  # nobody is connected
                await feed.wait_for(lambda: feed.reconnects > reconnects, WAIT)
                continue  # the next segment streams while the gap is being filled
            ids = await replay.emit_until(end)
            if number == GAP:
                gap_ids = ids
            await replay.caught_up()

        tape = replay.tape
        ledger = await read_ledger(service, placed)
        fills = expected_fills(
            oracle_trades(tape), oracle_orders(ledger, cancelled), FEE_RATE, SLIPPAGE_BPS
        )
        _assert_ledger_is(ledger, fills, cancelled)
        executed = [e.order_id for e in events.of(EventKind.EXECUTED)]
        assert sorted(executed) == sorted(fills), "executed events differ from the oracle"
        assert not events.of(EventKind.FAILED)
        assert replay.tracker.ids == replay.replayed_ids(), "not every trade once, in order"
        if drop:  # the gap's trades came through the REST gap-fill after a reconnect
            assert feed.reconnects >= 1
            assert feed.sequencer.trades_filled >= gap_ids[1] - gap_ids[0] + 1

        # the test is not vacuous: a mix fired and stayed, one crossing only inside the gap
        sides = Counter((ledger.orders[i].type, ledger.orders[i].condition) for i in fills)
        assert len(sides) == 4, sides
        assert min(sides.values()) > 50, sides
        assert len(placed) - len(fills) - len(cancelled) > 100
        after_gap = [Decimal(rec.p) for rec in tape if rec.a > gap_ids[1]]
        gap_only = {
            order_id
            for order_id, fill in fills.items()
            if gap_ids[0] <= fill.agg_id <= gap_ids[1]
            and not any(_crosses(ledger, order_id, price) for price in after_gap)
        }
        assert probe in gap_only, "the probe order must cross only inside the gap"


def _crosses(ledger: Ledger, order_id: int, price: Decimal) -> bool:
    order = ledger.orders[order_id]
    return price <= order.target_price if order.condition == "lte" else price >= order.target_price


def _assert_ledger_is(ledger: Ledger, fills: dict[int, OracleFill], cancelled: set[int]) -> None:
    per_order = Counter(trade.positioned_order_id or 0 for trade in ledger.trades)
    assert [i for i, n in per_order.items() if n > 1] == [], "an order has two trades"
    missing = sorted(set(fills) - set(per_order))
    extra = sorted(i for i in per_order if i not in fills)
    assert (missing[:10], extra[:10]) == ([], []), f"{len(missing)} missing, {len(extra)} extra"
    wrong = []
    for trade in ledger.trades:
        assert trade.positioned_order_id is not None
        order = ledger.orders[trade.positioned_order_id]
        fill = fills[order.id]
        if (trade.price, trade.quantity, trade.fee) != (fill.price, fill.quantity, fill.fee):
            wrong.append((order.id, (trade.price, trade.quantity, trade.fee), fill))
        assert (trade.type, trade.client_id, trade.symbol) == (
            order.type,
            order.client_id,
            order.symbol,
        )
        assert (trade.source, trade.mode, trade.fee_asset) == ("engine", "paper", "USDT")
        assert order.executed_trade_id == trade.id
    assert wrong[:5] == [], f"{len(wrong)} trades differ from the oracle"
    statuses = {order_id: order.status for order_id, order in ledger.orders.items()}
    expected = {
        order_id: "executed"
        if order_id in fills
        else "cancelled"
        if order_id in cancelled
        else "waiting"
        for order_id in ledger.orders
    }
    differ = {i: (statuses[i], expected[i]) for i in statuses if statuses[i] != expected[i]}
    assert differ == {}, f"{len(differ)} orders in the wrong state"
