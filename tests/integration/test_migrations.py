"""One Alembic history that yields exactly the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from criptoren.db.migrate import upgrade
from criptoren.db.models import Base
from criptoren.db.session import create_engine
from tests.support.databases import run_database_name, skip_or_fail
from tests.support.processes import scratch_postgres


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _columns(connection: Connection, table: str) -> dict[str, str]:
    return {c["name"]: str(c["type"]) for c in inspect(connection).get_columns(table)}


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            orders = await connection.run_sync(_columns, "positioned_orders")
    finally:
        await engine.dispose()
    original = {
        "id",
        "client_id",
        "symbol",
        "type",
        "target_price",
        "quantity",
        "status",
        "created_at",
    }
    assert original <= set(orders)
    if database_url.startswith("postgresql"):
        assert orders["target_price"] == "NUMERIC(18, 8)"


FILTERS = "min_price, max_price, tick_size, min_qty, max_qty, step_size, market_min_qty, "
FILTERS += "market_max_qty, market_step_size, min_notional, max_notional"
ROWS_BEFORE_THE_SEED_COLUMNS = [
    "INSERT INTO clients (name, api_token, active, updated_at) "
    "VALUES ('alice', 'sha256$x', TRUE, CURRENT_TIMESTAMP)",
    *(
        f"INSERT INTO symbols (symbol, base_asset, quote_asset, status, {FILTERS}, updated_at) "
        f"VALUES ('{symbol}', '{base}', '{quote}', '{status}', {', '.join(['0'] * 11)}, "
        "CURRENT_TIMESTAMP)"
        for symbol, base, quote, status in (
            ("BTCUSDT", "BTC", "USDT", "TRADING"),
            ("ETHBTC", "ETH", "BTC", "BREAK"),
        )
    ),
    "INSERT INTO positioned_orders (client_id, symbol, type, target_price, quantity, status, "
    "condition, updated_at) VALUES (1, 'BTCUSDT', 'buy', '60000', '0.01', 'executed', 'lte', "
    "CURRENT_TIMESTAMP)",
    "INSERT INTO trades (client_id, symbol, type, price, quantity, fee, source, mode, "
    "positioned_order_id) VALUES (1, 'BTCUSDT', 'buy', '60000', '0.01', '0.6', 'engine', "
    "'paper', 1)",
    "UPDATE positioned_orders SET executed_trade_id = 1",
    # a symbol no longer in the symbols table (delisted, or the table was refreshed)
    "INSERT INTO trades (client_id, symbol, type, price, quantity, source, mode) "
    "VALUES (1, 'LUNAUSDT', 'buy', '80', '2', 'manual', 'paper')",
]


async def _insert_before_seed_columns(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in ROWS_BEFORE_THE_SEED_COLUMNS:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _after(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = create_engine(url)
    queries = {
        "symbols": "SELECT id, symbol, status, is_active FROM symbols ORDER BY id",
        "orders": "SELECT symbol_id, symbol, executed_trade_id FROM positioned_orders",
        "trades": "SELECT symbol_id, symbol, price, quantity FROM trades ORDER BY id",
    }
    try:
        async with engine.connect() as connection:
            return {
                name: [tuple(row) for row in await connection.execute(text(query))]
                for name, query in queries.items()
            }
    finally:
        await engine.dispose()


def _migrate_with_rows(url: str) -> dict[str, list[tuple[object, ...]]]:
    asyncio.run(upgrade(url, "0001"))
    asyncio.run(_insert_before_seed_columns(url))
    asyncio.run(upgrade(url, "0002_seed_schema"))
    return asyncio.run(_after(url))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_seed_columns_migration_keeps_existing_rows(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        after = _migrate_with_rows(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    else:
        with scratch_postgres(run_database_name()) as url:
            if url is None:
                skip_or_fail("PostgreSQL is not reachable on the test server")
                return
            after = _migrate_with_rows(url)
    assert [(s, status, bool(active)) for _, s, status, active in after["symbols"]] == [
        ("BTCUSDT", "TRADING", True),
        ("ETHBTC", "BREAK", False),
        ("LUNAUSDT", "UNKNOWN", False),  # placeholder for a symbol no row described
    ]
    ids = {symbol: symbol_id for symbol_id, symbol, _, _ in after["symbols"]}
    assert after["orders"] == [(ids["BTCUSDT"], "BTCUSDT", 1)]
    assert [(t[0], t[1], Decimal(str(t[2])), Decimal(str(t[3]))) for t in after["trades"]] == [
        (ids["BTCUSDT"], "BTCUSDT", Decimal(60000), Decimal("0.01")),
        (ids["LUNAUSDT"], "LUNAUSDT", Decimal(80), Decimal(2)),
    ]
