"""Ports: what the services need from the outside world, as ``typing.Protocol``s."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from criptoren.domain.orders import PlacedOrder


class ExchangeInfoSource(Protocol):
    """Where the symbols' trading rules come from (Binance ``exchangeInfo``)."""

    async def exchange_info(self) -> Mapping[str, Any]:
        """The whole ``exchangeInfo`` body."""
        ...


class PriceSource(Protocol):
    """Where last prices come from (price book first, exchange ticker otherwise)."""

    def cached_price(self, symbol: str) -> Decimal | None:
        """The last price already known, without any I/O."""
        ...

    async def current_price(self, symbol: str) -> Decimal | None:
        """The last price, asking the exchange if nothing is known; ``None`` if unreachable."""
        ...


class MarketWatch(Protocol):
    """The live market: which symbols are watched and what is known of them."""

    async def watch(self, symbols: Iterable[str]) -> None:
        """Start streaming these symbols (idempotent)."""
        ...

    async def unwatch(self, symbols: Iterable[str]) -> None:
        """Stop streaming these symbols."""
        ...

    def snapshot(self, symbol: str) -> Mapping[str, Any] | None:
        """What is known now of ``symbol`` (JSON-friendly), or ``None``."""
        ...

    def health(self) -> Mapping[str, Any]:
        """Connection state for ``/healthz``."""
        ...


class OrderFollower(Protocol):
    """Told after commit when an order is placed or cancelled (the engine keeps its index)."""

    async def order_placed(self, order: PlacedOrder) -> None:
        """A new waiting order exists."""
        ...

    async def order_cancelled(self, order: PlacedOrder) -> None:
        """A waiting order was cancelled."""
        ...


class TradeFollower(Protocol):
    """Told after commit when a trade was recorded by hand (positions changed)."""

    async def trade_recorded(self, trade_id: int, client_id: int, symbol: str) -> None:
        """A manual trade exists."""
        ...


class WatchlistFollower(Protocol):
    """Told after commit when a watchlist changed (``None``: the operator's)."""

    async def watchlist_changed(self, owner: int | None) -> None:
        """The owner's watchlist is different now."""
        ...
