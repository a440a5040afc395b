"""Fixtures: a fake exchange on loopback and market-data clients pointed at it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from criptoren.fake_exchange import FakeExchange, FakeExchangeConfig
from criptoren.market.config import FeedConfig
from criptoren.market.feed import BinanceFeed
from criptoren.market.schemas import AggTrade


def shared_binance() -> Path:
    """``../shared/data/binance`` beside the repo (or ``$CRIPTOREN_SHARED_DATA/binance``)."""
    root = os.environ.get("CRIPTOREN_SHARED_DATA")
    base = Path(root) if root else Path(__file__).parents[3] / ".." / "shared" / "data"
    return base / "binance"


def data_file(*parts: str) -> Path:
    """A shared data file; a missing one fails the test (never skips)."""
    path = shared_binance().joinpath(*parts)
    assert path.is_file(), f"shared data file missing: {path}"
    return path


class Collector:
    """A price-book listener that records trades and lets tests await conditions."""

    def __init__(self) -> None:
        self.trades: list[AggTrade] = []
        self._changed = asyncio.Event()

    def __call__(self, trade: AggTrade) -> None:
        self.trades.append(trade)
        self._changed.set()

    def of(self, symbol: str) -> list[AggTrade]:
        return [t for t in self.trades if t.symbol == symbol]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        async with asyncio.timeout(within):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    async def wait_count(self, symbol: str, n: int, within: float = 10.0) -> None:
        await self.wait_for(lambda: len(self.of(symbol)) >= n, within)


@pytest.fixture
async def fake() -> AsyncIterator[FakeExchange]:
    exchange = FakeExchange(FakeExchangeConfig(ticker_interval=0.1))
    await exchange.start()
    try:
        yield exchange
    finally:
        await exchange.stop()


MakeMarket = Callable[..., Awaitable[tuple[BinanceFeed, Collector]]]


@pytest.fixture
async def make_market(fake: FakeExchange) -> AsyncIterator[MakeMarket]:
    started: list[BinanceFeed] = []

    async def make(**overrides: Any) -> tuple[BinanceFeed, Collector]:
        settings: dict[str, Any] = {
            "ws_url": fake.ws_url,
            "rest_url": fake.rest_url,
            "stale_after": 2.0,
            "backoff_initial": 0.05,
            "backoff_max": 0.2,
            "ticker": False,
        }
        settings.update(overrides)
        market = BinanceFeed(FeedConfig(**settings))
        collector = Collector()
        market.book.add_listener(collector)
        await market.start()
        started.append(market)
        return market, collector

    try:
        yield make
    finally:
        for market in started:
            await market.stop()
