"""Live mode end to end against the fake exchange: signed orders that are never sent twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from pydantic import SecretStr

from criptoren.binance.pacing import WeightLimit
from criptoren.config import Mode
from criptoren.db.repositories import OrderRepository, claimed_order
from criptoren.engine.broker import Fill
from criptoren.engine.events import EventKind
from criptoren.engine.transactions import record_fill
from criptoren.fake_exchange import FakeExchange
from tests.support.events import EventRecorder
from tests.support.harness import Harness, running_service

API_KEY = "live-test-key-0123456789abcdef"
API_SECRET = "live-test-secret-0123456789abcdef"


def _fund(exchange: FakeExchange) -> None:
    exchange.add_account(API_KEY, API_SECRET, {"USDT": "100000", "BTC": "1"})


def _live_service(database_url: str, **exchange_config: Any) -> Any:
    return running_service(
        database_url,
        prepare=_fund,
        exchange_config=exchange_config,
        mode=Mode.LIVE,
        binance_api_key=SecretStr(API_KEY),
        binance_api_secret=SecretStr(API_SECRET),
        http_timeout_seconds=3.0,
    )


@pytest.fixture
async def live(database_url: str) -> AsyncIterator[Harness]:
    """The service in live mode, its keys known to the fake exchange, 100k USDT funded."""
    async with _live_service(database_url) as harness:
        yield harness


async def _buy_below(live: Harness, auth: dict[str, str], client_id: int, **extra: Any) -> Any:
    body = {
        "cliente_id": client_id,
        "symbol": "BTCUSDT",
        "preco_alvo": "61000",
        "quantidade": "0.01",
        **extra,
    }
    response = await live.http.post("/posicionar-compra", json=body, headers=auth)
    assert response.status_code == 201, response.text
    await live.exchange.wait_subscribed("btcusdt@aggTrade")
    return response.json()


async def _trades(live: Harness, auth: dict[str, str]) -> list[Any]:
    return list((await live.http.get("/api/v1/trades", headers=auth)).json())


async def test_fired_order_sends_exactly_one_signed_market_order(live: Harness) -> None:
    events = EventRecorder(live.container.bus)
    client_id, auth = await live.new_client()
    order = await _buy_below(live, auth, client_id)
    live.exchange.emit_prices("BTCUSDT", ["60950.00"])
    await events.wait_finished({order["id"]})
    [sent] = live.exchange.order_requests()
    assert sent.params["type"] == "MARKET"
    assert sent.params["side"] == "BUY"
    assert sent.params["newClientOrderId"] == order["client_order_id"]
    assert sent.params["newOrderRespType"] == "FULL"
    [at_exchange] = live.exchange.orders(API_KEY)
    [trade] = await _trades(live, auth)
    assert trade["order_id"] == str(at_exchange["orderId"])
    assert trade["mode"] == "live"
    assert trade["price"] == "60950.00000000"
    assert trade["quantity"] == "0.01000000"
    assert trade["fee"] == "0.60950000"
    assert trade["fee_asset"] == "USDT"


async def test_dropped_reply_is_reconciled_into_one_trade(live: Harness) -> None:
    events = EventRecorder(live.container.bus)
    client_id, auth = await live.new_client()
    live.exchange.drop_order_replies(1)
    order = await _buy_below(live, auth, client_id)
    live.exchange.emit_prices("BTCUSDT", ["60950.00"])
    await events.wait_finished({order["id"]}, timeout=20)
    # triggered is published when the claim commits, though the outcome was then unknown
    assert [e.kind for e in events.events if e.order_id == order["id"]] == [
        EventKind.PLACED,
        EventKind.TRIGGERED,
        EventKind.EXECUTED,
    ]
    assert len(live.exchange.order_requests()) == 1  # looked up, never resent
    assert len(live.exchange.orders(API_KEY)) == 1
    [trade] = await _trades(live, auth)
    assert trade["positioned_order_id"] == order["id"]
    stored = (await live.http.get(f"/api/v1/orders/{order['id']}", headers=auth)).json()
    assert stored["status"] == "executed"


async def test_429_is_honoured_then_the_order_executes(live: Harness) -> None:
    events = EventRecorder(live.container.bus)
    client_id, auth = await live.new_client()
    live.exchange.rate_limit_orders(1, retry_after=1)
    order = await _buy_below(live, auth, client_id)
    live.exchange.emit_prices("BTCUSDT", ["60950.00"])
    await events.wait_finished({order["id"]}, timeout=20)
    refused, accepted = live.exchange.order_requests()
    assert refused.status == 429
    assert accepted.monotonic - refused.monotonic >= 1.0  # nothing before Retry-After
    assert accepted.params["newClientOrderId"] == refused.params["newClientOrderId"]
    assert len(await _trades(live, auth)) == 1


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda fx: fx.set_balance(API_KEY, "USDT", "1"), "insufficient balance"),
        (lambda fx: fx.add_account(API_KEY, "another-secret", {"USDT": "100000"}), "ignature"),
    ],
    ids=["insufficient-balance", "bad-signature"],
)
async def test_rejections_fail_the_order_with_the_reason(
    live: Harness, setup: Any, reason: str
) -> None:
    events = EventRecorder(live.container.bus)
    client_id, auth = await live.new_client()
    setup(live.exchange)
    order = await _buy_below(live, auth, client_id)
    live.exchange.emit_prices("BTCUSDT", ["60950.00"])
    await events.wait_finished({order["id"]})
    stored = (await live.http.get(f"/api/v1/orders/{order['id']}", headers=auth)).json()
    assert stored["status"] == "failed"
    assert reason in stored["failure_reason"]
    assert await _trades(live, auth) == []
    assert [e.kind for e in events.events if e.order_id == order["id"]][-1] is EventKind.FAILED


async def test_filter_failure_is_refused_before_sending(live: Harness) -> None:
    events = EventRecorder(live.container.bus)
    client_id, auth = await live.new_client()
    # 0.0001 BTC is worth 5.0001 USDT at the 50001 target (NOTIONAL min 5) but 4.9 at the
    # price that fires it: the broker checks again before sending, and sends nothing
    order = await _buy_below(
        live, auth, client_id, quantidade="0.0001", preco_alvo="50001", condicao="lte"
    )
    live.exchange.emit_prices("BTCUSDT", ["49000.00"])
    await events.wait_finished({order["id"]})
    stored = (await live.http.get(f"/api/v1/orders/{order['id']}", headers=auth)).json()
    assert stored["status"] == "failed"
    assert "notional" in stored["failure_reason"].lower()
    assert live.exchange.order_requests() == []


async def test_skewed_clock_fails_with_a_clear_reason(live: Harness) -> None:
    events = EventRecorder(live.container.bus)
    client_id, auth = await live.new_client()
    live.exchange.skew_time_endpoint(-120_000)  # the time the client learns is 2 min behind
    order = await _buy_below(live, auth, client_id)
    live.exchange.emit_prices("BTCUSDT", ["60950.00"])
    await events.wait_finished({order["id"]})
    stored = (await live.http.get(f"/api/v1/orders/{order['id']}", headers=auth)).json()
    assert stored["status"] == "failed"
    assert "recvWindow" in stored["failure_reason"]
    assert await _trades(live, auth) == []
    assert live.exchange.orders(API_KEY) == []


async def test_commission_in_base_asset_still_lets_the_whole_position_be_sold(
    live: Harness,
) -> None:
    events = EventRecorder(live.container.bus)
    client_id, auth = await live.new_client()
    live.exchange.set_commission_asset("base")
    order = await _buy_below(live, auth, client_id)
    live.exchange.emit_prices("BTCUSDT", ["60950.00"])
    await events.wait_finished({order["id"]})
    [position] = (await live.http.get("/api/v1/positions", headers=auth)).json()
    held = Decimal(position["quantity"])
    assert held == Decimal("0.00999")  # 0.01 less the 0.1 % commission taken in BTC
    sell = {
        "cliente_id": client_id,
        "symbol": "BTCUSDT",
        "preco_alvo": "62000",
        "quantidade": str(held),
    }
    placed = await live.http.post("/posicionar-venda", json=sell, headers=auth)
    assert placed.status_code == 201, placed.text
    live.exchange.emit_prices("BTCUSDT", ["62000.00"])
    await events.wait_finished({placed.json()["id"]})
    sold = (await live.http.get(f"/api/v1/orders/{placed.json()['id']}", headers=auth)).json()
    assert sold["status"] == "executed", sold["failure_reason"]
    [position] = (await live.http.get("/api/v1/positions", headers=auth)).json()
    assert Decimal(position["quantity"]) == 0


async def test_a_fill_recorded_twice_leaves_one_trade(live: Harness) -> None:
    events = EventRecorder(live.container.bus)
    client_id, auth = await live.new_client()
    order = await _buy_below(live, auth, client_id)
    live.exchange.emit_prices("BTCUSDT", ["60950.00"])
    await events.wait_finished({order["id"]})
    async with live.container.session_factory() as session:
        stored = await OrderRepository(session).get(order["id"])
        assert stored is not None
        claimed = claimed_order(stored)
    fill = Fill(Decimal(60950), Decimal("0.01"), Decimal(0), "USDT", "1", Mode.LIVE)
    runner = live.container.trigger_engine.executor.runner
    assert await runner.run(partial(record_fill, order=claimed, fill=fill)) is None
    assert len(await _trades(live, auth)) == 1


# request weight per second at the fake exchange: start-up's exchangeInfo (20) fits, and a
# burst of orders sent back to back would spend it within a few dozen orders
TIGHT_WEIGHT = WeightLimit(limit=40, interval="SECOND", interval_num=1)


@pytest.fixture
async def tight(database_url: str) -> AsyncIterator[Harness]:
    """Live mode against an exchange enforcing 40 request weight per second."""
    async with _live_service(database_url, weight_limit=TIGHT_WEIGHT) as harness:
        yield harness


async def test_a_burst_is_paced_by_request_weight_and_never_meets_a_429(tight: Harness) -> None:
    events = EventRecorder(tight.container.bus)
    client_id, auth = await tight.new_client()
    ids = []
    for _ in range(90):
        order = await _buy_below(tight, auth, client_id, quantidade="0.001", condicao="lte")
        ids.append(order["id"])
    tight.exchange.emit_prices("BTCUSDT", ["60950.00"])
    await events.wait_finished(set(ids), timeout=30)
    assert tight.exchange.weight_refused() == []  # the bar: no 429 of ours
    sent = [r for r in tight.exchange.order_requests() if r.method == "POST"]
    assert sorted(r.params["newClientOrderId"] for r in sent) == sorted(
        (await _order_ids(tight, auth, ids)).values()
    )  # one exchange order per positioned order, each sent once
    per_second = Counter(int(r.received) for r in sent)
    assert max(per_second.values()) <= TIGHT_WEIGHT.limit
    assert len(per_second) >= 3  # 90 orders at under 40 a second: spread over the windows
    assert len(await _trades(tight, auth)) == 90


async def _order_ids(live: Harness, auth: dict[str, str], ids: list[int]) -> dict[int, str]:
    orders = {}
    for order_id in ids:
        body = (await live.http.get(f"/api/v1/orders/{order_id}", headers=auth)).json()
        assert body["status"] == "executed", body
        orders[order_id] = body["client_order_id"]
    return orders
