"""``MarketData``: the real :class:`MarketDataPort`, the object the service holds."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from criptoren.binance.rate_gate import RateGate
from criptoren.market.config import FeedConfig
from criptoren.market.feed import BinanceFeed
from criptoren.market.pricebook import PriceBook, TradeListener


class MarketData:
    """Binance feed + price book behind the :class:`MarketDataPort` interface."""

    def __init__(self, config: FeedConfig | None = None, gate: RateGate | None = None) -> None:
        self.config = config or FeedConfig()
        self.book = PriceBook(self.config.max_id_reorder)
        self.feed = BinanceFeed(self.config, self.book, gate)

    async def start(self) -> None:
        """Start connections and background tasks."""
        await self.feed.start()

    async def stop(self) -> None:
        """Close every connection and task."""
        await self.feed.stop()

    async def ensure_monitored(self, symbols: Iterable[str]) -> None:
        """Start streaming ``symbols`` (idempotent; returns before the exchange acknowledges)."""
        await self.feed.subscribe(symbols)

    async def stop_monitoring(self, symbols: Iterable[str]) -> None:
        """Stop streaming ``symbols``."""
        await self.feed.unsubscribe(symbols)

    def monitored(self) -> list[str]:
        """Symbols currently streamed."""
        return self.feed.monitored()

    def set_resume_point(self, symbol: str, last_agg_id: int) -> None:
        """Make the feed deliver every trade after ``last_agg_id`` before live ones."""
        self.feed.set_resume_point(symbol, last_agg_id)

    def set_resume_time(self, symbol: str, start_ms: int) -> None:
        """Without a resume point: deliver every trade since ``start_ms`` before live ones."""
        self.feed.set_resume_time(symbol, start_ms)

    def add_listener(self, callback: TradeListener) -> None:
        """Receive every trade exactly once, in id order per symbol (fast sync callback)."""
        self.book.add_listener(callback)

    def remove_listener(self, callback: TradeListener) -> None:
        """Stop receiving trades."""
        self.book.remove_listener(callback)

    def last_price(self, symbol: str) -> Decimal | None:
        """Last trade price seen for ``symbol``, if any."""
        symbol = symbol.upper()
        return self.book.state(symbol).last_price if self.book.known(symbol) else None

    def snapshot(self, symbol: str) -> dict[str, Any] | None:
        """JSON-friendly last price and 24 h statistics of a symbol, or None."""
        return self.book.snapshot(symbol.upper())

    def health(self) -> dict[str, Any]:
        """Connection state and counters, JSON-friendly."""
        return self.feed.health()
