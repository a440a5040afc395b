"""Push stream: 1,000 clients, each watching 3 of 20 symbols, 2,000 trades/s, one service.

Run: ``.venv/bin/python bench/stream.py`` (≈ 100 s; ``--clients``, ``--seconds`` per
condition, default 40, ``--rounds``, default 8, ``--rate``).

Three processes on one machine: the fake exchange (this script re-executed with
``--exchange``: the stock ``FakeExchange`` random-walking 20 symbols, one trade per symbol
every ``20 / rate`` seconds), ``criptoren serve`` (one process, SQLite in a temporary file,
paper mode) and this process, which holds every WebSocket client (the ``websockets``
library) and the probes. Measured under two conditions, every client reading and one more
client that watches all 20 symbols and never reads, in ``--rounds`` alternating stretches
(``--seconds`` per condition in all; a fresh silent client each round), so that the
machine's drift over the run weighs on both alike, and with enough orders (≈ 18 per
second) for a p99 that is not just the run's second-worst sample:

- price staleness at the client: wall clock when a price message arrives minus the trade
  time it carries (the exchange stamps it when it emits the trade; one machine, one clock);
- order message delivery (the bar): a probe places an order for one client over the REST
  API; wall clock when that client's stream delivers ``placed`` minus the order's
  ``created_at`` (stamped by the service just before its insert, so before the commit):
  an upper bound of commit -> receipt. For context, ``POST`` sent -> ``placed`` received
  (the request's own queueing in a loaded service included) is printed beside it;
- memory per idle connection: the service's RSS after the clients connected and got their
  snapshot (no watchlist yet, no prices flowing) minus before, divided by the clients;
- the service's CPU use (user + system) during each phase, in cores.

Exits 1 if a bar fails: staleness p99 <= 500 ms, delivery p99 <= 100 ms, the silent client
moves neither p99 by more than 20 % (or 10 ms, whichever is larger: the clock resolution
of a loaded machine), memory <= 64 KiB per connection.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

import exchange_process

ROOT = Path(__file__).resolve().parents[1]
CRIPTOREN = str(Path(sys.executable).with_name("criptoren"))
# the bench's HTTP clients drop an idle connection well before the fake exchange's uvicorn
# (5 s keep-alive) does: at equal expiries a request can go out on a connection the server
# is closing ("Server disconnected without sending a response": 2 runs in 7 failed so)
KEEPALIVE_SECONDS = 1.0
ADMIN = "admin-token-for-the-stream-bench"
SYMBOLS = [
    "ETHBTC", "LTCBTC", "BNBBTC", "NEOBTC", "QTUMETH", "EOSETH", "SNTETH", "BNTETH",
    "BCCBTC", "GASBTC", "BNBETH", "BTCUSDT", "ETHUSDT", "HSRBTC", "OAXETH", "DNTETH",
    "MCOETH", "ICNETH", "MCOBTC", "WTCBTC",
]  # fmt: skip
TICK = os.sysconf("SC_CLK_TCK")


async def serve_exchange(rate: float) -> None:
    """The ``--exchange`` child: random-walk every symbol, ``rate`` trades/s in total."""
    from criptoren.fake_exchange import FakeExchange, FakeExchangeConfig

    async with FakeExchange(FakeExchangeConfig(ws_port=0, rest_port=0)) as fake:
        print(f"ws_url={fake.ws_url} rest_url={fake.rest_url}", flush=True)
        rng = random.Random(0)
        prices = dict.fromkeys(SYMBOLS, Decimal(100))
        loop = asyncio.get_running_loop()
        started, sent = loop.time(), 0
        while True:  # every 10 ms, the trades owed since the start, round-robin
            await asyncio.sleep(0.01)
            owed = int((loop.time() - started) * rate) - sent
            batch: dict[str, list[Decimal | str]] = {}
            for k in range(owed):
                symbol = SYMBOLS[(sent + k) % len(SYMBOLS)]
                prices[symbol] += Decimal(rng.randint(-20, 20)) / 100
                batch.setdefault(symbol, []).append(prices[symbol])
            for symbol, walk in batch.items():
                fake.emit_prices(symbol, walk)
            sent += owed


@contextmanager
def service(ws_url: str, rest_url: str, port: int) -> Iterator[subprocess.Popen[str]]:
    """``criptoren serve`` on a migrated temporary SQLite file, until the block ends."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRIPTOREN_")}
        env.update(
            CRIPTOREN_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/bench.db",
            CRIPTOREN_BINANCE_WS_URL=ws_url,
            CRIPTOREN_BINANCE_REST_URL=rest_url,
            CRIPTOREN_ADMIN_TOKEN=ADMIN,
            CRIPTOREN_RATE_LIMIT_PER_SECOND="0",  # its clients place orders in bursts
        )
        subprocess.run([CRIPTOREN, "migrate"], env=env, check=True, capture_output=True)
        proc = subprocess.Popen(
            [CRIPTOREN, "serve", "--port", str(port)],
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stderr is not None
        for line in proc.stderr:
            if "Uvicorn running on" in line:
                break
        else:
            raise RuntimeError("the service did not start")
        log = Path(tmp) / "service.log"
        with log.open("w") as out:
            drain = subprocess.Popen(["cat"], stdin=proc.stderr, stdout=out)
        try:
            yield proc
        except BaseException:
            # a failed run says what the service logged last (it may have died)
            print(f"the service (exit code {proc.poll()}) logged last:", file=sys.stderr)
            print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        finally:
            proc.terminate()
            proc.wait(30)
            drain.wait(5)


def rss_kib(pid: int) -> int:
    """Resident memory of a process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Client(asyncio.Protocol):
    """One stream client on ``websockets``' sans-I/O protocol: no task per client, so a
    thousand of them cost this process little (it must out-run the service it measures)."""

    def __init__(self, index: int, token: str, url: str, bench: Bench) -> None:
        self.index = index
        self.token = token
        self.bench = bench
        self.protocol = ClientProtocol(parse_uri(url), max_size=None)
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.snapshot: asyncio.Future[None] = loop.create_future()
        self.watching: asyncio.Future[None] = loop.create_future()
        self.placed: asyncio.Future[tuple[float, float]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a uvloop TCP transport
        request = self.protocol.connect()
        request.headers["Authorization"] = f"Bearer {self.token}"
        self.protocol.send_request(request)
        self._flush()

    def send(self, message: dict[str, object]) -> None:
        self.protocol.send_text(orjson.dumps(message))
        self._flush()

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        received = time.time()
        for event in self.protocol.events_received():
            if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self._on_message(orjson.loads(event.data), received)
        self._flush()  # pongs to the server's pings

    def _on_message(self, message: dict[str, Any], received: float) -> None:
        kind = message["type"]
        if kind == "price":
            if self.bench.recording:
                self.bench.staleness.append(received * 1000 - message["time"])
        elif kind == "snapshot":
            self.snapshot.set_result(None)
        elif kind == "order" and message["event"] == "placed":
            if self.placed is not None and not self.placed.done():
                created = datetime.fromisoformat(message["order"]["created_at"]).timestamp()
                self.placed.set_result((time.perf_counter(), (received - created) * 1000))
        elif kind == "watchlist" and len(message["watchlist"]) == 3 and not self.watching.done():
            self.watching.set_result(None)

    def _flush(self) -> None:
        if self.transport is not None:
            for chunk in self.protocol.data_to_send():
                if chunk:
                    self.transport.write(chunk)


class Bench:
    """Shared recording state."""

    def __init__(self) -> None:
        self.recording = False
        self.staleness: list[float] = []
        self.delivery: list[float] = []
        self.roundtrip: list[float] = []
        self.lag: list[float] = []

    async def watch_lag(self) -> None:
        """This process's own event-loop lag (a 10 ms timer's overshoot): the clients' share."""
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.01)
            if self.recording:
                self.lag.append((time.perf_counter() - started - 0.01) * 1000)


def p(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank); NaN without values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def new_tokens(http: httpx.AsyncClient, count: int) -> list[str]:
    """``count`` clients created through the admin API, 16 requests at a time."""
    gate = asyncio.Semaphore(16)

    async def one(i: int) -> str:
        async with gate:
            r = await http.post("/api/v1/clients", json={"name": f"c{i}"}, headers=_auth(ADMIN))
            r.raise_for_status()
            token: str = r.json()["token"]
            return token

    return list(await asyncio.gather(*(one(i) for i in range(count))))


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def open_client(port: int, index: int, token: str, bench: Bench) -> Client:
    """Connect and wait for the snapshot."""
    url = f"ws://127.0.0.1:{port}/api/v1/stream"
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(
        lambda: Client(index, token, url, bench), "127.0.0.1", port
    )
    await asyncio.wait_for(client.snapshot, 60)
    return client


async def probe_orders(http: httpx.AsyncClient, clients: list[Client], bench: Bench) -> None:
    """One order at a time, for client after client: created -> ``placed`` received."""
    body = {"symbol": "BTCUSDT", "side": "buy", "target_price": "50", "quantity": "1"}
    k = 0
    while True:
        client = clients[k % len(clients)]
        k += 1
        client.placed = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        r = await http.post("/api/v1/orders", json=body, headers=_auth(client.token))
        r.raise_for_status()
        arrived, delivered_ms = await asyncio.wait_for(client.placed, 60)
        if bench.recording:
            bench.delivery.append(delivered_ms)
            bench.roundtrip.append((arrived - started) * 1000)
        await asyncio.sleep(0.05)


async def emitted(exchange: httpx.AsyncClient) -> int:
    """Trades the fake exchange has emitted so far, every symbol."""
    reply = await exchange.get("/_control/status")
    reply.raise_for_status()
    return sum(reply.json()["emitted"].values())


class Tally:
    """What one condition (every client reading, or one more never reading) measured over
    its stretches."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.staleness: list[float] = []
        self.delivery: list[float] = []
        self.roundtrip: list[float] = []
        self.lag: list[float] = []
        self.cpu = self.wall = 0.0
        self.trades = 0

    def row(self) -> dict[str, float]:
        """The figures, printed."""
        row = {
            "prices": len(self.staleness),
            "stale_p50": p(self.staleness, 0.50),
            "stale_p99": p(self.staleness, 0.99),
            "orders": len(self.delivery),
            "order_p50": p(self.delivery, 0.50),
            "order_p99": p(self.delivery, 0.99),
            "post_p99": p(self.roundtrip, 0.99),
            "cpu": self.cpu / self.wall,
            "rate": self.trades / self.wall,
            "lag_p99": p(self.lag, 0.99),
        }
        print(
            f"{self.name:<26} prices {row['prices']:>7.0f}  staleness p50"
            f" {row['stale_p50']:6.1f} ms p99 {row['stale_p99']:6.1f} ms | orders"
            f" {row['orders']:>4.0f}  delivery p50 {row['order_p50']:5.1f} ms p99"
            f" {row['order_p99']:6.1f} ms (POST->placed p99 {row['post_p99']:6.1f} ms) |"
            f" service CPU {row['cpu']:.2f} cores | exchange {row['rate']:.0f} trades/s |"
            f" client loop lag p99 {row['lag_p99']:.1f} ms",
            flush=True,
        )
        return row


async def stretch(
    tally: Tally, bench: Bench, pid: int, exchange: httpx.AsyncClient, seconds: float
) -> None:
    """Record staleness, delivery, CPU and the trade rate for ``seconds`` into ``tally``."""
    for samples in (bench.staleness, bench.delivery, bench.roundtrip, bench.lag):
        samples.clear()
    bench.recording = True
    cpu0, wall0, trades0 = cpu_seconds(pid), time.perf_counter(), await emitted(exchange)
    await asyncio.sleep(seconds)
    bench.recording = False
    tally.wall += time.perf_counter() - wall0
    tally.cpu += cpu_seconds(pid) - cpu0
    tally.trades += await emitted(exchange) - trades0
    tally.staleness += bench.staleness
    tally.delivery += bench.delivery
    tally.roundtrip += bench.roundtrip
    tally.lag += bench.lag


async def silent_client(port: int, token: str) -> ClientConnection:
    """A client that watches every symbol and then never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    async with asyncio.timeout(30):  # a hang here is a failed run, with the service's log
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        ws = await connect(
            f"ws://127.0.0.1:{port}/api/v1/stream",
            additional_headers=_auth(token),
            proxy=None,
            compression=None,
            ping_interval=None,
            max_queue=1,
            sock=sock,
        )
        await ws.recv()
        await ws.send(json.dumps({"type": "watch", "symbols": SYMBOLS}))
    ws.transport.pause_reading()
    return ws


async def run(args: argparse.Namespace) -> bool:
    proc, ws_url, rest_url = exchange_process.start_exchange(
        [sys.executable, str(Path(__file__)), "--exchange", "--rate", str(args.rate)]
    )
    port = free_port()
    try:
        with service(ws_url, rest_url, port) as server:
            # asked at each stretch's ends, 5 s apart: the exchange keeps an idle one 5 s
            exchange_limits = httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS)
            async with httpx.AsyncClient(
                base_url=rest_url, timeout=30, limits=exchange_limits
            ) as exchange:
                return await measure(server.pid, port, exchange, args)
    finally:
        proc.terminate()
        proc.wait(10)


async def measure(
    pid: int, port: int, exchange: httpx.AsyncClient, args: argparse.Namespace
) -> bool:
    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=32, keepalive_expiry=KEEPALIVE_SECONDS)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        tokens = await new_tokens(http, args.clients + 1)
        bench = Bench()
        lag = asyncio.create_task(bench.watch_lag())
        before = rss_kib(pid)
        clients = []
        for start in range(0, args.clients, 100):
            batch = range(start, min(start + 100, args.clients))
            clients += await asyncio.gather(
                *(open_client(port, i, tokens[i], bench) for i in batch)
            )
        per_connection = (rss_kib(pid) - before) / args.clients
        print(f"memory per idle connection: {per_connection:.1f} KiB", flush=True)
        for client in clients:
            i = client.index
            watch = [SYMBOLS[i % 20], SYMBOLS[(i + 7) % 20], SYMBOLS[(i + 13) % 20]]
            client.send({"type": "watch", "symbols": watch})
        await asyncio.wait_for(asyncio.gather(*(c.watching for c in clients)), 120)
        await asyncio.sleep(2.0)  # every symbol subscribed and streaming
        alone, stuck = Tally("all clients reading"), Tally("+ one client never reading")
        probe = asyncio.create_task(probe_orders(http, clients, bench))
        await asyncio.sleep(1.0)  # warm-up: probes and prices in flight
        part = args.seconds / args.rounds
        for _ in range(args.rounds):  # interleaved: the machine's drift hits both alike
            await stretch(alone, bench, pid, exchange, part)
            silent = await silent_client(port, tokens[-1])
            await stretch(stuck, bench, pid, exchange, part)
            silent.transport.abort()
        probe.cancel()
        lag.cancel()
        await asyncio.gather(probe, lag, return_exceptions=True)
        return verdict(alone.row(), stuck.row(), per_connection)


def verdict(alone: dict[str, float], stuck: dict[str, float], per_connection: float) -> bool:
    """Print and check the bars."""

    def within(key: str) -> bool:
        return abs(stuck[key] - alone[key]) <= max(0.2 * alone[key], 10.0)

    bars = {
        "staleness p99 <= 500 ms": max(alone["stale_p99"], stuck["stale_p99"]) <= 500,
        "order delivery p99 <= 100 ms": max(alone["order_p99"], stuck["order_p99"]) <= 100,
        "silent client moves staleness p99 <= 20 %": within("stale_p99"),
        "silent client moves delivery p99 <= 20 %": within("order_p99"),
        "memory per idle connection <= 64 KiB": per_connection <= 64,
    }
    for bar, ok in bars.items():
        print(f"{'PASS' if ok else 'FAIL'}  {bar}")
    return all(bars.values())


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=40.0, help="per condition")
    parser.add_argument("--rounds", type=int, default=8, help="alternations of the two")
    parser.add_argument("--rate", type=float, default=2000.0, help="trades/s, all symbols")
    parser.add_argument("--exchange", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.exchange:
        uvloop.run(serve_exchange(args.rate))
        return
    sys.exit(0 if uvloop.run(run(args)) else 1)


if __name__ == "__main__":
    main()
