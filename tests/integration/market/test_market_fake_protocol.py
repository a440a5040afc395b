"""The fake exchange speaks Binance's stream and REST protocol, and enforces its limits."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from criptoren.fake_exchange import FakeExchange


async def _recv_json(ws: object) -> dict:
    return orjson.loads(await asyncio.wait_for(ws.recv(), 5))  # type: ignore[attr-defined]


async def _drain(ws: object) -> None:
    while True:
        await asyncio.wait_for(ws.recv(), 5)  # type: ignore[attr-defined]


async def test_control_messages_reply_in_binance_shapes(fake: FakeExchange) -> None:
    async with connect(f"{fake.ws_url}/stream") as ws:
        await ws.send('{"method":"SUBSCRIBE","params":["btcusdt@aggTrade"],"id":1}')
        assert await _recv_json(ws) == {"result": None, "id": 1}
        await ws.send('{"method":"LIST_SUBSCRIPTIONS","id":"abc"}')
        assert await _recv_json(ws) == {"result": ["btcusdt@aggTrade"], "id": "abc"}
        await ws.send('{"method":"UNSUBSCRIBE","params":["btcusdt@aggTrade"],"id":null}')
        assert await _recv_json(ws) == {"result": None, "id": None}
        await ws.send('{"method":"SUBSCRIBE","params":["btcusdt@nope"],"id":4}')
        reply = await _recv_json(ws)
        assert reply["id"] == 4
        assert reply["error"]["code"] == 2


async def test_bad_json_gets_an_error_reply(fake: FakeExchange) -> None:
    async with connect(f"{fake.ws_url}/stream") as ws:
        await ws.send("{not json")
        reply = await _recv_json(ws)
        assert reply["error"]["code"] == 3
        assert reply["id"] is None


async def test_combined_stream_wraps_and_raw_stream_does_not(fake: FakeExchange) -> None:
    async with (
        connect(f"{fake.ws_url}/stream?streams=btcusdt@aggTrade") as combined,
        connect(f"{fake.ws_url}/ws/btcusdt@aggTrade") as raw,
    ):
        await fake.wait_subscribed("btcusdt@aggTrade", count=2)
        fake.emit_prices("BTCUSDT", ["61000.5"])
        wrapped = await _recv_json(combined)
        bare = await _recv_json(raw)
    assert wrapped["stream"] == "btcusdt@aggTrade"
    assert wrapped["data"] == bare
    assert bare["e"] == "aggTrade"
    assert bare["p"] == "61000.5"
    assert set(bare) == set("eEsapqflTmM")


async def test_offender_sending_ten_messages_at_once_is_disconnected(fake: FakeExchange) -> None:
    async with connect(f"{fake.ws_url}/stream") as ws:
        for i in range(10):
            await ws.send(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}).decode())
        with pytest.raises(ConnectionClosed) as closed:
            await _drain(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


async def test_five_messages_per_second_are_allowed(fake: FakeExchange) -> None:
    async with connect(f"{fake.ws_url}/stream") as ws:
        for i in range(5):
            await ws.send(orjson.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}).decode())
        for i in range(5):
            assert (await _recv_json(ws))["id"] == i


async def test_server_shutdown_event_then_close(fake: FakeExchange) -> None:
    async with connect(f"{fake.ws_url}/stream") as ws:
        await fake.wait_log(lambda log: any(kind == "open" for kind, _ in log))
        fake.server_shutdown(close_after=0.05)
        event = await _recv_json(ws)
        assert event == {"stream": "!serverShutdown", "data": event["data"]}
        assert event["data"]["e"] == "serverShutdown"
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)


async def test_rest_endpoints(fake: FakeExchange) -> None:
    fake.emit_prices("BTCUSDT", ["100.00", "101.00", "99.50"])
    async with httpx.AsyncClient(base_url=fake.rest_url) as http:
        info = (await http.get("/api/v3/exchangeInfo", params={"symbol": "ETHUSDT"})).json()
        assert [s["symbol"] for s in info["symbols"]] == ["ETHUSDT"]
        many = await http.get("/api/v3/exchangeInfo", params={"symbols": '["BTCUSDT","ETHBTC"]'})
        assert {s["symbol"] for s in many.json()["symbols"]} == {"BTCUSDT", "ETHBTC"}
        assert "serverTime" in (await http.get("/api/v3/time")).json()
        price = (await http.get("/api/v3/ticker/price", params={"symbol": "BTCUSDT"})).json()
        assert price == {"symbol": "BTCUSDT", "price": "99.50"}
        trades = (await http.get("/api/v3/aggTrades", params={"symbol": "BTCUSDT"})).json()
        assert [t["a"] for t in trades] == [1, 2, 3]
        page = await http.get("/api/v3/aggTrades", params={"symbol": "BTCUSDT", "fromId": 2})
        assert [t["p"] for t in page.json()] == ["101.00", "99.50"]
        bad = await http.get("/api/v3/aggTrades", params={"symbol": "NOPE"})
        assert bad.status_code == 400
        assert bad.json() == {"code": -1121, "msg": "Invalid symbol."}
        too_many = await http.get("/api/v3/aggTrades", params={"symbol": "BTCUSDT", "limit": 1001})
        assert too_many.json()["code"] == -1130
        kl = await http.get("/api/v3/klines", params={"symbol": "BTCUSDT", "interval": "1m"})
        row = kl.json()[-1]
        assert len(row) == 12
        assert row[1] in ("100.00", "101.00", "99.50")


async def test_control_over_http(fake: FakeExchange) -> None:
    async with httpx.AsyncClient(base_url=fake.rest_url) as http:
        reply = await http.post(
            "/_control/prices", json={"symbol": "ETHUSDT", "prices": ["1", "2"]}
        )
        assert reply.json() == {"ok": True}
        status = (await http.get("/_control/status")).json()
    assert status["emitted"] == {"ETHUSDT": 2}
