"""The one database read of the backtest: a symbol's exchange filters from ``symbols``."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from criptoren.domain.filters import SymbolRules
from criptoren.errors import NotFound

_TEXT = ("symbol", "status", "base_asset", "quote_asset")
_SELECT = text(
    "SELECT symbol, status, base_asset, quote_asset, min_price, max_price, tick_size, "
    "min_qty, max_qty, step_size, market_min_qty, market_max_qty, market_step_size, "
    "min_notional, max_notional FROM symbols WHERE symbol = :symbol"
)


class NoDatabase(Exception):
    """No database to read from (absent file, unreachable server, schema not migrated)."""


def _missing_sqlite_file(database_url: str) -> bool:
    url = make_url(database_url)
    path = url.database
    return (
        url.get_backend_name() == "sqlite"
        and bool(path)
        and path != ":memory:"
        and not (Path(str(path)).exists())
    )


async def _read(database_url: str, symbol: str) -> SymbolRules:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(_SELECT, {"symbol": symbol.upper()})
            row = result.mappings().first()
    except (SQLAlchemyError, OSError) as exc:
        raise NoDatabase(str(exc).splitlines()[0]) from exc
    finally:
        await engine.dispose()
    if row is None:
        raise NotFound(f"symbol {symbol.upper()} is not in the symbols table (symbols sync?)")
    decimals: dict[str, Any] = {
        k: Decimal(str(v)).normalize() for k, v in row.items() if k not in _TEXT
    }
    return SymbolRules(
        row["symbol"], row["status"], row["base_asset"], row["quote_asset"], **decimals
    )


def read_symbol_rules(database_url: str, symbol: str) -> SymbolRules:
    """The ``symbols`` row of ``symbol``; ``NoDatabase`` if there is no database to ask."""
    if _missing_sqlite_file(database_url):
        raise NoDatabase(f"no database file for {database_url}")
    return asyncio.run(_read(database_url, symbol))
