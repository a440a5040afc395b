"""Webhook notifications of order events, delivered to a real receiver on loopback.

Every delivery's signature is checked by the receiver with the secret the service showed
once. Failures are retried (same event id) with a fast backoff; a receiver gone for good
leaves the delivery ``dead``, visible, and re-queued by the retry endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from criptoren.db.types import utcnow
from criptoren.domain.notifications import ChannelKind, Delivery, event_body
from criptoren.notify.urls import AddressGuard
from criptoren.notify.webhook import WebhookSender
from tests.support.events import AttemptRecorder
from tests.support.harness import Harness, running_service
from tests.support.receiver import Received, WebhookReceiver

FAST = {
    "webhook_allow_private": True,
    "notify_backoff_base_seconds": 0.02,
    "notify_max_attempts": 6,
}


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Harness]:
    """The service with loopback webhooks allowed and a fast retry schedule."""
    async with running_service(database_url, **FAST) as harness:
        yield harness


async def add_webhook(
    service: Harness, auth: dict[str, str], receiver: WebhookReceiver, path: str = "/hook"
) -> dict[str, Any]:
    """A webhook channel pointing at the receiver, which learns its secret."""
    url = receiver.url + path
    response = await service.http.post(
        "/api/v1/notification-channels", json={"kind": "webhook", "url": url}, headers=auth
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert len(body["secret"]) == 64
    receiver.secret = body["secret"]
    return body


async def fire_buy(service: Harness, auth: dict[str, str], target: str = "61000") -> int:
    """Place a buy at ``target`` and make the market cross it; returns the order id."""
    order = {"symbol": "BTCUSDT", "side": "buy", "target_price": target, "quantity": "0.01"}
    response = await service.http.post("/api/v1/orders", json=order, headers=auth)
    assert response.status_code == 201, response.text
    await service.exchange.wait_subscribed("btcusdt@aggTrade")
    service.exchange.emit_prices("BTCUSDT", ["60900"])
    order_id: int = response.json()["id"]
    return order_id


async def deliveries(service: Harness, auth: dict[str, str], **query: Any) -> list[Any]:
    response = await service.http.get("/api/v1/notifications", params=query, headers=auth)
    assert response.status_code == 200, response.text
    rows: list[Any] = response.json()
    return rows


def of_type(received: list[Received], event_type: str) -> list[Received]:
    return [r for r in received if r.json["type"] == event_type]


async def test_executed_order_is_delivered_signed_once(
    service: Harness, receiver: WebhookReceiver
) -> None:
    attempts = AttemptRecorder(service.container.notifier)
    client_id, auth = await service.new_client()
    channel = await add_webhook(service, auth, receiver)
    listed = (await service.http.get("/api/v1/notification-channels", headers=auth)).json()
    assert [(c["id"], c["kind"], c["url"], c["secret"]) for c in listed] == [
        (channel["id"], "webhook", receiver.url + "/hook", None)
    ]
    order_id = await fire_buy(service, auth)
    await receiver.wait_for(lambda got: len(got) >= 1)
    [hook] = receiver.received
    assert hook.signature_ok is True
    assert hook.path == "/hook"
    body = hook.json
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["id"] == hook.event_id
    assert body["type"] == "order.executed"
    data = body["data"]
    assert (data["order_id"], data["symbol"], data["side"]) == (order_id, "BTCUSDT", "buy")
    assert data["price"] == "60900.00000000"
    await attempts.wait_for(lambda: len(attempts.delivered()) == 1)
    [row] = await deliveries(service, auth, status="delivered")
    assert (row["event_id"], row["type"], row["channel_id"]) == (
        body["id"],
        "order.executed",
        channel["id"],
    )
    assert (row["attempts"], row["last_error"], row["next_attempt_at"]) == (1, None, None)
    assert row["delivered_at"] is not None
    assert client_id  # the client's own: another client sees none of it
    _, other = await service.new_client("bob")
    assert await deliveries(service, other) == []


async def test_failing_receiver_is_retried_with_the_same_event_until_it_recovers(
    service: Harness, receiver: WebhookReceiver
) -> None:
    receiver.status_for = lambda n: 500 if n <= 3 else 204
    attempts = AttemptRecorder(service.container.notifier)
    _, auth = await service.new_client()
    await add_webhook(service, auth, receiver)
    await fire_buy(service, auth)
    await receiver.wait_for(lambda got: len(got) >= 4)
    assert {r.event_id for r in receiver.received} == {receiver.received[0].json["id"]}
    assert all(r.signature_ok for r in receiver.received)
    await attempts.wait_for(lambda: len(attempts.delivered()) == 1)
    [row] = await deliveries(service, auth, status="delivered")
    assert row["attempts"] == 4
    assert len(receiver.received) == 4  # delivered: never sent again


async def test_receiver_gone_for_good_goes_dead_then_retry_requeues(
    service: Harness, receiver: WebhookReceiver
) -> None:
    receiver.status_for = lambda _n: 503
    attempts = AttemptRecorder(service.container.notifier)
    _, auth = await service.new_client()
    await add_webhook(service, auth, receiver)
    await fire_buy(service, auth)
    await attempts.wait_for(lambda: len(attempts.dead()) == 1)
    [dead] = await deliveries(service, auth, status="dead")
    assert dead["attempts"] == 6
    assert dead["next_attempt_at"] is None
    assert dead["last_error"].startswith("HTTP 503: receiver says no")
    assert len(dead["last_error"].encode()) <= 1024  # the body is never kept whole
    assert len(receiver.received) == 6
    await receiver.stop()  # and now it is gone for good
    missing = await service.http.post("/api/v1/notifications/999999/retry", headers=auth)
    assert missing.status_code == 404
    _, bob = await service.new_client("bob")
    not_his = await service.http.post(f"/api/v1/notifications/{dead['id']}/retry", headers=bob)
    assert not_his.status_code == 404

    receiver.status_for = lambda _n: 200
    await receiver.start()  # back on the same port
    retried = await service.http.post(f"/api/v1/notifications/{dead['id']}/retry", headers=auth)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    await receiver.wait_for(lambda got: len(got) >= 7)
    assert receiver.received[-1].event_id == receiver.received[0].event_id
    await attempts.wait_for(lambda: len(attempts.delivered()) == 1)
    [row] = await deliveries(service, auth, status="delivered")
    assert row["id"] == dead["id"]
    again = await service.http.post(f"/api/v1/notifications/{row['id']}/retry", headers=auth)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "notification_not_dead"


async def test_preferences_choose_the_order_events(
    service: Harness, receiver: WebhookReceiver
) -> None:
    _, auth = await service.new_client()
    default = await service.http.get("/api/v1/notification-preferences", headers=auth)
    assert default.json() == {"order_events": ["executed", "failed"]}
    chosen = await service.http.put(
        "/api/v1/notification-preferences",
        json={"order_events": ["cancelled", "placed"]},
        headers=auth,
    )
    assert chosen.json() == {"order_events": ["placed", "cancelled"]}
    await add_webhook(service, auth, receiver)
    order = {"symbol": "BTCUSDT", "side": "buy", "target_price": "50000", "quantity": "0.01"}
    placed = (await service.http.post("/api/v1/orders", json=order, headers=auth)).json()
    cancel = await service.http.post(f"/api/v1/orders/{placed['id']}/cancel", headers=auth)
    assert cancel.status_code == 200
    await receiver.wait_for(lambda got: len(got) >= 2)
    types = sorted(r.json["type"] for r in receiver.received)
    assert types == ["order.cancelled", "order.placed"]
    assert len({r.event_id for r in receiver.received}) == 2  # two logical events
    assert {r.json["data"]["order_id"] for r in receiver.received} == {placed["id"]}
    pt = await service.http.get("/preferencias-notificacao", headers=auth)
    assert pt.json() == {"eventos_ordem": ["placed", "cancelled"]}
    bad = await service.http.put(
        "/api/v1/notification-preferences", json={"order_events": ["exploded"]}, headers=auth
    )
    assert bad.status_code == 422


async def test_one_event_two_channels_share_its_id(service: Harness) -> None:
    first, second = await WebhookReceiver().start(), await WebhookReceiver().start()
    try:
        _, auth = await service.new_client()
        await add_webhook(service, auth, first)
        await add_webhook(service, auth, second)
        await fire_buy(service, auth)
        await first.wait_for(lambda got: len(got) >= 1)
        await second.wait_for(lambda got: len(got) >= 1)
        assert first.received[0].event_id == second.received[0].event_id
        assert first.received[0].signature_ok
        assert second.received[0].signature_ok
    finally:
        await first.stop()
        await second.stop()


async def test_a_fired_alert_is_delivered_signed_and_audited(
    service: Harness, receiver: WebhookReceiver
) -> None:
    client_id, auth = await service.new_client()
    channel = await add_webhook(service, auth, receiver)
    alert = {"symbol": "BTCUSDT", "condition": "lte", "price": "61000"}
    created = await service.http.post("/api/v1/alerts", json=alert, headers=auth)
    assert created.status_code == 201, created.text
    alert_id = created.json()["id"]
    await service.exchange.wait_subscribed("btcusdt@aggTrade")
    service.exchange.emit_prices("BTCUSDT", ["61200", "60950.5"])
    await receiver.wait_for(lambda got: len(got) >= 1)
    [hook] = receiver.received
    assert hook.signature_ok is True
    body = hook.json
    assert body["type"] == "alert.triggered"
    assert (body["data"]["alert_id"], body["data"]["symbol"]) == (alert_id, "BTCUSDT")
    assert body["data"]["price"] == "60950.50000000"
    trail = await service.http.get("/api/v1/audit", headers=auth)
    assert trail.status_code == 200, trail.text
    seen = [(r["action"], r["entity_id"]) for r in trail.json()["items"]]
    assert seen == [
        ("client.created", str(client_id)),
        ("channel.added", str(channel["id"])),
        ("alert.created", str(alert_id)),
        ("alert.triggered", str(alert_id)),
    ]
    removed = await service.http.delete(
        f"/api/v1/notification-channels/{channel['id']}", headers=auth
    )
    assert removed.status_code in (200, 204), removed.text
    deleted = await service.http.delete(f"/api/v1/alerts/{alert_id}", headers=auth)
    assert deleted.status_code == 200, deleted.text
    after = (await service.http.get("/api/v1/audit", headers=auth)).json()["items"]
    assert [r["action"] for r in after[len(seen) :]] == ["channel.removed", "alert.deleted"]


async def test_deliveries_page_back_with_before(
    service: Harness, receiver: WebhookReceiver
) -> None:
    attempts = AttemptRecorder(service.container.notifier)
    _, auth = await service.new_client()
    await service.http.put(
        "/api/v1/notification-preferences", json={"order_events": ["placed"]}, headers=auth
    )
    await add_webhook(service, auth, receiver)
    order = {"symbol": "BTCUSDT", "side": "buy", "target_price": "50000", "quantity": "0.01"}
    for _ in range(3):
        placed = await service.http.post("/api/v1/orders", json=order, headers=auth)
        assert placed.status_code == 201
    await attempts.wait_for(lambda: len(attempts.delivered()) == 3)
    first = await deliveries(service, auth, limit=2)
    assert len(first) == 2
    assert first[0]["id"] > first[1]["id"]  # newest first
    rest = await deliveries(service, auth, limit=2, before=first[-1]["id"])
    assert len(rest) == 1
    assert rest[0]["id"] < first[-1]["id"]
    pt = await service.http.get("/notificacoes", params={"limite": 1}, headers=auth)
    assert [row["id"] for row in pt.json()] == [first[0]["id"]]


async def test_delivery_rechecks_the_address_and_never_calls_a_private_one(
    receiver: WebhookReceiver,
) -> None:
    body = event_body("e1", "order.executed", utcnow(), {"order_id": 1})
    delivery = Delivery(1, "e1", "order.executed", body, 1, ChannelKind.WEBHOOK, receiver.url)
    async with httpx.AsyncClient() as http:
        # a name that resolved to a public address when the channel was created may now
        # resolve to loopback: the delivery refuses it without calling it
        refused = await WebhookSender(http, AddressGuard(allow_private=False)).send(delivery)
        allowed = await WebhookSender(http, AddressGuard(allow_private=True)).send(delivery)
    assert refused is not None
    assert "loopback" in refused
    assert allowed is None
    assert len(receiver.received) == 1  # only the allowed one arrived


async def test_removed_channel_deliveries_go_dead(
    service: Harness, receiver: WebhookReceiver
) -> None:
    receiver.hold, receiver.status_for = asyncio.Event(), lambda _n: 500
    attempts = AttemptRecorder(service.container.notifier)
    _, auth = await service.new_client()
    channel = await add_webhook(service, auth, receiver)
    await fire_buy(service, auth)
    await receiver.wait_for(lambda got: len(got) == 1)  # the first attempt, held
    removed = await service.http.delete(
        f"/api/v1/notification-channels/{channel['id']}", headers=auth
    )
    assert removed.status_code == 204
    receiver.hold.set()  # it fails; its retry finds the channel gone
    await attempts.wait_for(lambda: len(attempts.dead()) == 1)
    [dead] = await deliveries(service, auth, status="dead")
    assert (dead["attempts"], dead["last_error"]) == (2, "the channel was removed")
    assert len(receiver.received) == 1
