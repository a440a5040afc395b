"""``criptoren backtest --symbol``: the symbol's filters come from the ``symbols`` table."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from criptoren.backtest.symbols import NoDatabase, read_symbol_rules
from criptoren.db.models import Symbol
from criptoren.errors import NotFound


async def _store_btcusdt(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with async_sessionmaker(engine)() as session, session.begin():
            session.add(
                Symbol(
                    symbol="BTCUSDT",
                    base_asset="BTC",
                    quote_asset="USDT",
                    status="TRADING",
                    tick_size=Decimal("0.01"),
                    min_qty=Decimal("0.00001"),
                    max_qty=Decimal("9000"),
                    step_size=Decimal("0.00001"),
                    min_notional=Decimal("5"),
                )
            )
    finally:
        await engine.dispose()


async def test_reads_the_filters_of_a_stored_symbol(database_url: str) -> None:
    await _store_btcusdt(database_url)
    rules = await asyncio.to_thread(read_symbol_rules, database_url, "btcusdt")
    assert (rules.symbol, rules.quote_asset, rules.status) == ("BTCUSDT", "USDT", "TRADING")
    assert (rules.step_size, rules.min_qty, rules.min_notional) == (
        Decimal("0.00001"),
        Decimal("0.00001"),
        Decimal(5),
    )
    assert rules.tick_size == Decimal("0.01")
    with pytest.raises(NotFound):
        await asyncio.to_thread(read_symbol_rules, database_url, "ETHUSDT")


def test_no_database_file_is_reported_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent.db"
    with pytest.raises(NoDatabase):
        read_symbol_rules(f"sqlite+aiosqlite:///{path}", "BTCUSDT")
    assert not path.exists()


def test_an_unmigrated_database_is_no_database(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(NoDatabase):
        read_symbol_rules(f"sqlite+aiosqlite:///{path}", "BTCUSDT")
