"""Audit trail cost: what appending a row adds to a write, and to a burst's batch.

Run: ``.venv/bin/python bench/audit.py`` (``--ops N``, ``--batch N``, ``--no-postgres``).

Per database (SQLite: a migrated temporary file, WAL; PostgreSQL: a scratch database on
loopback), through the service's own write path (``Database.write``: SQLite's writer
thread with ``BEGIN IMMEDIATE``, a pooled asyncpg connection on PostgreSQL):

- **operation**: ``--ops`` transactions of what ``registrar-compra`` writes (one trade row),
  then the same with its audit row (:func:`criptoren.db.audit.append`, one entry, in the
  same transaction), alternated in blocks of 100 in the same run. The bar: the audited
  transaction costs ≤ 0.3 ms more than the plain one on SQLite (mean per operation).
- **batch**: one transaction inserting ``--batch`` trade rows (``ledger.insert_trades``, the
  engine's batch statement) with and without ``2 × --batch`` audit rows (a paper fill
  writes ``order.triggered`` and ``order.executed``): the added cost per fill.

Exits 1 if the SQLite bar fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from criptoren.db import audit, ledger
from criptoren.db.migrate import upgrade
from criptoren.db.models import Client, Symbol
from criptoren.db.session import Database, TransactionRunner, create_engine
from criptoren.db.types import utcnow
from criptoren.domain.audit import ENGINE, AuditEntry
from scratch_db import PostgresUnreachable, scratch_postgres

BAR_MS = 0.3
CLOCK = time.process_time
BLOCK = 100


def trade(i: int) -> dict[str, Any]:
    """A ``registrar-compra`` trade row."""
    return {
        "client_id": 1, "symbol_id": 1, "symbol": "BTCUSDT", "type": "buy",
        "price": Decimal("60000.5"), "quantity": Decimal("0.001"), "fee": Decimal("0.06"),
        "fee_asset": "USDT", "order_id": None, "positioned_order_id": None, "source": "manual",
        "mode": "paper", "executed_at": utcnow(),
    }  # fmt: skip


def entry(action: str, i: int) -> AuditEntry:
    """An audit entry the size of a real one."""
    data = {"symbol": "BTCUSDT", "price": Decimal("60000.5"), "quantity": Decimal("0.001"),
            "fee": Decimal("0.06"), "fee_asset": "USDT", "trade_id": i,
            "mode": "paper"}  # fmt: skip
    return AuditEntry(ENGINE, action, "order", i, data, 1, "bench-request-0123456789")


def plain_op(connection: Connection, i: int) -> None:
    """One trade row."""
    ledger.insert_trade(connection, trade(i))


def audited_op(connection: Connection, i: int) -> None:
    """One trade row and its audit row."""
    trade_id = ledger.insert_trade(connection, trade(i))
    audit.append(connection, [entry("trade.recorded", trade_id)])


def seed(connection: Connection) -> None:
    """The client and symbol the trades reference."""
    connection.execute(insert(Client).values(id=1, name="bench", api_token="sha256$x", active=True))
    connection.execute(
        insert(Symbol).values(
            id=1, symbol="BTCUSDT", base_asset="BTC", quote_asset="USDT", status="TRADING"
        )
    )


async def timed(database: Database, work: Callable[[Connection], None]) -> float:
    """Seconds for one committed transaction of ``work``: process CPU time (the event loop
    and the SQLite writer thread; this machine is shared, so wall time includes waiting for
    a core), or wall time with ``--wall``."""
    start = CLOCK()
    await database.write(work)
    return CLOCK() - start


async def measure(url: str, ops: int, size: int) -> dict[str, float]:
    """Per-operation and per-fill figures (ms) on one database."""
    engine = create_engine(url)
    database = Database(url, engine, TransactionRunner(url, engine))
    try:
        await database.write(seed)
        for i in range(BLOCK):  # warm-up: statement caches, the writer thread, pages
            await database.write(partial(audited_op, i=i))
            await database.write(partial(plain_op, i=i))
        spent = {"plain": 0.0, "audited": 0.0}
        for block in range(ops // BLOCK):
            for name, op in (("plain", plain_op), ("audited", audited_op))[:: 1 - 2 * (block % 2)]:
                for i in range(BLOCK):
                    spent[name] += await timed(database, partial(op, i=i))
        done = ops // BLOCK * BLOCK
        batch_plain = min([await timed(database, partial(batch_insert, size=size, audited=False))
                           for _ in range(3)])  # fmt: skip
        batch_audited = min([await timed(database, partial(batch_insert, size=size, audited=True))
                             for _ in range(3)])  # fmt: skip
    finally:
        await database.aclose()
        await database.runner.aclose()
        await engine.dispose()
    return {
        "plain": spent["plain"] / done * 1000,
        "audited": spent["audited"] / done * 1000,
        "batch_plain": batch_plain * 1000,
        "batch_audited": batch_audited * 1000,
    }


def batch_insert(connection: Connection, size: int, audited: bool) -> None:
    """The engine's batch statement for ``size`` trades, and their audit rows if ``audited``."""
    ledger.insert_trades(connection, [trade(i) for i in range(size)])
    if audited:
        audit.append(connection, [entry(a, i) for i in range(size) for a in ("t", "x")])


def report(name: str, figures: dict[str, float], ops: int, size: int) -> bool:
    """Print one database's figures; whether the per-operation bar holds."""
    added = figures["audited"] - figures["plain"]
    per_fill = (figures["batch_audited"] - figures["batch_plain"]) / size
    print(f"{name}:")
    print(f"  one operation ({ops} each)  plain {figures['plain']:.3f} ms, with audit "
          f"{figures['audited']:.3f} ms: audit adds {added:.3f} ms per operation")  # fmt: skip
    print(f"  batch of {size} fills      plain {figures['batch_plain']:.1f} ms, with "
          f"{2 * size} audit rows {figures['batch_audited']:.1f} ms: "
          f"+{per_fill * 1000:.1f} µs per fill")  # fmt: skip
    return added <= BAR_MS


async def main(args: argparse.Namespace) -> int:
    """Both databases; exit status 1 if the SQLite bar fails."""
    global CLOCK
    CLOCK = time.perf_counter if args.wall else time.process_time
    print(f"clock: {'wall' if args.wall else 'process CPU'} time; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="criptoren-audit-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'audit.db'}"
        await upgrade(url)
        ok = report("SQLite (WAL)", await measure(url, args.ops, args.batch), args.ops, args.batch)
    print(f"  bar: audit adds <= {BAR_MS} ms per operation on SQLite: {'PASS' if ok else 'FAIL'}")
    if not args.no_postgres:
        try:
            async with scratch_postgres("criptoren_audit") as (pg_url, described):
                figures = await measure(pg_url, args.ops, args.batch)
                report(f"PostgreSQL {described}", figures, args.ops, args.batch)
        except PostgresUnreachable as exc:
            print(f"PostgreSQL: not measured ({exc})")
    return 0 if ok else 1


def parse() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000, help="operations of each kind")
    parser.add_argument("--batch", type=int, default=1000, help="fills in the batch")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--wall", action="store_true", help="wall time instead of CPU time")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
