"""Bursts: one trade fires thousands of waiting orders; how fast are they all committed?

Run: ``.venv/bin/python bench/burst.py`` (``--orders N``, ``--live-orders N``, ``--no-postgres``).

The fake exchange runs in another process (this script re-executed with ``--exchange``),
with a trading account for live mode; its REQUEST_WEIGHT limit is the recorded
exchangeInfo's (6000 per minute), enforced with 429s. The service runs in this process as
``criptoren serve`` would (its container, uvloop) minus the HTTP API, on SQLite (a
migrated temporary file) and then on PostgreSQL over loopback (a scratch database).

Per database, paper mode: 10,000 waiting buys at one level over 100 clients (stored in
one statement, then indexed as the services would), then one trade through the level.
Measured from ``perf_counter_ns`` in a price-book listener registered before the engine's
(the feed has just parsed the trade) to each order's ``EXECUTED`` event (published right
after its batch committed): the last one (the burst), and the per-order p50/p99. Checked
in the database afterwards: every order executed exactly once, at the trade's price.
Same run, for comparison: a smaller burst executed one order per transaction (batches of
one, as before batching). Then live mode: ``--live-orders`` fired orders, each its own
MARKET order at the fake exchange; reported: the total time and the 429s the exchange
answered (the bar: none).

CPU: the process's CPU time over each burst is reported beside the wall time (this
machine is shared; the wall time includes waiting for the CPU). It covers the service and
the SQLite writer thread; PostgreSQL's server process is not included.
Exits 1 if a measured bar fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import insert, select

import exchange_process
import latency
from criptoren.bootstrap import Container, build_container
from criptoren.config import Mode, Settings
from criptoren.db.migrate import upgrade
from criptoren.db.models import PositionedOrder, Trade
from criptoren.db.repositories import SymbolRepository
from criptoren.db.types import utcnow
from criptoren.domain.money import to_units
from criptoren.domain.orders import Condition, OrderStatus, Side
from criptoren.domain.trigger_index import WaitingOrder
from criptoren.engine.events import EventKind, OrderEvent
from criptoren.engine.trigger_engine import epoch_ms
from criptoren.fake_exchange.server import FakeExchange, FakeExchangeConfig
from criptoren.market.schemas import AggTrade
from criptoren.services.unit_of_work import commit
from latency import Stats, common_options, control, load, run_loop, verdict
from scratch_db import PG_ADMIN_DSN, PostgresUnreachable, scratch_postgres

SYMBOL = "BTCUSDT"
STREAM = "btcusdt@aggTrade"
PRICE = Decimal("60000.00")
LEVEL = Decimal("59990.00")  # every order waits here: buy when the price is <= it
TRADE = Decimal("59980.00")  # the one trade through the level
QUANTITY = Decimal("0.00100")
API_KEY, API_SECRET = "burst-bench-key", "burst-bench-secret"
BAR_FILLS_PER_S = 5000.0
TIMEOUT_S = 300.0


# --- the fake exchange's process ------------------------------------------------------------


async def serve_exchange() -> None:
    """Body of the exchange process: print the URLs, serve until SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with FakeExchange(FakeExchangeConfig()) as fake:
        fake.add_account(API_KEY, API_SECRET, {"USDT": Decimal(10**9), "BTC": Decimal(10**3)})
        fake.emit_prices(SYMBOL, [PRICE])
        sys.stdout.write(f"ws_url={fake.ws_url} rest_url={fake.rest_url}\n")
        sys.stdout.flush()
        await stop.wait()


# --- measurement ----------------------------------------------------------------------------


class Probe:
    """The first price-book listener, and an event subscriber counting ``EXECUTED``."""

    def __init__(self) -> None:
        self.received = 0
        self.committed: dict[int, int] = {}
        self.expected = 0
        self.done: asyncio.Future[None] | None = None

    def arm(self, count: int) -> asyncio.Future[None]:
        """Expect ``count`` executions from the next trade on."""
        self.received, self.expected = 0, count
        self.committed = {}
        self.done = asyncio.get_running_loop().create_future()
        return self.done

    def on_trade(self, trade: AggTrade) -> None:
        """Registered before the engine's listener: the feed has just parsed the frame."""
        if self.done is not None and not self.received and trade.symbol == SYMBOL:
            self.received = time.perf_counter_ns()

    def on_event(self, event: OrderEvent) -> None:
        """Published right after the order's transaction committed."""
        if event.kind is not EventKind.EXECUTED or self.done is None:
            return
        self.committed[event.order_id] = time.perf_counter_ns()
        if len(self.committed) >= self.expected and not self.done.done():
            self.done.set_result(None)


@dataclass
class Burst:
    """One burst's figures."""

    label: str
    orders: int
    wall_s: float = 0.0
    cpu_s: float = 0.0
    per_order: Stats | None = None
    exact: str = ""  # "" when every order executed exactly once at the trade's price
    refused_429: int | None = None

    @property
    def fills_per_s(self) -> float:
        """Orders executed per second of wall time."""
        return self.orders / self.wall_s if self.wall_s else 0.0


@dataclass
class DbResult(latency.DbResult):
    """Everything measured on one database."""

    bursts: list[Burst] = field(default_factory=list)


def settings(url: str, ws_url: str, rest_url: str, *, live: bool) -> Settings:
    """The service's settings against the bench database and the fake exchange."""
    extra: dict[str, Any] = {}
    if live:
        extra = {
            "mode": Mode.LIVE,
            "binance_api_key": SecretStr(API_KEY),
            "binance_api_secret": SecretStr(API_SECRET),
        }
    return Settings(
        database_url=url,
        binance_rest_url=rest_url,
        binance_ws_url=ws_url,
        admin_token=None,
        sync_symbols_on_start=True,
        **extra,
    )


async def clients(container: Container, count: int) -> list[int]:
    """``count`` clients, created as the admin API does."""
    ids = []
    async with container.session_factory() as session:
        for i in range(count):
            issued = await container.clients.create(session, f"burst-{i}")
            ids.append(issued.client.id)
        await commit(session)
    return ids


async def waiting_buys(container: Container, client_ids: list[int], count: int, tag: str) -> None:
    """``count`` waiting buys at ``LEVEL`` over the clients, stored at once, then indexed."""
    async with container.session_factory() as session, session.begin():
        rules = await SymbolRepository(session).get(SYMBOL)
        assert rules is not None
        rows = [
            {
                "client_id": client_ids[i % len(client_ids)],
                "symbol_id": rules.symbol_id,
                "symbol": SYMBOL,
                "type": Side.BUY,
                "target_price": LEVEL,
                "quantity": QUANTITY,
                "status": OrderStatus.WAITING,
                "condition": Condition.LTE,
                "reference_price": PRICE,
                "client_order_id": f"{tag}-{i}",
                "created_at": utcnow(),
            }
            for i in range(count)
        ]
        statement = insert(PositionedOrder).returning(
            PositionedOrder.id, PositionedOrder.created_at, sort_by_parameter_order=True
        )
        stored = (await session.execute(statement, rows)).all()
    for order_id, created_at in stored:
        created_ms = epoch_ms(created_at)
        waiting = WaitingOrder(order_id, SYMBOL, Condition.LTE, to_units(LEVEL), created_ms)
        container.trigger_engine.add_order(waiting)
    last_ms = max(epoch_ms(c) for _, c in stored)
    await asyncio.sleep(max(0.0, (last_ms + 2) / 1000 - time.time()))  # trades after creation


async def exactly_once(container: Container, ids: set[int], price: Decimal | None) -> str:
    """``""`` when each order is ``executed`` with exactly one trade (at ``price``, if given)."""
    async with container.session_factory() as session:
        query = select(Trade.positioned_order_id, Trade.price)
        trades = (await session.execute(query.where(Trade.positioned_order_id.in_(ids)))).all()
        query = select(PositionedOrder.status).where(PositionedOrder.id.in_(ids))
        statuses = Counter((await session.execute(query)).scalars())
    per_order = Counter(order_id for order_id, _ in trades)
    problems = []
    if set(per_order) != ids or any(n != 1 for n in per_order.values()):
        problems.append(f"{len(per_order)} orders traded, {sum(per_order.values())} trades")
    if statuses != {OrderStatus.EXECUTED: len(ids)}:
        problems.append(f"statuses {dict(statuses)}")
    prices = {p for _, p in trades}
    if price is not None and prices - {price}:
        problems.append(f"prices {sorted(prices)[:5]}")
    return "; ".join(problems)


@dataclass
class Bench:
    """One running service, its probe, its clients and the exchange's control URL."""

    container: Container
    probe: Probe
    rest_url: str
    clients: list[int]
    live: bool

    async def burst(self, label: str, count: int, tag: str) -> Burst:
        """Store ``count`` waiting buys, fire them with one trade, measure, check."""
        await waiting_buys(self.container, self.clients, count, tag)
        refused = len(await control(self.rest_url, "weight_refused"))
        done = self.probe.arm(count)
        cpu = time.process_time()
        await control(self.rest_url, "prices", symbol=SYMBOL, prices=str(TRADE))
        await asyncio.wait_for(done, TIMEOUT_S)
        result = Burst(label, count, cpu_s=time.process_time() - cpu)
        received, committed = self.probe.received, self.probe.committed
        result.wall_s = (max(committed.values()) - received) / 1e9
        result.per_order = Stats.of([t - received for t in committed.values()])
        self.probe.done = None
        await self.container.trigger_engine.wait_idle()
        price = None if self.live else TRADE  # live: the exchange's fill price
        result.exact = await exactly_once(self.container, set(committed), price)
        result.refused_429 = len(await control(self.rest_url, "weight_refused")) - refused
        # back above the level, so that the next burst's trade crosses it again
        await control(self.rest_url, "prices", symbol=SYMBOL, prices=str(PRICE))
        return result


async def bursts(bench: Bench, args: Any, tag: str) -> list[Burst]:
    """Paper: batched, then one order per transaction; live: one burst."""
    if bench.live:
        return [await bench.burst(f"live, {args.live_orders:,} orders", args.live_orders, tag)]
    batched = await bench.burst(f"paper, {args.orders:,} orders, batched", args.orders, tag)
    bench.container.trigger_engine.batch_size = 1
    label = f"paper, {args.baseline:,} orders, 1 per transaction"
    return [batched, await bench.burst(label, args.baseline, f"{tag}b")]


async def measure(result: DbResult, url: str, ws_url: str, rest_url: str, args: Any) -> None:
    """Paper bursts, then a live burst, on ``url``."""
    for live in (False, True):
        if live and not args.live_orders:
            continue
        container = build_container(settings(url, ws_url, rest_url, live=live))
        probe = Probe()
        container.feed.book.add_listener(probe.on_trade)  # before start(): before the engine's
        container.bus.subscribe(probe.on_event)
        try:
            await container.start()
            await container.feed.watch([SYMBOL])
            await control(rest_url, "wait_subscribed", stream=STREAM)
            bench = Bench(container, probe, rest_url, await clients(container, 100), live)
            tag = f"{result.name[:2].lower()}{'l' if live else 'p'}"
            result.bursts += await bursts(bench, args, tag)
        finally:
            await container.aclose()


async def run(args: argparse.Namespace) -> list[DbResult]:
    """SQLite (a migrated temporary file), then PostgreSQL (a scratch database), one exchange."""
    proc, ws_url, rest_url = exchange_process.start_exchange(
        [sys.executable, __file__, "--exchange"]
    )
    try:
        with tempfile.TemporaryDirectory(prefix="criptoren-burst-") as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'burst.db'}"
            await upgrade(url)
            results = [DbResult("SQLite", f"{url} (WAL)")]
            await measure(results[0], url, ws_url, rest_url, args)
        results.append(DbResult("PostgreSQL", PG_ADMIN_DSN))
        if args.no_postgres:
            results[1].measured, results[1].reason = False, "skipped (--no-postgres)"
            return results
        try:
            async with scratch_postgres("criptoren_burst") as (url, results[1].detail):
                await measure(results[1], url, ws_url, rest_url, args)
        except PostgresUnreachable as exc:
            results[1].measured, results[1].reason = False, str(exc)
        return results
    finally:
        proc.terminate()
        proc.wait(10)


# --- report ---------------------------------------------------------------------------------


def report(results: list[DbResult]) -> bool:
    """Print every table; True when every measured bar passes."""
    verdicts = [table(result) for result in results]
    return all(verdicts)


def table(result: DbResult) -> bool:
    """One database's table and bars (True: passed, or not measured)."""
    print(f"\n{result.name}: {result.detail}")
    if not result.measured:
        print(f"  not measured: {result.reason}")
        return True
    columns = ("wall s", "CPU s", "fills/s", "p50 ms", "p99 ms")
    print(f"  {'burst':<38} " + " ".join(f"{c:>8}" for c in columns) + "  checks")
    for one in result.bursts:
        stats = one.per_order
        assert stats is not None
        checks = one.exact or "each order once, at the trade's price"
        if one.label.startswith("live"):
            checks = (one.exact or "each order once") + f", {one.refused_429} x 429"
        figures = f"{one.wall_s:8.2f} {one.cpu_s:8.2f} {one.fills_per_s:8.0f}"
        figures += f" {stats.p50:8.0f} {stats.p99:8.0f}"
        print(f"  {one.label:<38} {figures}  {checks}")
    return bars(result)


def bars(result: DbResult) -> bool:
    """Print and judge the bars of one database."""
    ok = True
    for one in result.bursts:
        if one.label.endswith("batched"):
            good = one.fills_per_s >= BAR_FILLS_PER_S and not one.exact
            print(
                f"  bar >= {BAR_FILLS_PER_S:,.0f} fills/s, each once at the trade's price:"
                f" {one.fills_per_s:,.0f} {verdict(good)}"
            )
            ok = ok and good
        elif one.label.startswith("live"):
            good = one.refused_429 == 0 and not one.exact
            print(f"  bar live: no 429, each order once: {one.refused_429} x 429 {verdict(good)}")
            ok = ok and good
    return ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orders", type=int, default=10_000, help="orders in the paper burst")
    parser.add_argument(
        "--baseline", type=int, default=2_000, help="orders executed one per transaction"
    )
    parser.add_argument("--live-orders", type=int, default=1_000, help="0: no live burst")
    common_options(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if a measured bar fails."""
    args = parse_args(argv)
    if args.exchange:
        asyncio.run(serve_exchange())
        return 0
    print(
        f"Bursts: {args.orders:,} buys at one level over 100 clients, one trade through it; "
        f"Python {platform.python_version()}, {args.loop}, {os.cpu_count()} CPUs"
    )
    print(f"load average before: {load()} (a shared machine: compare wall time with CPU time)")
    started = time.perf_counter()
    ok = report(run_loop(lambda: run(args), args.loop))
    print(f"\nload average after: {load()}; total {time.perf_counter() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
