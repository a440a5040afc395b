"""Scale-out on PostgreSQL: ``criptoren api`` workers and ``criptoren engine`` processes.

Real processes against one scratch PostgreSQL database and the fake exchange (in a thread
of the test process): the API process never touches the market stream or executes; the
leader engine does; a standby takes over when the leader is killed; a stream client on
the API process hears, through NOTIFY, what the engine did.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from criptoren.db.migrate import upgrade
from criptoren.fake_exchange import FakeExchange
from tests.support.databases import skip_or_fail
from tests.support.live import (
    CRIPTOREN,
    ServiceProcess,
    create_client,
    fake_exchange_in_thread,
    service_env,
    service_process,
)
from tests.support.processes import DbProbe, ExchangeDriver, poll_until, scratch_postgres

pytestmark = pytest.mark.slow  # real processes; started first under xdist
SYMBOL = "BTCUSDT"
STREAM = "btcusdt@aggTrade"
START = Decimal("60000.00")
SETTINGS = {
    "CRIPTOREN_CURSOR_FLUSH_SECONDS": "0.2",
    "CRIPTOREN_LEADER_POLL_SECONDS": "0.2",
    "CRIPTOREN_NOTIFY_CATCH_UP_SECONDS": "0.5",
}
ENGINE = ("engine",)
API = ("api",)
_serial = iter(range(1_000_000))


@pytest.fixture
def database_url() -> Iterator[str]:
    """A migrated PostgreSQL database of its own."""
    with scratch_postgres(f"criptoren_scale_{os.getpid()}_{next(_serial)}") as url:
        if url is None:
            skip_or_fail("PostgreSQL is not reachable on the test server")
            raise AssertionError("unreachable")
        asyncio.run(upgrade(url))
        yield url


@contextmanager
def cluster(tmp_path: Path, url: str) -> Iterator[tuple[ExchangeDriver, dict[str, str], DbProbe]]:
    """The fake exchange (with a first BTCUSDT trade), the processes' environment, a probe."""
    with fake_exchange_in_thread() as (loop, fake):
        exchange = ExchangeDriver(loop, fake)
        exchange.emit(SYMBOL, [START])
        env = _env(tmp_path, fake, url)
        probe = DbProbe(url)
        try:
            yield exchange, env, probe
        finally:
            probe.close()


def _env(tmp_path: Path, fake: FakeExchange, url: str) -> dict[str, str]:
    env = service_env(tmp_path, fake, **SETTINGS)
    env["CRIPTOREN_DATABASE_URL"] = url
    return env


def health(engine: ServiceProcess) -> dict[str, Any]:
    """An engine's ``/healthz``."""
    response = httpx.get(f"{engine.base_url}/healthz", timeout=5)
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_leader(engine: ServiceProcess, within: float = 15.0) -> None:
    """Block until ``engine`` reports itself leader."""
    poll_until(
        lambda: health(engine)["leader"],
        within=within,
        what=f"{engine.name} to lead",
        describe=lambda: engine.log()[-3000:],
    )


def order(side: str, condition: str, target: str) -> dict[str, str]:
    """An order body for ``/api/v1/orders``."""
    return {"symbol": SYMBOL, "side": side, "condition": condition,
            "target_price": target, "quantity": "0.001"}  # fmt: skip


def place(api: ServiceProcess, token: str, body: dict[str, str]) -> dict[str, Any]:
    """Place one order through the API process."""
    auth = {"Authorization": f"Bearer {token}"}
    response = httpx.post(f"{api.base_url}/api/v1/orders", json=body, headers=auth, timeout=10)
    assert response.status_code == 201, response.text
    return dict(response.json())


# --- 1. two engines: one leader; kill -9 it, the standby takes over -------------------


def test_standby_engine_takes_over_within_5s_and_executes_once(
    tmp_path: Path, database_url: str
) -> None:
    with cluster(tmp_path, database_url) as (exchange, env, probe), ExitStack() as stack:
        a = stack.enter_context(service_process(env, "engine-a", ENGINE))
        wait_leader(a)
        b = stack.enter_context(service_process(env, "engine-b", ENGINE))
        api = stack.enter_context(service_process(env, "api", API))
        _, token = create_client(api, env, "failover")
        assert not health(b)["leader"], "two leaders"
        placed = place(api, token, order("buy", "lte", "59000"))
        exchange.wait_subscribed(STREAM)  # the leader streams the order's symbol
        assert [health(e)["leader"] for e in (a, b)] == [True, False]
        metrics = httpx.get(f"{a.base_url}/metrics", timeout=5).text
        assert "criptoren_engine_leader 1.0" in metrics

        a.kill()
        killed_at = time.monotonic()
        wait_leader(b, within=10)
        takeover = time.monotonic() - killed_at
        assert takeover <= 5.0, f"standby took {takeover:.2f}s to lead"
        assert "criptoren_engine_leader 1.0" in httpx.get(f"{b.base_url}/metrics").text

        exchange.wait_subscribed(STREAM)  # the new leader resumed the feed
        exchange.emit(SYMBOL, [Decimal("58990.00"), Decimal("58980.00")])
        poll_until(
            lambda: probe.count_status("executed") == 1,
            within=15,
            what="the new leader to execute the order",
            describe=lambda: b.log()[-3000:],
        )
        trades = probe.engine_trades()
        assert [(t.order_id, t.price) for t in trades] == [(placed["id"], Decimal("58990"))]
        assert not b.errors(), b.log()


# --- 2. an order placed through an API process, executed by the engine, streamed ------


def test_api_process_streams_what_the_engine_process_does(
    tmp_path: Path, database_url: str
) -> None:
    with cluster(tmp_path, database_url) as (exchange, env, _), ExitStack() as stack:
        engine = stack.enter_context(service_process(env, "engine", ENGINE))
        wait_leader(engine)
        api = stack.enter_context(service_process(env, "api", API))
        _, token = create_client(api, env, "streamer")
        seen = asyncio.run(_stream_one_order(api, token, exchange))
        assert not api.errors(), api.log()
        assert not engine.errors(), engine.log()
    kinds = [(m["type"], m.get("event")) for m in seen]
    assert kinds[0] == ("snapshot", None)
    orders = [m for m in seen if m["type"] == "order"]
    assert [m["event"] for m in orders] == ["placed", "triggered", "executed"]
    executed = orders[-1]
    assert executed["order"]["status"] == "executed"
    assert executed["trade"]["price"] == "59980.00000000"
    assert executed["order"]["last_price"] is not None
    prices = [m for m in seen if m["type"] == "price"]
    assert prices, kinds
    assert prices[-1]["price"] == "59970.00000000"
    positions = [m for m in seen if m["type"] == "position"]
    assert positions
    assert positions[-1]["position"]["quantity"] == "0.00100000"


async def _stream_one_order(
    api: ServiceProcess, token: str, exchange: ExchangeDriver
) -> list[dict[str, Any]]:
    url = f"ws://127.0.0.1:{api.port}/api/v1/stream"
    seen: list[dict[str, Any]] = []
    auth = {"Authorization": f"Bearer {token}"}
    async with connect(url, additional_headers=auth) as ws:

        async def until(done: Any) -> dict[str, Any]:
            try:
                async with asyncio.timeout(15):
                    while True:
                        message: dict[str, Any] = json.loads(await ws.recv())
                        seen.append(message)
                        if done(message):
                            return message
            except TimeoutError:
                raise AssertionError(f"not received; got {seen}") from None

        await until(lambda m: m["type"] == "snapshot")
        await ws.send(json.dumps({"type": "watch", "symbols": [SYMBOL]}))
        await until(lambda m: m["type"] == "watchlist")
        await asyncio.to_thread(place, api, token, order("buy", "lte", "59990"))
        await until(lambda m: m.get("event") == "placed")
        await asyncio.to_thread(exchange.wait_subscribed, STREAM)
        await asyncio.to_thread(exchange.emit, SYMBOL, [Decimal("59980.00")])
        await until(lambda m: m.get("event") == "executed")
        await until(lambda m: m["type"] == "position")
        await asyncio.to_thread(exchange.emit, SYMBOL, [Decimal("59970.00")])
        await until(lambda m: m["type"] == "price" and m["price"] == "59970.00000000")
    return seen


def test_api_refuses_sqlite(tmp_path: Path) -> None:
    with fake_exchange_in_thread() as (_loop, fake):
        env = service_env(tmp_path, fake)
        for command in ("api", "engine"):
            done = _run_failing(env, command)
            assert done.count("\n") == 1, done
            assert "needs PostgreSQL" in done, done


def _run_failing(env: dict[str, str], command: str) -> str:
    done = subprocess.run(
        [CRIPTOREN, command], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1, done
    return done.stderr
