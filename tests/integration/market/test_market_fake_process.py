"""The fake exchange as its own process (the CLI), driven over ``/_control``."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect

from criptoren.fake_exchange import FakeExchange
from criptoren.market.config import FeedConfig
from criptoren.market.feed import BinanceFeed
from criptoren.market.schemas import AggTrade

SRC = Path(__file__).parents[3] / "src"


async def test_cli_process_generates_prices_and_obeys_controls() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "criptoren.fake_exchange",
        "--ws-port",
        "0",
        "--rest-port",
        "0",
        "--generate",
        "BTCUSDT,ETHUSDT=2500",
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        urls = dict(part.split("=", 1) for part in line.decode().split())
        market = BinanceFeed(
            FeedConfig(ws_url=urls["ws_url"], rest_url=urls["rest_url"], backoff_initial=0.05)
        )
        got: list[AggTrade] = []
        event = asyncio.Event()
        market.book.add_listener(lambda t: (got.append(t), event.set()))
        await market.start()
        try:
            await market.watch(["ETHUSDT"])
            await asyncio.wait_for(event.wait(), 10)
            assert got[0].symbol == "ETHUSDT"
            async with httpx.AsyncClient(base_url=urls["rest_url"]) as http:
                await http.post("/_control/drop")
                status = (await http.get("/_control/status")).json()
            assert status["emitted"]["BTCUSDT"] >= 1
            await market.wait_for(lambda: market.health()["reconnects"] >= 1)
        finally:
            await market.stop()
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0


async def test_controls_may_be_called_from_another_thread(fake_in_thread: Any) -> None:
    loop, exchange = fake_in_thread
    async with connect(f"{exchange.ws_url}/ws/btcusdt@aggTrade") as ws:
        subscribed = asyncio.run_coroutine_threadsafe(
            exchange.wait_subscribed("btcusdt@aggTrade"), loop
        )
        await asyncio.wait_for(asyncio.wrap_future(subscribed), 10)
        await asyncio.to_thread(exchange.emit_prices, "BTCUSDT", ["42.5"])
        event = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
    assert event["p"] == "42.5"


@pytest.fixture
def fake_in_thread() -> Any:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    exchange = FakeExchange()
    asyncio.run_coroutine_threadsafe(exchange.start(), loop).result(10)
    try:
        yield loop, exchange
    finally:
        asyncio.run_coroutine_threadsafe(exchange.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
