"""Scale-out: engine failover time, and tick -> stream-client latency through NOTIFY.

Run: ``.venv/bin/python bench/failover.py`` (``--kills``, ``--ticks``, ``--apis``,
``--clients``). Needs the local PostgreSQL (127.0.0.1:5432, trust auth); makes and drops a
scratch database.

Processes on one machine: the fake exchange (in this process's event loop), two
``criptoren engine`` processes, one ``criptoren api`` process, and this process's
WebSocket stream client. Measured:

- **failover**: ``kill -9`` of the leader -> the standby's ``/healthz`` says
  ``"leader": true`` (it has taken the lock, re-armed ``triggered`` orders, rebuilt the
  index and resumed the feed: it executes from then on); a fresh standby replaces each
  killed engine. Baseline: a lone engine's cold start (spawn -> leader), same run.
- **tick -> stream**: the exchange emits a trade, the leader's feed receives it, announces
  it (``NOTIFY criptoren_prices``), the API process's book applies it and its hub pushes
  it to the client; timed from the emit to the client's receipt (one clock). Baseline:
  the same through one ``criptoren serve`` (no NOTIFY hop). The stream's per-connection
  coalescing is set to 5 ms for both, so it measures the path, not the 250 ms window.

Stream fan-out (``--apis 2 --clients 5``, ``--kills 0`` to skip the failover part): the
same through two ``criptoren api`` processes, each with its stream clients (one engine
NOTIFYs both); the baseline puts all the clients on the one ``serve``.

Exits 1 if a bar fails: failover max <= 5 s, tick -> stream p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from api import free_port, process
from criptoren.fake_exchange import FakeExchange, FakeExchangeConfig
from scratch_db import PostgresUnreachable, scratch_postgres

CRIPTOREN = str(Path(sys.executable).with_name("criptoren"))
ADMIN = "admin-token-for-the-failover-bench"
SYMBOL = "BTCUSDT"


class Node:
    """A ``criptoren`` process on a port of its own."""

    def __init__(self, command: str, env: dict[str, str], logs: Path, name: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.started = time.perf_counter()
        self._cm = process([CRIPTOREN, command, "--port", str(self.port)], logs / name, env)
        self.proc = self._cm.__enter__()

    def kill(self) -> None:
        """SIGKILL."""
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        """SIGTERM, and wait."""
        self._cm.__exit__(None, None, None)


async def leads(http: httpx.AsyncClient, node: Node) -> bool:
    """Whether ``node``'s ``/healthz`` says leader (False while it does not answer)."""
    try:
        return bool((await http.get(f"{node.base}/healthz")).json()["leader"])
    except (httpx.TransportError, ValueError):
        return False


async def until(check: Any, within: float = 60.0, every: float = 0.005) -> float:
    """Poll the coroutine function ``check`` until true; the time it took."""
    start = time.perf_counter()
    while not await check():
        if time.perf_counter() - start > within:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(every)
    return time.perf_counter() - start


async def answers(http: httpx.AsyncClient, base: str) -> bool:
    """Whether ``base/healthz`` answers at all."""
    try:
        return (await http.get(f"{base}/healthz")).status_code == 200
    except httpx.TransportError:
        return False


async def failovers(env: dict[str, str], logs: Path, kills: int) -> tuple[float, list[float]]:
    """The cold start of a lone engine, and the takeover time of each of ``kills`` kills."""
    async with httpx.AsyncClient(timeout=1) as http:
        first = Node("engine", env, logs, "engine-0.log")
        cold = await until(lambda: leads(http, first))
        standby = Node("engine", env, logs, "engine-1.log")
        await until(lambda: answers(http, standby.base))
        leader, times = first, []
        for n in range(kills):
            leader.kill()
            new_leader = standby
            times.append(await until(lambda node=new_leader: leads(http, node)))
            standby = Node("engine", env, logs, f"engine-{n + 2}.log")
            await until(lambda node=standby: answers(http, node.base))
            leader = new_leader
        for node in (leader, standby):
            node.stop()
    return cold, times


@asynccontextmanager
async def stream(base: str, token: str) -> AsyncIterator[Any]:
    """A stream client of ``base`` watching the symbol, past its snapshot."""
    url = base.replace("http://", "ws://") + "/api/v1/stream"
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        await ws.send(json.dumps({"type": "watch", "symbols": [SYMBOL]}))
        while json.loads(await ws.recv())["type"] != "watchlist":
            pass
        yield ws


async def latencies(
    fake: FakeExchange, clients: list[tuple[str, str]], ticks: int
) -> list[list[float]]:
    """Emit ``ticks`` trades (one every 20 ms) to stream clients of (base, token); each
    client's emit -> receipt times, in ms."""
    sent: dict[str, float] = {}
    got: list[list[float]] = [[] for _ in clients]

    async def read(ws: Any, into: list[float]) -> None:
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "price" and message["price"] in sent:
                into.append((time.perf_counter() - sent[message["price"]]) * 1000)

    async with AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(stream(*client)) for client in clients]
        pairs = zip(sockets, got, strict=True)
        readers = [asyncio.create_task(read(ws, into)) for ws, into in pairs]
        await asyncio.sleep(1.0)  # the engine streams the symbol by now
        for i in range(ticks):
            price = Decimal("60000") + Decimal(i) / 100
            fake.emit_prices(SYMBOL, [price])
            sent[f"{price:.8f}"] = time.perf_counter()
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)
        for reader in readers:
            reader.cancel()
    return got


async def client_token(base: str) -> str:
    """A new client's token, through the admin API."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        reply = await http.post(
            "/api/v1/clients", json={"name": "bench"}, headers={"Authorization": f"Bearer {ADMIN}"}
        )
        reply.raise_for_status()
        return str(reply.json()["token"])


async def tick_latency(
    fake: FakeExchange, env: dict[str, str], logs: Path, args: argparse.Namespace, *, scaled: bool
) -> list[list[float]]:
    """Tick -> client latencies through ``--apis`` ``api`` processes + an ``engine`` (or
    one ``serve``), ``--clients`` stream clients per API process (all on the one ``serve``);
    one list per client."""
    async with httpx.AsyncClient(timeout=1) as http:
        nodes = []
        if scaled:
            engine = Node("engine", env, logs, "latency-engine.log")
            nodes.append(engine)
            await until(lambda: leads(http, engine))
        for n in range(args.apis if scaled else 1):
            nodes.append(Node("api" if scaled else "serve", env, logs, f"latency-front-{n}.log"))
        fronts = nodes[1:] if scaled else nodes
        for front in fronts:
            await until(lambda front=front: answers(http, front.base))
        try:
            # one client each: a watch that changes nothing gets no "watchlist" reply
            bases = [f.base for _ in range(args.clients) for f in fronts]
            bases *= 1 if scaled else args.apis
            clients = [(base, await client_token(fronts[0].base)) for base in bases]
            return await latencies(fake, clients, args.ticks)
        finally:
            for node in nodes:
                node.stop()


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace) -> bool:
    exchange = FakeExchange(FakeExchangeConfig(ws_port=0, rest_port=0))
    async with scratch_postgres("criptoren_failover") as (url, described), exchange as fake:
        fake.emit_prices(SYMBOL, [Decimal("60000")])
        env = {**os.environ, "CRIPTOREN_DATABASE_URL": url, "CRIPTOREN_ADMIN_TOKEN": ADMIN,
                   "CRIPTOREN_BINANCE_WS_URL": fake.ws_url,
                   "CRIPTOREN_BINANCE_REST_URL": fake.rest_url,
                   "CRIPTOREN_STREAM_COALESCE_SECONDS": "0.005"}  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            logs = Path(tmp)
            cold, times = await failovers(env, logs, args.kills) if args.kills else (0.0, [])
            scaled = await tick_latency(fake, env, logs, args, scaled=True)
            single = await tick_latency(fake, env, logs, args, scaled=False)
    return report(described, cold, times, scaled, single, args)


def report(
    described: str,
    cold: float,
    times: list[float],
    scaled_by_client: list[list[float]],
    single_by_client: list[list[float]],
    args: argparse.Namespace,
) -> bool:
    """Print the figures; whether the bars hold."""
    scaled = [x for values in scaled_by_client for x in values]
    single = [x for values in single_by_client for x in values]
    failover_ok = not times or max(times) <= 5.0
    latency_ok = pct(scaled, 0.99) <= 50.0 and len(scaled) >= 0.9 * args.ticks * len(
        scaled_by_client
    )
    print(f"database: {described}; cpus: {os.cpu_count()}, load {os.getloadavg()[0]:.2f}")
    if times:
        print(f"engine cold start (spawn -> leader), baseline: {cold:.2f} s")
        print(
            f"failover over {len(times)} kills: p50 {statistics.median(times):.2f} s, "
            f"max {max(times):.2f} s (bar <= 5 s: {'PASS' if failover_ok else 'FAIL'}); "
            f"p50 / cold start = {statistics.median(times) / cold:.2f}"
        )
    scaled_name = f"{args.apis} api + engine (NOTIFY), {len(scaled_by_client)} clients"
    single_name = f"one serve, baseline, {len(single_by_client)} clients"
    for name, values in ((scaled_name, scaled), (single_name, single)):
        print(
            f"tick -> stream, {name}: {len(values)}/{args.ticks * len(scaled_by_client)} "
            f"received, p50 {pct(values, 0.5):.1f} ms, p99 {pct(values, 0.99):.1f} ms, "
            f"max {max(values):.1f} ms"
        )
    for n in range(args.apis if len(scaled_by_client) > 1 else 0):
        mine = [x for values in scaled_by_client[n :: args.apis] for x in values]
        print(f"  api process {n}: p50 {pct(mine, 0.5):.1f} ms, p99 {pct(mine, 0.99):.1f} ms")
    print(
        f"NOTIFY hop: p50 +{pct(scaled, 0.5) - pct(single, 0.5):.1f} ms; "
        f"p99 bar <= 50 ms: {'PASS' if latency_ok else 'FAIL'}"
    )
    return failover_ok and latency_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--ticks", type=int, default=500)
    parser.add_argument("--apis", type=int, default=1, help="API processes (stream fan-out)")
    parser.add_argument("--clients", type=int, default=1, help="stream clients per API process")
    args = parser.parse_args()
    try:
        return 0 if asyncio.run(run(args)) else 1
    except PostgresUnreachable as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
