"""Adapters from the market-data package to the services' ports."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from criptoren.binance.rest import TickerPriceSource
from criptoren.market.facade import MarketData


class MarketDataWatch:
    """``MarketWatch`` over the live feed and price book."""

    def __init__(self, market: MarketData) -> None:
        self.market = market

    async def watch(self, symbols: Iterable[str]) -> None:
        """Subscribe (idempotent)."""
        await self.market.ensure_monitored(symbols)

    async def unwatch(self, symbols: Iterable[str]) -> None:
        """Unsubscribe."""
        await self.market.stop_monitoring(symbols)

    def snapshot(self, symbol: str) -> Mapping[str, Any] | None:
        """Last price, trade id and 24 h statistics."""
        return self.market.snapshot(symbol)

    def health(self) -> Mapping[str, Any]:
        """Feed connection state."""
        return self.market.health()


class BookThenTickerPrices:
    """``PriceSource``: the price book's last trade, else the exchange's REST ticker."""

    def __init__(self, market: MarketData, ticker: TickerPriceSource) -> None:
        self.market = market
        self.ticker = ticker

    def cached_price(self, symbol: str) -> Decimal | None:
        """Last streamed price, no I/O."""
        return self.market.last_price(symbol)

    async def current_price(self, symbol: str) -> Decimal | None:
        """Last streamed price, or the REST ticker."""
        return self.cached_price(symbol) or await self.ticker.current_price(symbol)
