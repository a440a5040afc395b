"""A feed cursor from another venue, or trade ids restarting below it, never freezes prices."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from criptoren.config import Settings
from criptoren.db.models import FeedCursor
from criptoren.fake_exchange.records import AggRecord
from tests.support.events import EventRecorder
from tests.support.harness import Harness, running_service

FAR_AHEAD = 10**12  # ids the fake exchange (starting at 1,000,000) will not reach


def saved_cursor(venue: str | None) -> Any:
    """A ``before_start`` hook: a BTCUSDT cursor far ahead, saved on ``venue`` (None: ours)."""

    async def seed(settings: Settings) -> None:
        engine = create_async_engine(settings.database_url)
        async with engine.begin() as connection:
            await connection.execute(
                FeedCursor.__table__.insert().values(
                    symbol="BTCUSDT",
                    last_agg_id=FAR_AHEAD,
                    last_trade_time_ms=int(time.time() * 1000) - 60_000,
                    venue=settings.venue if venue is None else venue,
                )
            )
        await engine.dispose()

    return seed


async def cursors(settings: Settings) -> list[tuple[str, int, str]]:
    engine = create_async_engine(settings.database_url)
    async with engine.connect() as connection:
        query = select(FeedCursor.symbol, FeedCursor.last_agg_id, FeedCursor.venue)
        rows = [(s, i, v) for s, i, v in (await connection.execute(query)).all()]
    await engine.dispose()
    return rows


async def fires_on_time(service: Harness) -> None:
    """A buy below the market fires on the first crossing trade; the price is the live one."""
    events = EventRecorder(service.container.bus)
    client_id, auth = await service.new_client()
    body = {"cliente_id": client_id, "symbol": "BTCUSDT", "preco_alvo": "61000"}
    body["quantidade"] = "0.01"
    placed = await service.http.post("/posicionar-compra", json=body, headers=auth)
    assert placed.status_code == 201, placed.text
    await service.exchange.wait_subscribed("btcusdt@aggTrade")
    service.exchange.emit_prices("BTCUSDT", ["61500", "60900.5"])
    await events.wait_finished({placed.json()["id"]})
    [trade] = (await service.http.get("/api/v1/trades", headers=auth)).json()
    assert trade["price"] == "60900.50000000"
    state = (await service.http.get("/monitorar-par/BTCUSDT", headers=auth)).json()
    assert state["last_price"] == "60900.50000000"
    assert state["market"]["stale"] is False
    # the stale cursor was replaced: the next start resumes from this venue's ids
    await service.container.trigger_engine.flush_cursors()
    [(symbol, last_id, venue)] = await cursors(service.container.settings)
    assert (symbol, venue) == ("BTCUSDT", service.container.settings.venue)
    assert last_id < FAR_AHEAD


@pytest.mark.parametrize("venue", ["binance", None], ids=["other-venue", "ids-restarted"])
async def test_saved_cursor_ahead_of_the_venue(
    database_url: str, venue: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_service(database_url, before_start=saved_cursor(venue)) as service:
        await fires_on_time(service)
    assert "BTCUSDT" in caplog.text
    assert "following the live stream" in caplog.text


async def test_ids_restarting_while_streaming(database_url: str) -> None:
    async with running_service(database_url) as service:
        _, auth = await service.new_client("watcher")
        await service.http.get("/monitorar-par/BTCUSDT", headers=auth)
        await service.exchange.wait_subscribed("btcusdt@aggTrade")
        record = AggRecord("BTCUSDT", "61800", "0.001", 1, 1, 0, False, a=FAR_AHEAD)
        service.exchange.market.emit("BTCUSDT", [record])
        seen = asyncio.Event()
        service.container.feed.book.add_listener(lambda t: t.agg_id == FAR_AHEAD and seen.set())
        await asyncio.wait_for(seen.wait(), 10)
        service.exchange.reset_trade_ids("BTCUSDT")  # e.g. the spot testnet was reset
        await fires_on_time(service)
