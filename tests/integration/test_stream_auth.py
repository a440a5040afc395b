"""Stream authentication: header or first message, 4401 otherwise, and on revocation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.harness import Harness, running_service
from tests.support.stream_client import open_stream

UNAUTHORIZED = 4401
MESSAGE_TOO_BIG = 1009


@pytest.fixture
async def served(database_url: str) -> AsyncIterator[Harness]:
    """The service on loopback sockets, with a short wait for the first message."""
    async with running_service(
        database_url, served=True, stream_auth_timeout_seconds=0.5
    ) as harness:
        yield harness


async def test_header_auth_gets_the_snapshot(served: Harness) -> None:
    client_id, auth = await served.new_client()
    await served.http.put("/api/v1/monitored/ETHUSDT", headers=auth)
    await served.buy(auth, client_id, preco_executado="60000", quantidade="0.01")
    body = {"symbol": "BTCUSDT", "side": "buy", "target_price": "50000", "quantity": "0.01"}
    order = (await served.http.post("/api/v1/orders", json=body, headers=auth)).json()
    async with open_stream(served, auth) as stream:
        snapshot = await stream.next()
    assert snapshot["type"] == "snapshot"
    assert snapshot["client_id"] == client_id
    assert snapshot["watchlist"] == ["ETHUSDT"]
    assert [o["id"] for o in snapshot["orders"]] == [order["id"]]
    listed = (await served.http.get(f"/api/v1/orders/{order['id']}", headers=auth)).json()
    assert set(snapshot["orders"][0]) == set(listed)
    positions = (await served.http.get("/api/v1/positions", headers=auth)).json()
    assert snapshot["positions"] == positions
    assert set(snapshot["prices"]) <= {"ETHUSDT", "BTCUSDT"}
    for price in snapshot["prices"].values():
        assert set(price) == {"price", "time", "stale"}


async def test_first_message_auth_on_the_portuguese_alias(served: Harness) -> None:
    client_id, auth = await served.new_client()
    token = auth["Authorization"].removeprefix("Bearer ")
    async with open_stream(served, path="/monitoramento") as stream:
        await stream.send(type="auth", token=token)
        snapshot = await stream.next()
        assert (snapshot["type"], snapshot["client_id"]) == ("snapshot", client_id)
        await stream.send(type="ping")
        assert await stream.next() == {"type": "pong"}


@pytest.mark.parametrize(
    "how", ["wrong header", "wrong first message", "not an auth message", "silence"]
)
async def test_no_valid_auth_closes_4401_with_nothing_sent(served: Harness, how: str) -> None:
    headers = {"Authorization": "Bearer not-a-token"} if how == "wrong header" else None
    async with open_stream(served, headers) as stream:
        if how == "wrong first message":
            await stream.send(type="auth", token="not-a-token")
        elif how == "not an auth message":
            await stream.send(type="ping")
        assert await stream.close_code() == UNAUTHORIZED
        assert stream.seen == []


async def test_a_revoked_token_loses_its_open_streams_within_5_seconds(served: Harness) -> None:
    client_id, auth = await served.new_client()
    _, other = await served.new_client("other")
    async with open_stream(served, auth) as stream, open_stream(served, other) as bystander:
        await stream.next()
        await bystander.next()
        revoked = await served.http.post(
            f"/api/v1/clients/{client_id}/revoke", headers=served.admin
        )
        assert revoked.status_code == 200, revoked.text
        assert await stream.close_code(timeout=5) == UNAUTHORIZED
        await bystander.send(type="ping")
        assert await bystander.next() == {"type": "pong"}


@pytest.mark.parametrize("authenticated", [False, True])
async def test_a_message_over_the_body_limit_closes_the_stream(
    served: Harness, authenticated: bool
) -> None:
    # uvicorn would read up to 16 MiB, even from a client that has not authenticated yet
    _, auth = await served.new_client()
    async with open_stream(served, auth if authenticated else None) as stream:
        if authenticated:
            assert (await stream.next())["type"] == "snapshot"
        await stream.ws.send("x" * (64 * 1024 + 1))
        assert await stream.close_code() == MESSAGE_TOO_BIG
    async with open_stream(served, auth) as again:  # the service streams on
        assert (await again.next())["type"] == "snapshot"
