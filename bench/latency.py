"""Tick-to-trade latency: a trade leaves the fake exchange -> the trade row is committed.

Run: ``.venv/bin/python bench/latency.py`` (``--quick`` for a short run, ``--samples N``).

The fake exchange runs in another process (this script re-executed with ``--exchange``: the
stock ``FakeExchange`` whose ``/_control/prices`` reply also carries the wall-clock moment of
the emission). The service runs in this process, as ``criptoren serve`` would run it (its
container, uvloop) minus the HTTP API, on SQLite (a migrated temporary file) and then on
PostgreSQL over loopback (a scratch database, dropped at the end).

One sample: place a buy ``lte`` order a little above the last price (``OrderService.place``
in a committed session, as the API does), wait until the wall clock is past the order's
creation millisecond (the index fires only trades younger than the order), then ask the
exchange for one trade at the last price. Measured:

- receive -> commit (the bar): ``perf_counter_ns`` in a price-book listener registered
  before the engine's (the feed client has just read and parsed the frame) to
  ``perf_counter_ns`` in an event-bus subscriber when ``EXECUTED`` is published, which the
  engine does right after the execution transaction committed;
- emission -> commit: ``time.time_ns`` taken by the exchange process when it emits the trade
  to ``time.time_ns`` in the same subscriber (two processes, one machine, one clock).

The exchange is driven over one keep-alive HTTP connection whose reply is read only after
the commit, so the service's event loop does nothing but the service's work meanwhile.
Baselines from the same run: the bare transaction (claim, trade insert, update) through the
same session factory, and ``Executor.execute`` called directly, both without feed or engine.
Exits 1 if a measured bar fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import exchange_process
from criptoren.bootstrap import Container, build_container
from criptoren.config import Settings
from criptoren.db import ledger
from criptoren.db.migrate import upgrade
from criptoren.db.models import PositionedOrder
from criptoren.db.repositories import OrderRepository, OrderRow, SymbolRepository
from criptoren.db.types import utcnow
from criptoren.domain.orders import Condition, OrderStatus, Side, TradeSource
from criptoren.engine.events import EventKind, OrderEvent
from criptoren.engine.executor import TriggerTick
from criptoren.engine.trigger_engine import epoch_ms
from criptoren.fake_exchange.server import FakeExchange, FakeExchangeConfig
from criptoren.market.schemas import AggTrade
from criptoren.services.auth import Principal
from criptoren.services.orders import OrderRequest
from criptoren.services.unit_of_work import commit, unit
from scratch_db import PG_ADMIN_DSN, PostgresUnreachable, scratch_postgres

ROOT = Path(__file__).resolve().parents[1]
SYMBOL = "BTCUSDT"
STREAM = "btcusdt@aggTrade"
PRICE = Decimal("60000.00")
TARGET = PRICE + Decimal("1.00")  # lte, above the last price: the next trade fires it
QUANTITY = Decimal("0.00100")
BAR_P50_MS = 2.0
BAR_P99_MS = 10.0
SAMPLE_TIMEOUT_S = 10.0


# --- the fake exchange's process ------------------------------------------------------------


class StampingExchange(FakeExchange):
    """The stock fake exchange; ``/_control/prices`` also replies the emission's wall clock."""

    emitted_ns = 0

    def emit_prices(self, symbol: str, prices: list[Decimal | str]) -> None:
        """Stamp, then emit (frames are queued now and written on the next loop turn)."""
        self.emitted_ns = time.time_ns()
        super().emit_prices(symbol, prices)

    async def control(self, action: str, params: dict[str, Any]) -> Any:
        """The stock control actions; ``prices`` answers ``{"ok": true, "emitted_ns": ..}``."""
        reply = await super().control(action, params)
        if action == "prices":
            return {"ok": True, "emitted_ns": self.emitted_ns}
        return reply


async def serve_exchange() -> None:
    """Body of the exchange process: print the URLs, serve until SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with StampingExchange(FakeExchangeConfig()) as fake:
        fake.emit_prices(SYMBOL, [PRICE])
        sys.stdout.write(f"ws_url={fake.ws_url} rest_url={fake.rest_url}\n")
        sys.stdout.flush()
        await stop.wait()


def start_exchange() -> tuple[subprocess.Popen[str], str, str]:
    """Start the fake exchange in its own process; return it and its URLs."""
    return exchange_process.start_exchange([sys.executable, __file__, "--exchange"])


class Control:
    """One keep-alive HTTP/1.1 connection to ``/_control/prices``: send now, read later."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.request = (
            f"POST /_control/prices?symbol={SYMBOL}&prices={PRICE} HTTP/1.1\r\n"
            "Host: exchange\r\nContent-Length: 0\r\n\r\n"
        ).encode()

    @classmethod
    async def open(cls, rest_url: str) -> Control:
        """Connect to the exchange's REST port."""
        host, port = httpx.URL(rest_url).host, httpx.URL(rest_url).port
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    def emit(self) -> None:
        """Ask for one trade at ``PRICE`` (a non-blocking write; the reply waits)."""
        self.writer.write(self.request)

    async def emitted_ns(self) -> int:
        """Read the reply of the last :meth:`emit`: the exchange's emission wall clock."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = head.split(b" ", 2)[1]
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = orjson.loads(await self.reader.readexactly(length))
        if status != b"200":
            raise RuntimeError(f"exchange control failed: {status!r} {body!r}")
        return int(body["emitted_ns"])

    async def close(self) -> None:
        """Close the connection."""
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def control(rest_url: str, action: str, **params: Any) -> Any:
    """One-off control request (set-up only)."""
    async with httpx.AsyncClient(base_url=rest_url, timeout=30) as http:
        reply = await http.post(f"/_control/{action}", params=params)
        reply.raise_for_status()
        return reply.json()


# --- measurement ----------------------------------------------------------------------------


@dataclass(slots=True)
class Sample:
    """One tick-to-trade, in ns."""

    received: int  # perf_counter_ns in the first price-book listener
    committed: int  # perf_counter_ns when EXECUTED was published
    received_wall: int  # time_ns, same moments
    committed_wall: int
    emitted_wall: int = 0  # time_ns in the exchange process


class Probe:
    """The first price-book listener and an event-bus subscriber."""

    def __init__(self) -> None:
        self.order_id: int | None = None
        self.received: tuple[int, int] | None = None
        self.done: asyncio.Future[Sample] | None = None

    def arm(self, order_id: int) -> asyncio.Future[Sample]:
        """Expect ``order_id`` to execute on the next trade."""
        self.order_id = order_id
        self.received = None
        self.done = asyncio.get_running_loop().create_future()
        return self.done

    def on_trade(self, trade: AggTrade) -> None:
        """Registered before the engine's listener: the feed client has just parsed the frame."""
        now = time.perf_counter_ns()
        if self.received is None and self.done is not None and trade.symbol == SYMBOL:
            self.received = (now, time.time_ns())

    def on_event(self, event: OrderEvent) -> None:
        """Published by the engine right after the execution transaction committed."""
        now = time.perf_counter_ns()
        wall = time.time_ns()
        if event.kind is not EventKind.EXECUTED or event.order_id != self.order_id:
            return
        done, received = self.done, self.received
        if done is None or done.done():
            return
        if received is None:
            done.set_exception(RuntimeError("order executed before its trade was received"))
            return
        done.set_result(Sample(received[0], now, received[1], wall))


@dataclass
class Stats:
    """Percentiles of a list of durations, in ms."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, values_ns: list[int]) -> Stats:
        """Nearest-rank percentiles."""
        ordered = sorted(values_ns)
        n = len(ordered)

        def rank(q: float) -> float:
            return ordered[max(0, math.ceil(q * n) - 1)] / 1e6

        return cls(n, rank(0.50), rank(0.90), rank(0.99), ordered[-1] / 1e6, sum(ordered) / n / 1e6)

    def row(self, label: str) -> str:
        """One table row."""
        return (
            f"  {label:<38} {self.p50:7.3f} {self.p90:7.3f} {self.p99:7.3f} {self.max:8.3f}"
            f" {self.mean:7.3f}"
        )


@dataclass
class DbResult:
    """Everything measured on one database."""

    name: str
    detail: str
    measured: bool = True
    reason: str = ""
    rows: dict[str, Stats] = field(default_factory=dict)

    @property
    def bar(self) -> Stats | None:
        """The figure the bars apply to."""
        return self.rows.get("receive -> commit")

    def passes(self) -> tuple[bool, bool]:
        """(p50 bar, p99 bar)."""
        bar = self.bar
        assert bar is not None
        return bar.p50 <= BAR_P50_MS, bar.p99 <= BAR_P99_MS


def service_settings(url: str, ws_url: str, rest_url: str) -> Settings:
    """The service's settings against the bench database and the fake exchange."""
    return Settings(
        database_url=url,
        binance_rest_url=rest_url,
        binance_ws_url=ws_url,
        admin_token=None,
        sync_symbols_on_start=True,
    )


async def place(container: Container, principal: Principal) -> OrderRow:
    """Place one order through the service, committed (the follower indexes it)."""
    request = OrderRequest(None, SYMBOL, Side.BUY, TARGET, QUANTITY, Condition.LTE)
    async with unit(container.session_factory, container.database) as work:
        return await container.orders.place(work, principal, request)


async def past_millisecond(ms: int) -> None:
    """Sleep into a millisecond after ``ms`` (+1 ms: the placement's after-commit work settles)."""
    ahead = ((ms + 1) * 1_000_000 - time.time_ns()) / 1e9
    await asyncio.sleep(max(0.0, ahead) + 0.001)


async def tick_to_trade(
    container: Container, probe: Probe, principal: Principal, ctl: Control, count: int
) -> list[Sample]:
    """``count`` samples, one order and one trade each."""
    samples: list[Sample] = []
    for _ in range(count):
        order = await place(container, principal)
        await past_millisecond(epoch_ms(order.created_at))
        done = probe.arm(order.id)
        ctl.emit()
        sample = await asyncio.wait_for(done, SAMPLE_TIMEOUT_S)
        sample.emitted_wall = await ctl.emitted_ns()
        samples.append(sample)
    probe.order_id = None
    probe.done = None
    return samples


async def waiting_orders(
    sessions: async_sessionmaker[AsyncSession], client_id: int, count: int
) -> list[int]:
    """Waiting orders stored directly (the engine's index never sees them)."""
    async with sessions() as session, session.begin():
        repository = OrderRepository(session)
        rules = await SymbolRepository(session).get(SYMBOL)
        assert rules is not None
        ids = []
        for _ in range(count):
            order = await repository.add(
                PositionedOrder(
                    client_id=client_id,
                    symbol_id=rules.symbol_id,
                    symbol=SYMBOL,
                    type=Side.BUY.value,
                    target_price=TARGET,
                    quantity=QUANTITY,
                    status=OrderStatus.WAITING.value,
                    condition=Condition.LTE.value,
                    reference_price=PRICE,
                )
            )
            ids.append(order.id)
    return ids


async def bare_transaction(
    sessions: async_sessionmaker[AsyncSession], order_id: int, client_id: int
) -> tuple[int, int, int]:
    """Claim, insert the trade, mark executed, commit; returns (start, before commit, end)."""
    start = time.perf_counter_ns()
    async with sessions() as session:
        async with session.begin():
            rules = await SymbolRepository(session).get(SYMBOL)
            assert rules is not None

            def work(connection: Connection) -> None:
                assert ledger.claim(connection, order_id) is not None
                trade_id = ledger.insert_trade(
                    connection,
                    {
                        "client_id": client_id,
                        "symbol_id": rules.symbol_id,
                        "symbol": SYMBOL,
                        "type": Side.BUY,
                        "price": PRICE,
                        "quantity": QUANTITY,
                        "fee": Decimal("0.06"),
                        "fee_asset": "USDT",
                        "positioned_order_id": order_id,
                        "source": TradeSource.ENGINE,
                        "mode": "paper",
                        "executed_at": utcnow(),
                    },
                )
                ledger.transition(
                    connection,
                    order_id,
                    OrderStatus.TRIGGERED,
                    OrderStatus.EXECUTED,
                    executed_trade_id=trade_id,
                )

            await ledger.run_in(session, work)
            before_commit = time.perf_counter_ns()
        end = time.perf_counter_ns()
    return start, before_commit, end


async def baselines(
    container: Container, client_id: int, count: int, warmup: int
) -> dict[str, Stats]:
    """The database work alone: bare transaction and ``Executor.execute``, no feed, no engine."""
    sessions = container.session_factory
    bare: list[tuple[int, int, int]] = []
    for order_id in await waiting_orders(sessions, client_id, warmup + count):
        bare.append(await bare_transaction(sessions, order_id, client_id))
    bare = bare[warmup:]
    executor = container.trigger_engine.executor
    executed: list[int] = []
    agg_id = 10**12  # far beyond the live trades: the cursor upsert writes every time
    for order_id in await waiting_orders(sessions, client_id, warmup + count):
        agg_id += 1
        tick = TriggerTick(SYMBOL, agg_id, PRICE, int(time.time() * 1000))
        start = time.perf_counter_ns()
        event = await executor.execute(order_id, tick)
        executed.append(time.perf_counter_ns() - start)
        assert event is not None
        assert event.kind is EventKind.EXECUTED, event
    return {
        "bare txn: claim+insert+update+commit": Stats.of([e - s for s, _, e in bare]),
        "  of which statements": Stats.of([c - s for s, c, _ in bare]),
        "  of which COMMIT": Stats.of([e - c for _, c, e in bare]),
        "Executor.execute alone": Stats.of(executed[warmup:]),
    }


async def measure(
    result: DbResult, url: str, ws_url: str, rest_url: str, count: int, warmup: int
) -> None:
    """Run the service on ``url`` and fill ``result``."""
    container = build_container(service_settings(url, ws_url, rest_url))
    probe = Probe()
    container.feed.book.add_listener(probe.on_trade)  # before start(), which adds the engine's
    container.bus.subscribe(probe.on_event)
    ctl = await Control.open(rest_url)
    try:
        await container.start()
        async with container.session_factory() as session:
            issued = await container.clients.create(session, "latency-bench")
            await commit(session)
        client_id = issued.client.id
        principal = Principal(client_id=client_id)
        await container.feed.watch([SYMBOL])
        await control(rest_url, "wait_subscribed", stream=STREAM)
        samples = await tick_to_trade(container, probe, principal, ctl, warmup + count)
        samples = samples[warmup:]
        await container.trigger_engine.wait_idle()
        result.rows["receive -> commit"] = Stats.of([s.committed - s.received for s in samples])
        result.rows["emission -> commit (wall clocks)"] = Stats.of(
            [s.committed_wall - s.emitted_wall for s in samples]
        )
        result.rows["  emission -> receive"] = Stats.of(
            [s.received_wall - s.emitted_wall for s in samples]
        )
        result.rows.update(await baselines(container, client_id, count, warmup))
    finally:
        await ctl.close()
        await container.aclose()


async def run_sqlite(ws_url: str, rest_url: str, count: int, warmup: int) -> DbResult:
    """SQLite: a migrated temporary file (WAL, as the service configures it)."""
    with tempfile.TemporaryDirectory(prefix="criptoren-latency-") as tmp:
        path = Path(tmp) / "latency.db"
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade(url)
        result = DbResult("SQLite", f"{path} (aiosqlite, WAL)")
        await measure(result, url, ws_url, rest_url, count, warmup)
    return result


async def run_postgres(ws_url: str, rest_url: str, count: int, warmup: int) -> DbResult:
    """PostgreSQL on loopback: a scratch database, dropped at the end."""
    result = DbResult("PostgreSQL", PG_ADMIN_DSN)
    try:
        async with scratch_postgres("criptoren_bench") as (url, detail):
            result.detail = detail
            await measure(result, url, ws_url, rest_url, count, warmup)
    except PostgresUnreachable as exc:
        result.measured = False
        result.reason = str(exc)
    return result


async def run(args: argparse.Namespace) -> list[DbResult]:
    """Both databases against one exchange process."""
    proc, ws_url, rest_url = start_exchange()
    try:
        results = [await run_sqlite(ws_url, rest_url, args.samples, args.warmup)]
        if args.no_postgres:
            results.append(DbResult("PostgreSQL", "", False, "skipped (--no-postgres)"))
        else:
            results.append(await run_postgres(ws_url, rest_url, args.samples, args.warmup))
        return results
    finally:
        proc.terminate()
        proc.wait(10)


# --- report ---------------------------------------------------------------------------------


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def report(results: list[DbResult]) -> bool:
    """Print every table; True when every measured bar passes."""
    ok = True
    header = f"  {'ms':<38} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>8} {'mean':>7}"
    for result in results:
        print(f"\n{result.name}: {result.detail}")
        if not result.measured:
            print(f"  not measured: {result.reason}")
            print(f"  bar p50 <= {BAR_P50_MS:g} ms : not measured")
            print(f"  bar p99 <= {BAR_P99_MS:g} ms : not measured")
            continue
        print(header)
        for label, stats in result.rows.items():
            print(stats.row(label))
        p50_ok, p99_ok = result.passes()
        bar = result.bar
        assert bar is not None
        print(f"  bar p50 <= {BAR_P50_MS:g} ms : {bar.p50:.3f} ms {verdict(p50_ok)}")
        print(f"  bar p99 <= {BAR_P99_MS:g} ms : {bar.p99:.3f} ms {verdict(p99_ok)}")
        ok = ok and p50_ok and p99_ok
    return ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--samples", type=int, default=1000, help="measured samples per database")
    parser.add_argument("--warmup", type=int, default=None, help="excluded samples (default 50)")
    parser.add_argument("--quick", action="store_true", help="200 samples, 20 warm-up")
    common_options(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.samples = min(args.samples, 200)
    if args.warmup is None:
        args.warmup = 20 if args.quick else 50
    if args.samples < 1:
        parser.error("--samples must be >= 1")
    return args


def common_options(parser: argparse.ArgumentParser) -> None:
    """``--loop``, ``--no-postgres`` and the hidden ``--exchange`` (shared by bench/burst.py)."""
    parser.add_argument(
        "--loop", choices=("uvloop", "asyncio"), default="uvloop", help="as `criptoren serve`"
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--exchange", action="store_true", help=argparse.SUPPRESS)


def run_loop(main: Callable[[], Coroutine[Any, Any, Any]], loop: str) -> Any:
    """``asyncio.run`` on uvloop (what uvicorn picks when installed) or the stdlib loop."""
    if loop == "uvloop":
        import uvloop

        return uvloop.run(main())
    return asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if a measured bar fails."""
    args = parse_args(argv)
    if args.exchange:
        asyncio.run(serve_exchange())
        return 0
    print(
        f"Tick-to-trade latency: {args.samples:,} samples per database "
        f"({args.warmup} warm-up excluded), Python {platform.python_version()}, "
        f"{args.loop}, {os.cpu_count()} CPUs"
    )
    print(f"load average before: {load()} (other work on this machine inflates every figure)")
    started = time.perf_counter()
    results = run_loop(lambda: run(args), args.loop)
    ok = report(results)
    print(f"\nload average after: {load()}; total {time.perf_counter() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
