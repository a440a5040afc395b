"""The port through which the service uses market data (a fake implements it in unit tests)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from criptoren.market.pricebook import TradeListener


class MarketDataPort(Protocol):
    """Live prices for a changing set of symbols, with one trade-listener interface."""

    async def start(self) -> None:
        """Start connections and background tasks."""

    async def stop(self) -> None:
        """Close every connection and task."""

    async def ensure_monitored(self, symbols: Iterable[str]) -> None:
        """Start streaming ``symbols`` (idempotent)."""

    async def stop_monitoring(self, symbols: Iterable[str]) -> None:
        """Stop streaming ``symbols``."""

    def monitored(self) -> list[str]:
        """Symbols currently streamed."""

    def set_resume_point(self, symbol: str, last_agg_id: int) -> None:
        """Make the feed deliver every trade after ``last_agg_id`` before live ones."""

    def set_resume_time(self, symbol: str, start_ms: int) -> None:
        """Without a resume point: deliver every trade since ``start_ms`` before live ones."""
        ...

    def add_listener(self, callback: TradeListener) -> None:
        """Receive every trade exactly once, in id order per symbol (fast sync callback)."""

    def remove_listener(self, callback: TradeListener) -> None:
        """Stop receiving trades."""

    def snapshot(self, symbol: str) -> dict[str, Any] | None:
        """JSON-friendly last price and 24 h statistics of a symbol, or None."""

    def health(self) -> dict[str, Any]:
        """Connection state and counters, JSON-friendly."""
