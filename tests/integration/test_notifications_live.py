"""Order notifications in live mode: ``triggered`` committed with the claim, then the
venue's outcome (a fill, or a rejection) with its own transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from criptoren.config import Mode
from tests.integration.test_notifications_webhook import FAST, add_webhook, fire_buy
from tests.support.harness import Harness, running_service
from tests.support.receiver import WebhookReceiver

API_KEY = "live-notify-key-0123456789abcdef"
API_SECRET = "live-notify-secret-0123456789abcdef"


@pytest.fixture
async def live(database_url: str) -> AsyncIterator[Harness]:
    """Live mode against the fake exchange, loopback webhooks allowed."""
    async with running_service(
        database_url,
        prepare=lambda fx: fx.add_account(API_KEY, API_SECRET, {"USDT": "100000", "BTC": "1"}),
        mode=Mode.LIVE,
        binance_api_key=SecretStr(API_KEY),
        binance_api_secret=SecretStr(API_SECRET),
        http_timeout_seconds=3.0,
        **FAST,
    ) as harness:
        yield harness


async def _choose(live: Harness, auth: dict[str, str], *events: str) -> None:
    response = await live.http.put(
        "/api/v1/notification-preferences", json={"order_events": list(events)}, headers=auth
    )
    assert response.status_code == 200, response.text


async def test_triggered_then_executed(live: Harness, receiver: WebhookReceiver) -> None:
    _, auth = await live.new_client()
    await _choose(live, auth, "triggered", "executed")
    await add_webhook(live, auth, receiver)
    order_id = await fire_buy(live, auth)
    await receiver.wait_for(lambda got: len(got) >= 2)
    bodies = sorted((r.json for r in receiver.received), key=lambda b: b["type"])
    assert [b["type"] for b in bodies] == ["order.executed", "order.triggered"]
    assert {b["data"]["order_id"] for b in bodies} == {order_id}
    assert bodies[1]["data"]["price"] == "60900.00000000"  # the trade that fired it
    assert bodies[0]["data"]["trade_id"] > 0
    assert all(r.signature_ok for r in receiver.received)


async def test_rejected_order_notifies_failed_with_the_reason(
    live: Harness, receiver: WebhookReceiver
) -> None:
    _, auth = await live.new_client()
    await add_webhook(live, auth, receiver)  # default preferences: executed, failed
    live.exchange.set_balance(API_KEY, "USDT", "1")
    order_id = await fire_buy(live, auth)
    await receiver.wait_for(lambda got: len(got) >= 1)
    [hook] = receiver.received
    assert hook.json["type"] == "order.failed"
    assert hook.json["data"]["order_id"] == order_id
    assert "insufficient balance" in hook.json["data"]["reason"]


async def test_a_fired_alert_is_delivered_as_alert_triggered(
    database_url: str, receiver: WebhookReceiver
) -> None:
    async with running_service(database_url, **FAST) as service:
        _, auth = await service.new_client()
        await add_webhook(service, auth, receiver)
        body = {"symbol": "BTCUSDT", "condition": "gte", "price": "62000"}
        created = await service.http.post("/api/v1/alerts", json=body, headers=auth)
        assert created.status_code == 201, created.text
        await service.exchange.wait_subscribed("btcusdt@aggTrade")
        service.exchange.emit_prices("BTCUSDT", ["61990", "62010.5"])
        await receiver.wait_for(lambda got: len(got) >= 1)
    [hook] = receiver.received
    assert hook.signature_ok is True
    assert hook.json["type"] == "alert.triggered"
    data = hook.json["data"]
    assert (data["alert_id"], data["symbol"]) == (created.json()["id"], "BTCUSDT")
    assert data["price"] == "62010.50000000"
