"""Scratch PostgreSQL databases, DB probes and helpers for tests that drive real processes.

Everything here is for crash and concurrency tests that drive ``criptoren serve`` as real
processes (``tests/support/live.py``) and look at what they left in the database.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import asyncpg
import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from criptoren.db.migrate import upgrade
from criptoren.db.models import FeedCursor, PositionedOrder, Trade
from criptoren.fake_exchange import FakeExchange
from tests.support.databases import DEFAULT_ADMIN_DSN, skip_or_fail
from tests.support.live import LoopThread
from tests.support.oracle import OracleOrder, OracleTrade

T = TypeVar("T")


# --- polling --------------------------------------------------------------------------


def poll_until(
    check: Callable[[], T | None],
    *,
    within: float,
    every: float = 0.05,
    what: str = "condition",
    describe: Callable[[], str] | None = None,
) -> T:
    """Call ``check`` until it returns something truthy; AssertionError after ``within`` s.

    For state that lives in another process (a database a subprocess writes), where no
    in-process event exists to wait on. Bounded, never a bare sleep.
    """
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            detail = f"\n{describe()}" if describe is not None else ""
            raise AssertionError(f"timed out after {within}s waiting for {what}{detail}")
        time.sleep(every)


# --- the fake exchange, driven from the test thread -----------------------------------


class ExchangeDriver:
    """Thread-safe access to a :class:`FakeExchange` running on a :class:`LoopThread`."""

    def __init__(self, loop: LoopThread, exchange: FakeExchange) -> None:
        self.loop = loop
        self.exchange = exchange

    def _call(self, fn: Callable[[], T]) -> T:
        async def run() -> T:
            return fn()

        return self.loop.run(run())

    def emit(self, symbol: str, prices: Sequence[Decimal]) -> None:
        """Emit one trade per price, on the exchange's own loop."""
        self._call(lambda: self.exchange.emit_prices(symbol, list(prices)))

    def wait_subscribed(self, stream: str, count: int = 1, within: float = 15.0) -> None:
        """Block until ``count`` connections carry ``stream``."""
        self.loop.run(self.exchange.wait_subscribed(stream, count, within), within + 5)

    def tape(self, symbol: str) -> list[OracleTrade]:
        """Every aggregate trade the exchange emitted for ``symbol`` (what REST serves too)."""
        records = self._call(lambda: list(self.exchange.market.tape(symbol).records))
        return [OracleTrade(r.a, Decimal(r.p), r.T) for r in records]


# --- scratch PostgreSQL databases -----------------------------------------------------


def _admin_dsn() -> str:
    url = os.environ.get("CRIPTOREN_TEST_POSTGRES_URL")
    if url is None:
        return DEFAULT_ADMIN_DSN
    admin = make_url(url).set(drivername="postgresql", database="postgres")
    return admin.render_as_string(hide_password=False)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    loop = LoopThread()
    try:
        return loop.run(coroutine)
    finally:
        loop.close()


async def _create_database(name: str) -> str | None:
    try:
        admin = await asyncpg.connect(_admin_dsn(), timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL is not reachable: {exc!r}"
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        # commits return before their WAL reaches the disk (~2 ms each here): only a crash
        # of the PostgreSQL server itself could lose them, and no test crashes the server
        await admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
    finally:
        await admin.close()
    return None


async def _drop_database(name: str) -> None:
    admin = await asyncpg.connect(_admin_dsn(), timeout=3)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@contextmanager
def scratch_postgres(name: str) -> Iterator[str | None]:
    """A new, empty database ``name`` on the test server (dropped afterwards).

    Yields its SQLAlchemy URL, or ``None`` when the server is unreachable (the caller
    decides between skip and fail).
    """
    problem = _run(_create_database(name))
    if problem is not None:
        yield None
        return
    dsn = make_url(_admin_dsn()).set(drivername="postgresql+asyncpg", database=name)
    try:
        yield dsn.render_as_string(hide_password=False)
    finally:
        _run(_drop_database(name))


_scratch_serial = iter(range(1_000_000))


@contextmanager
def migrated_postgres(prefix: str = "criptoren_proc") -> Iterator[str]:
    """A migrated scratch PostgreSQL database of its own (skip or fail when unreachable)."""
    with scratch_postgres(f"{prefix}_{os.getpid()}_{next(_scratch_serial)}") as url:
        if url is None:
            skip_or_fail("PostgreSQL is not reachable on the test server")
            raise AssertionError("unreachable")
        _run(upgrade(url))
        yield url


# --- reading what the service processes left in the database --------------------------


@dataclass(frozen=True)
class LedgerOrder:
    """A positioned order as stored."""

    id: int
    side: str
    condition: str
    target: Decimal
    quantity: Decimal
    status: str
    created_ms: int
    executed_trade_id: int | None

    def oracle(self) -> OracleOrder:
        """The oracle's view of this order."""
        return OracleOrder(
            self.id,
            self.side,
            self.condition,
            self.target,
            self.quantity,
            self.created_ms,
            cancelled=self.status == "cancelled",
        )


@dataclass(frozen=True)
class LedgerTrade:
    """A trade row written by the engine."""

    id: int
    order_id: int
    price: Decimal
    quantity: Decimal
    fee: Decimal


class DbProbe:
    """Read-only queries against a database that service processes write to."""

    def __init__(self, url: str) -> None:
        self.loop = LoopThread()
        # NullPool: no connection outlives a query (the scratch database is dropped later;
        # SQLite readers never hold the file between polls); a plain engine, not the
        # service's (whose BEGIN IMMEDIATE would make every read a writer on SQLite).
        self.engine: AsyncEngine = create_async_engine(url, poolclass=NullPool)

    def close(self) -> None:
        """Release the engine and its loop."""
        self.loop.run(self.engine.dispose())
        self.loop.close()

    def _scalar(self, query: Any) -> Any:
        async def run() -> Any:
            async with self.engine.connect() as connection:
                return (await connection.execute(query)).scalar()

        return self.loop.run(run())

    def engine_trades_count(self) -> int:
        """Trades the engine wrote (manual trades excluded)."""
        query = select(func.count()).select_from(Trade).where(Trade.source == "engine")
        return int(self._scalar(query))

    def count_status(self, *statuses: str) -> int:
        """Orders in any of ``statuses``."""
        query = (
            select(func.count())
            .select_from(PositionedOrder)
            .where(PositionedOrder.status.in_(statuses))
        )
        return int(self._scalar(query))

    def cursor(self, symbol: str) -> int | None:
        """The persisted feed cursor of ``symbol``."""
        value = self._scalar(select(FeedCursor.last_agg_id).where(FeedCursor.symbol == symbol))
        return None if value is None else int(value)

    def orders(self) -> list[LedgerOrder]:
        """Every positioned order."""

        async def run() -> list[LedgerOrder]:
            async with self.engine.connect() as connection:
                rows = (await connection.execute(select(PositionedOrder))).all()
            return [
                LedgerOrder(
                    r.id,
                    r.type,
                    r.condition,
                    r.target_price,
                    r.quantity,
                    r.status,
                    int(r.created_at.timestamp() * 1000),  # as the engine's ``epoch_ms``
                    r.executed_trade_id,
                )
                for r in rows
            ]

        return self.loop.run(run())

    def engine_trades(self) -> list[LedgerTrade]:
        """Every trade the engine wrote."""

        async def run() -> list[LedgerTrade]:
            async with self.engine.connect() as connection:
                query = select(Trade).where(Trade.source == "engine").order_by(Trade.id)
                rows = (await connection.execute(query)).all()
            return [
                LedgerTrade(r.id, r.positioned_order_id, r.price, r.quantity, r.fee) for r in rows
            ]

        return self.loop.run(run())


# --- HTTP helpers ---------------------------------------------------------------------


def place_orders(
    base_url: str, token: str, orders: Sequence[dict[str, str]], workers: int = 4
) -> list[dict[str, Any]]:
    """POST every order to ``/api/v1/orders`` (a few in parallel); all must be 201."""
    results: list[dict[str, Any] | None] = [None] * len(orders)
    errors: list[str] = []

    def work(start: int) -> None:
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base_url, headers=auth, timeout=30) as http:
            for i in range(start, len(orders), workers):
                response = http.post("/api/v1/orders", json=orders[i])
                if response.status_code != 201:
                    errors.append(f"{orders[i]} -> {response.status_code} {response.text}")
                    return
                results[i] = response.json()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[:5]
    missing = [i for i, r in enumerate(results) if r is None]
    assert not missing, f"orders not placed: {missing[:10]}"
    return [r for r in results if r is not None]
