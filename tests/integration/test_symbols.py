"""Symbols come from the real exchangeInfo bodies, served over a real local HTTP server."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from functools import partial

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from criptoren.binance.rest import BinancePublicRest
from criptoren.binance.transport import BinanceHttp
from criptoren.db.ledger import run_in
from criptoren.db.models import Symbol
from criptoren.db.session import create_engine, create_session_factory
from criptoren.services.symbols import SymbolService
from tests.support.harness import Harness, running_service
from tests.support.paths import exchange_info_path

OLD_BODY = "exchangeInfo_spot_full_2021-10-12_cryptofeed.json"


async def test_startup_sync_reads_the_2025_notional_filters(database_url: str) -> None:
    async with running_service(database_url) as service:
        _, auth = await service.new_client()
        btc = (await service.http.get("/api/v1/symbols/btcusdt", headers=auth)).json()
        assert btc["tick_size"] == "0.01000000"
        assert btc["step_size"] == "0.00001000"
        assert btc["min_notional"] == "5.00000000"
        trading = (await service.http.get("/api/v1/symbols", headers=auth)).json()
        assert "BTCUSDT" in {s["symbol"] for s in trading}
        assert "EOSETH" not in {s["symbol"] for s in trading}


async def test_old_min_notional_body_is_understood(database_url: str) -> None:
    async with running_service(database_url, exchange_info_path(OLD_BODY)) as service:
        _, auth = await service.new_client()
        listed = await service.http.get(
            "/api/v1/symbols", params={"trading_only": "false"}, headers=auth
        )
        assert len(listed.json()) == 1695
        btc = (await service.http.get("/api/v1/symbols/BTCUSDT", headers=auth)).json()
        assert Decimal(btc["min_notional"]) == 10
        client_id, _ = await service.new_client("bob")
        small = {
            "cliente_id": client_id,
            "symbol": "BTCUSDT",
            "preco_alvo": "60000",
            "quantidade": "0.0001",
        }  # 6 USDT: fine for NOTIONAL 5, not for MIN_NOTIONAL 10
        response = await service.http.post("/posicionar-compra", json=small, headers=service.admin)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "notional_too_small"


async def test_unreachable_exchange_keeps_the_table(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_service(database_url) as service:
        rest_url = service.exchange.rest_url
        container = service.container
    # the fake exchange is gone now: its port refuses connections
    rest = BinancePublicRest(BinanceHttp(rest_url, timeout=2))
    symbols = SymbolService(rest)
    engine = create_engine(database_url)
    try:
        with caplog.at_level(logging.WARNING):
            async with create_session_factory(engine)() as session, session.begin():
                assert await symbols.sync_or_keep(session) is None
                read = partial(run_in, session)
                assert (await symbols.rules(read, "BTCUSDT")).tick_size == Decimal("0.01")
        assert "symbols not refreshed" in caplog.text
    finally:
        await rest.http.aclose()
        await engine.dispose()
    assert container.started


async def test_no_symbols_at_all_is_a_503_not_a_422(database_url: str) -> None:
    async with running_service(database_url, sync_symbols_on_start=False) as service:
        client_id, auth = await service.new_client()
        body = {
            "cliente_id": client_id,
            "symbol": "BTCUSDT",
            "preco_alvo": "62000",
            "quantidade": "0.005",
        }
        response = await service.http.post("/posicionar-compra", json=body, headers=auth)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "symbols_unavailable"
        assert "make demo" in response.json()["error"]["message"]  # what works offline
        synced = await service.http.post("/api/v1/symbols/sync", headers=service.admin)
        assert synced.json()["symbols"] == 25
        response = await service.http.post("/posicionar-compra", json=body, headers=auth)
        assert response.status_code == 201


class _ExchangeSays:
    """An ``ExchangeInfoSource`` answering with the statuses it is given."""

    def __init__(self) -> None:
        self.statuses: dict[str, str] = {}

    async def exchange_info(self) -> dict[str, object]:
        return {
            "symbols": [
                {"symbol": name, "status": status, "baseAsset": name[:3], "quoteAsset": name[3:]}
                for name, status in self.statuses.items()
            ]
        }


async def test_is_active_follows_the_exchange_status_on_every_sync(database_url: str) -> None:
    engine = create_engine(database_url)
    sessions = create_session_factory(engine)
    exchange = _ExchangeSays()
    service = SymbolService(exchange)

    async def sync_and_read() -> dict[str, bool]:
        async with sessions() as session, session.begin():
            await service.sync(session)
            rows = await session.execute(select(Symbol.symbol, Symbol.is_active))
            return {symbol: active for symbol, active in rows}

    try:
        exchange.statuses = {"BTCUSDT": "TRADING", "ETHBTC": "TRADING"}
        assert await sync_and_read() == {"BTCUSDT": True, "ETHBTC": True}
        exchange.statuses = {"BTCUSDT": "BREAK"}  # ETHBTC delisted
        assert await sync_and_read() == {"BTCUSDT": False, "ETHBTC": False}
        exchange.statuses = {"BTCUSDT": "TRADING", "ETHBTC": "TRADING"}
        assert await sync_and_read() == {"BTCUSDT": True, "ETHBTC": True}
    finally:
        await engine.dispose()


async def test_a_sync_replaces_the_rules_the_service_remembers(service: Harness) -> None:
    client_id, auth = await service.new_client()
    body = {
        "cliente_id": client_id,
        "symbol": "BTCUSDT",
        "preco_alvo": "1000",
        "quantidade": "0.01",
    }
    placed = await service.http.post("/posicionar-compra", json=body, headers=auth)
    assert placed.status_code == 201  # the rules of BTCUSDT are now remembered
    service.exchange.set_symbol_status("BTCUSDT", "BREAK")
    assert (await service.http.post("/api/v1/symbols/sync", headers=service.admin)).is_success
    refused = await service.http.post("/posicionar-compra", json=body, headers=auth)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "symbol_not_trading"


async def test_two_processes_syncing_an_empty_table_at_once_both_succeed(database_url: str) -> None:
    # `serve --workers 2`: each worker syncs at start-up; the second must not die on the
    # symbols the first inserted while it was reading the (still empty) table
    engines = [create_engine(database_url), create_engine(database_url)]
    first_session, second_session = (create_session_factory(engine)() for engine in engines)
    exchange = _ExchangeSays()
    exchange.statuses = {"BTCUSDT": "TRADING", "ETHBTC": "BREAK"}
    first, second = SymbolService(exchange), SymbolService(exchange)
    try:
        async with first_session, second_session:
            await first_session.begin()
            await first.sync(first_session)
            racing = asyncio.create_task(_sync_and_commit(second, second_session))
            await _until_waiting_on_a_lock(first_session, racing)
            await first_session.commit()
            assert await racing == 2
            rows = await first_session.execute(select(Symbol.symbol, Symbol.is_active))
            assert dict(rows.all()) == {"BTCUSDT": True, "ETHBTC": False}
    finally:
        for engine in engines:
            await engine.dispose()


async def _sync_and_commit(service: SymbolService, session: AsyncSession) -> int:
    async with session.begin():
        return await service.sync(session)


async def _until_waiting_on_a_lock(session: AsyncSession, racing: asyncio.Task[int]) -> None:
    """On PostgreSQL, until the racing sync read the empty table and now waits on our
    uncommitted rows (SQLite serialises writers: the second waits to begin)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(1000):
        assert not racing.done(), racing
        await session.execute(text("SELECT pg_stat_clear_snapshot()"))  # a fresh view
        if await session.scalar(waiting):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the second sync never waited on the first")
