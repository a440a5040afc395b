"""Slow and silent clients: nobody waits for them; overflow closes 4008, silence is dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from criptoren.stream.connection import StreamConnection
from tests.support.harness import Harness, running_service
from tests.support.stream_client import open_stream

OVERFLOW = 4008
MAX_ORDERS = 1000


@pytest.fixture
async def small_buffers(database_url: str) -> AsyncIterator[Harness]:
    """Streams that hold at most 8 undelivered order/position messages; small TCP buffers."""
    async with running_service(
        database_url, served=True, send_buffer=8192, stream_buffer_messages=8
    ) as harness:
        yield harness


@pytest.fixture
async def quick_pings(database_url: str) -> AsyncIterator[Harness]:
    """The server pings every 0.2 s and drops a peer silent for 0.5 s."""
    async with running_service(
        database_url,
        served=True,
        stream_ping_interval_seconds=0.2,
        stream_ping_timeout_seconds=0.5,
    ) as harness:
        yield harness


def _stream_of(service: Harness, client_id: int) -> StreamConnection:
    [connection] = [c for c in service.container.streams.connections() if c.client_id == client_id]
    return connection


async def _place(service: Harness, auth: dict[str, str]) -> int:
    body = {"symbol": "BTCUSDT", "side": "buy", "target_price": "50000", "quantity": "0.001"}
    response = await service.http.post("/api/v1/orders", json=body, headers=auth)
    assert response.status_code == 201, response.text
    order_id: int = response.json()["id"]
    return order_id


async def test_a_client_that_stops_reading_delays_nobody_and_overflows_with_4008(
    small_buffers: Harness,
) -> None:
    service = small_buffers
    _, alice = await service.new_client("alice")
    bob_id, bob = await service.new_client("bob")
    async with (
        open_stream(service, alice) as a,
        open_stream(service, bob, small_receive_buffer=True) as b,
    ):
        await a.next()
        await b.next()
        b.pause_reading()
        stuck = _stream_of(service, bob_id)
        placed = 0
        while stuck.close_code is None and placed < MAX_ORDERS:
            await _place(service, bob)
            placed += 1
        assert stuck.close_code == OVERFLOW, f"{placed} orders never filled bob's buffer"
        # bob is stuck and closed: alice's messages still flow, at once
        mine = await _place(service, alice)
        message = await a.until(lambda m: m["type"] == "order")
        assert message["order"]["id"] == mine
        b.resume_reading()
        assert await b.close_code() == OVERFLOW
        received = [m["order"]["id"] for m in b.seen if m["type"] == "order"]
        assert received == sorted(received)  # what did arrive came in commit order


async def test_a_peer_that_never_answers_pings_is_dropped(quick_pings: Harness) -> None:
    service = quick_pings
    client_id, auth = await service.new_client()
    hub = service.container.streams
    async with open_stream(service, auth) as stream:
        await stream.next()
        await hub.wait_for(lambda: any(c.client_id == client_id for c in hub.connections()))
        stream.pause_reading()
        await hub.wait_for(lambda: not hub.connections(), within=5)
        stream.resume_reading()
        assert await stream.close_code() == 1011  # keepalive ping timeout
