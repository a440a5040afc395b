"""Scale-out test helpers: ``criptoren engine`` and ``criptoren api`` processes on one
scratch PostgreSQL database, the fake exchange in a thread, a stream client in the
background, and a cuttable TCP proxy to the database."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect

from criptoren.fake_exchange import FakeExchange
from tests.support.live import (
    LoopThread,
    ServiceProcess,
    fake_exchange_in_thread,
    service_env,
)
from tests.support.processes import DbProbe, ExchangeDriver, poll_until
from tests.support.tcp_proxy import TcpProxy

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
API_TWO_WORKERS = ("api", "--workers", "2")
_serial = iter(range(1_000_000))


@contextmanager
def cluster(tmp_path: Path, url: str) -> Iterator[tuple[ExchangeDriver, dict[str, str], DbProbe]]:
    """The fake exchange (with a first BTCUSDT trade), the processes' environment, a probe."""
    with fake_exchange_in_thread() as (loop, fake):
        exchange = ExchangeDriver(loop, fake)
        exchange.emit(SYMBOL, [START])
        env = cluster_env(tmp_path, fake, url)
        probe = DbProbe(url)
        try:
            yield exchange, env, probe
        finally:
            probe.close()


def cluster_env(tmp_path: Path, fake: FakeExchange, url: str) -> dict[str, str]:
    env = service_env(tmp_path, fake, **SETTINGS)
    env["CRIPTOREN_DATABASE_URL"] = url
    return env


def health(engine: ServiceProcess) -> dict[str, Any]:
    """An engine's ``/healthz``."""
    response = httpx.get(f"{engine.base_url}/healthz", timeout=5)
    assert response.status_code == 200, response.text
    return dict(response.json())


def unannounced(probe: DbProbe, statement: str, **params: Any) -> Any:
    """Change a table without NOTIFY (as an API process killed between its commit and its
    notification would leave it); the first column returned."""

    async def run() -> Any:
        async with probe.engine.begin() as connection:
            return (await connection.execute(text(statement), params)).scalar()

    return probe.loop.run(run())


def wait_leader(engine: ServiceProcess, within: float = 15.0) -> None:
    """Block until ``engine`` reports itself leader."""
    poll_until(
        lambda: health(engine)["leader"],
        within=within,
        what=f"{engine.name} to lead",
        describe=lambda: engine.log()[-3000:],
    )


def start(
    stack: ExitStack, *specs: tuple[dict[str, str], str, tuple[str, ...]]
) -> list[ServiceProcess]:
    """Spawn every process at once (start-up is mostly imports), then wait until each listens."""
    processes = [ServiceProcess(env, name, command) for env, name, command in specs]
    for process in processes:
        stack.callback(process.stop)
    return [process.wait_ready() for process in processes]


def leader_of(engines: list[ServiceProcess]) -> tuple[ServiceProcess, ServiceProcess]:
    """The leader and the standby, once exactly one of the two engines leads."""
    leading = poll_until(
        lambda: [e for e in engines if health(e)["leader"]],
        within=15,
        what="an engine to lead",
        describe=lambda: "".join(e.log()[-2000:] for e in engines),
    )
    assert len(leading) == 1, "two leaders"
    (leader,) = leading
    return leader, next(e for e in engines if e is not leader)


def answers(service: ServiceProcess) -> bool:
    """Whether ``/healthz`` answers (uvicorn names the port before its workers listen)."""
    try:
        return httpx.get(f"{service.base_url}/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


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


class StreamRecorder:
    """A stream client reading in the background (on a loop thread) into ``messages``."""

    def __init__(self, loop: LoopThread, api: ServiceProcess, token: str) -> None:
        self.messages: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self.loop = loop
        self.ws: ClientConnection | None = None
        url = f"ws://127.0.0.1:{api.port}/api/v1/stream"
        self.future = asyncio.run_coroutine_threadsafe(self._read(url, token), loop.loop)
        assert self.ready.wait(15), "the stream did not start"

    async def _read(self, url: str, token: str) -> None:
        async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            self.ws = ws
            async for raw in ws:
                self.messages.append(json.loads(raw))
                self.ready.set()

    def events(self) -> set[tuple[int, str]]:
        """(order id, event) of every order message received."""
        return {(m["order"]["id"], m["event"]) for m in self.messages if m["type"] == "order"}

    def close(self) -> None:
        """Close the stream (and wait until the reader ended)."""
        if self.ws is not None:
            self.loop.run(self.ws.close())
        self.future.result(10)


def proxied(
    exchange: ExchangeDriver, env: dict[str, str], stack: ExitStack
) -> tuple[TcpProxy, dict[str, str]]:
    """A cuttable TCP proxy to the database, and ``env`` with the URL through it."""
    real = make_url(env["CRIPTOREN_DATABASE_URL"])
    proxy = exchange.loop.run(TcpProxy(real.host or "127.0.0.1", real.port or 5432).start())
    stack.callback(lambda: exchange.loop.run(proxy.aclose()))
    through = real.set(port=proxy.port).render_as_string(hide_password=False)
    return proxy, {**env, "CRIPTOREN_DATABASE_URL": through}
