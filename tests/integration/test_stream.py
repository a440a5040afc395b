"""The push stream: own orders and positions only, prices of watched symbols, coalesced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from tests.support.harness import Harness, running_service
from tests.support.stream_client import Message, StreamClient, open_stream


@pytest.fixture
async def served(database_url: str) -> AsyncIterator[Harness]:
    """The service on loopback sockets."""
    async with running_service(database_url, served=True) as harness:
        yield harness


def _is(kind: str, event: str | None = None) -> Any:
    def check(message: Message) -> bool:
        return message["type"] == kind and (event is None or message.get("event") == event)

    return check


async def _place(served: Harness, auth: dict[str, str], **body: str) -> Any:
    payload = {"symbol": "BTCUSDT", "side": "buy", "quantity": "0.01", **body}
    response = await served.http.post("/api/v1/orders", json=payload, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


async def _nothing_else_queued(stream: StreamClient) -> None:
    """Read up to a pong: it is queued behind every message already dispatched to us."""
    await stream.send(type="ping")
    await stream.until(lambda m: m == {"type": "pong"})


async def test_each_client_gets_only_its_own_order_and_position_messages(served: Harness) -> None:
    _, alice = await served.new_client("alice")
    bob_id, bob = await served.new_client("bob")
    async with open_stream(served, alice) as a, open_stream(served, bob) as b:
        await a.next()
        await b.next()
        mine = await _place(served, alice, target_price="61000")
        theirs = await _place(served, bob, target_price="50000", symbol="ETHUSDT", quantity="1")
        placed = await a.until(_is("order", "placed"))
        assert placed["order"]["id"] == mine["id"]
        assert placed["order"]["status"] == "waiting"
        await served.exchange.wait_subscribed("btcusdt@aggTrade")
        served.exchange.emit_prices("BTCUSDT", ["61500", "60900.5"])
        triggered = await a.until(_is("order", "triggered"))
        executed = await a.until(_is("order", "executed"))
        position = await a.until(_is("position"))
        assert triggered["order"]["id"] == executed["order"]["id"] == mine["id"]
        assert executed["order"]["status"] == "executed"
        assert executed["trade"]["price"] == "60900.50000000"
        assert executed["trade"]["fee"] == "0.60900500"
        assert executed["trade"]["id"] == executed["order"]["executed_trade_id"]
        assert position["position"]["quantity"] == "0.01000000"
        assert (
            position["position"]["average_cost"] == "60961.40050000"
        )  # (609.005 + 0.609005) / 0.01
        rest = (await served.http.get(f"/api/v1/orders/{mine['id']}", headers=alice)).json()
        assert set(executed["order"]) == set(rest)
        await _nothing_else_queued(b)
        orders = [m["order"]["id"] for m in b.seen if m["type"] == "order"]
        assert orders == [theirs["id"]]
        assert not [m for m in b.seen if m["type"] == "position"]
        # a trade recorded by hand is a position change too, for its owner only
        await served.buy(bob, bob_id, symbol="ETHUSDT", preco_executado="2500", quantidade="2")
        recorded = await b.until(_is("position"))
        assert (recorded["position"]["symbol"], recorded["position"]["quantity"]) == (
            "ETHUSDT",
            "2.00000000",
        )
        await _nothing_else_queued(a)
        assert [m for m in a.seen if m.get("position", {}).get("symbol") == "ETHUSDT"] == []


async def test_cancelling_pushes_cancelled_after_placed(served: Harness) -> None:
    _, alice = await served.new_client()
    async with open_stream(served, alice) as a:
        await a.next()
        order = await _place(served, alice, target_price="50000")
        await served.http.post(f"/api/v1/orders/{order['id']}/cancel", headers=alice)
        await a.until(_is("order", "cancelled"))
    events = [m["event"] for m in a.seen if m["type"] == "order"]
    assert events == ["placed", "cancelled"]


async def test_prices_arrive_for_watched_symbols_only(served: Harness) -> None:
    _, alice = await served.new_client("alice")
    _, bob = await served.new_client("bob")
    await served.http.put("/api/v1/monitored/BTCUSDT", headers=alice)
    await served.http.put("/api/v1/monitored/ETHUSDT", headers=bob)
    await served.exchange.wait_subscribed("btcusdt@aggTrade")
    await served.exchange.wait_subscribed("ethusdt@aggTrade")
    async with open_stream(served, alice) as a, open_stream(served, bob) as b:
        await a.next()
        await b.next()
        served.exchange.emit_prices("ETHUSDT", ["2610"])
        served.exchange.emit_prices("BTCUSDT", ["61900"])
        await a.until(lambda m: m.get("price") == "61900.00000000")
        await b.until(lambda m: m.get("price") == "2610.00000000")
        served.exchange.emit_prices("ETHUSDT", ["2620"])
        served.exchange.emit_prices("BTCUSDT", ["61950"])
        await a.until(lambda m: m.get("price") == "61950.00000000")
        await b.until(lambda m: m.get("price") == "2620.00000000")
    assert {m["symbol"] for m in a.seen if m["type"] == "price"} == {"BTCUSDT"}
    assert {m["symbol"] for m in b.seen if m["type"] == "price"} == {"ETHUSDT"}


async def test_a_burst_of_1000_trades_a_second_is_coalesced_and_ends_on_its_last_price(
    served: Harness,
) -> None:
    _, alice = await served.new_client()
    await served.http.put("/api/v1/monitored/BTCUSDT", headers=alice)
    await served.exchange.wait_subscribed("btcusdt@aggTrade")
    prices = [Decimal(60000) + Decimal(i) / 100 for i in range(1000)]
    async with open_stream(served, alice) as a:
        await a.next()
        loop = asyncio.get_running_loop()
        started = loop.time()
        for chunk in range(20):  # 50 trades every 50 ms: 1,000 trades in one second
            served.exchange.emit_prices("BTCUSDT", prices[chunk * 50 : (chunk + 1) * 50])
            await asyncio.sleep(0.05)
        last = f"{prices[-1]:.8f}"
        await a.until(lambda m: m.get("price") == last)
        elapsed = loop.time() - started
    received = [m for m in a.seen if m["type"] == "price"]
    # at most one message per 250 ms, and never an older price after a newer one
    assert 1 <= len(received) <= int(elapsed / 0.25) + 2
    values = [Decimal(m["price"]) for m in received]
    assert values == sorted(values)


async def test_watch_and_unwatch_over_the_stream_and_rest_agree(served: Harness) -> None:
    _, alice = await served.new_client("alice")
    _, bob = await served.new_client("bob")
    async with open_stream(served, alice) as a:
        await a.next()
        await a.send(type="watch", symbols=["ethusdt"])
        assert await a.until(_is("watchlist")) == {"type": "watchlist", "watchlist": ["ETHUSDT"]}
        listed = (await served.http.get("/api/v1/monitored", headers=alice)).json()
        assert [m["symbol"] for m in listed] == ["ETHUSDT"]
        await served.http.put("/api/v1/monitored/BTCUSDT", headers=alice)
        both = await a.until(_is("watchlist"))
        assert both["watchlist"] == ["BTCUSDT", "ETHUSDT"]
        await a.send(type="unwatch", symbols=["ETHUSDT"])
        assert (await a.until(_is("watchlist")))["watchlist"] == ["BTCUSDT"]
        await a.send(type="watch", symbols=["BTCUSDT", "NOPEUSDT"])
        refused = await a.until(_is("error"))
        assert refused["code"] == "unknown_symbol"
        await a.send(type="subscribe", symbols=["BTCUSDT"])
        assert (await a.until(_is("error")))["code"] == "unknown_type"
        await a.send(type="ping")
        assert await a.next() == {"type": "pong"}  # still open
    listed = (await served.http.get("/api/v1/monitored", headers=alice)).json()
    assert [m["symbol"] for m in listed] == ["BTCUSDT"]
    assert (await served.http.get("/api/v1/monitored", headers=bob)).json() == []


async def test_shutdown_closes_streams_with_1001(served: Harness) -> None:
    _, alice = await served.new_client()
    async with open_stream(served, alice) as a:
        await a.next()
        assert served.stop is not None
        stopping = asyncio.create_task(served.stop())
        assert await a.close_code() == 1001
        await stopping
