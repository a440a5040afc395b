"""SIGKILL between an order's fill and its webhook delivery: delivered after the restart,
one logical event (one outbox row, one event id on every attempt).

A real ``criptoren serve`` process against the fake exchange; the webhook receiver (a real
loopback HTTP server on the exchange's loop thread) holds the first delivery unanswered,
so the kill lands while the fill is committed and the delivery is not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.databases import sqlite_copy
from tests.support.live import create_client, fake_exchange_in_thread, service_env, service_process
from tests.support.processes import ExchangeDriver, migrated_postgres, poll_until
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.slow
NOTIFY = {
    "CRIPTOREN_WEBHOOK_ALLOW_PRIVATE": "true",
    "CRIPTOREN_NOTIFY_TIMEOUT_SECONDS": "1",
    # a delivery cut short by the kill is due again this soon after its claim
    "CRIPTOREN_NOTIFY_LEASE_SECONDS": "2",
    "CRIPTOREN_NOTIFY_BACKOFF_BASE_SECONDS": "0.1",
}


@pytest.fixture(params=["sqlite", "postgres"])
def scratch_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A migrated, empty database of this test's own."""
    if request.param == "sqlite":
        yield sqlite_copy(sqlite_template, tmp_path / "notify.db")
        return
    with migrated_postgres("criptoren_notify") as url:
        yield url


def _deliveries(base_url: str, auth: dict[str, str]) -> list[Any]:
    response = httpx.get(f"{base_url}/api/v1/notifications", headers=auth, timeout=10)
    assert response.status_code == 200, response.text
    rows: list[Any] = response.json()
    return rows


def test_sigkill_between_fill_and_delivery_delivers_after_restart(
    tmp_path: Path, scratch_url: str
) -> None:
    with fake_exchange_in_thread() as (loop, fake):
        exchange = ExchangeDriver(loop, fake)
        exchange.emit("BTCUSDT", [Decimal("60000")])
        hold = asyncio.Event()
        receiver = loop.run(WebhookReceiver(hold=hold).start())
        env = service_env(tmp_path, fake, **NOTIFY)
        env["CRIPTOREN_DATABASE_URL"] = scratch_url
        try:
            with service_process(env, "serve-1") as first:
                _, token = create_client(first, env, "notify-crash")
                auth = {"Authorization": f"Bearer {token}"}
                channel = httpx.post(
                    f"{first.base_url}/api/v1/notification-channels",
                    json={"kind": "webhook", "url": f"{receiver.url}/hook"},
                    headers=auth,
                    timeout=10,
                )
                assert channel.status_code == 201, channel.text
                receiver.secret = channel.json()["secret"]
                order = {"symbol": "BTCUSDT", "side": "buy", "target_price": "59900"}
                placed = httpx.post(
                    f"{first.base_url}/api/v1/orders",
                    json=order | {"quantity": "0.001"},
                    headers=auth,
                    timeout=10,
                )
                assert placed.status_code == 201, placed.text
                exchange.wait_subscribed("btcusdt@aggTrade")
                exchange.emit("BTCUSDT", [Decimal("59850")])
                # the fill is committed and its delivery is in flight, unanswered: kill
                loop.run(receiver.wait_for(lambda got: len(got) >= 1))
                first.kill()
            loop.run(_release(hold))

            with service_process(env, "serve-2") as second:
                loop.run(receiver.wait_for(lambda got: len(got) >= 2, timeout=20))
                poll_until(
                    lambda: [r for r in _deliveries(second.base_url, auth) if r["delivered_at"]],
                    within=20,
                    what="the delivery to be recorded after the restart",
                )
                rows = _deliveries(second.base_url, auth)  # the outbox: one row, one event
                assert not second.errors(), second.log()
        finally:
            loop.run(receiver.stop())

    [row] = rows
    assert (row["type"], row["status"], row["attempts"]) == ("order.executed", "delivered", 2)
    received = receiver.received
    assert {r.event_id for r in received} == {row["event_id"]}  # one logical event
    assert {r.json["id"] for r in received} == {row["event_id"]}
    assert all(r.signature_ok for r in received)
    assert received[0].json["data"]["order_id"] == placed.json()["id"]


async def _release(hold: asyncio.Event) -> None:
    hold.set()
