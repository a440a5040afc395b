"""Ports: what the services need from the outside world, as ``typing.Protocol``s."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from criptoren.domain.alerts import StoredAlert
from criptoren.domain.money import plain
from criptoren.domain.notifications import Delivery
from criptoren.domain.orders import PlacedOrder
from criptoren.errors import Unavailable


@dataclass(frozen=True, slots=True)
class ReferencePrice:
    """The price a new order's condition would be inferred from, and whether to trust it."""

    price: Decimal | None
    stale: bool = False
    missing: str = ""  # why there is no price (the exchange unreachable, or no trade yet)

    def to_infer_from(self, symbol: str) -> Decimal:
        """The price, or a 503 telling why no condition can be inferred from it."""
        explicit = "give the condition explicitly (lte or gte)"
        if self.price is None:
            raise Unavailable(
                f"no reference price for {symbol} ({self.missing}): {explicit}",
                code="reference_price_unavailable",
            )
        if self.stale:
            raise Unavailable(
                f"the last price of {symbol} ({plain(self.price)}) is stale and the exchange "
                f"cannot confirm a newer one: {explicit}",
                code="reference_price_stale",
            )
        return self.price


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

    async def reference_price(self, symbol: str) -> ReferencePrice:
        """The last fresh price (streamed, else the exchange's ticker), stale or missing."""
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


class KlineSource(Protocol):
    """Candles of a symbol from the exchange (``/api/v3/klines`` rows)."""

    async def klines(self, symbol: str, interval: str, **params: int) -> list[list[Any]]:
        """Rows of ``/api/v3/klines`` (``limit``, ``startTime``, ``endTime``), oldest first."""
        ...


class StrategyFollower(Protocol):
    """Told after commit when a strategy changed (``event``: enabled, paused, deleted,
    replaced, entry, exit)."""

    async def strategy_changed(self, strategy_id: int, client_id: int, event: str) -> None:
        """Something happened to the strategy."""
        ...


class AlertFollower(Protocol):
    """Told after commit when an alert is created or deleted (the engine keeps its index)."""

    async def alert_created(self, alert: StoredAlert) -> None:
        """A new active alert exists."""
        ...

    async def alert_deleted(self, alert: StoredAlert) -> None:
        """An alert was deleted."""
        ...


class AlertFiredFollower(Protocol):
    """Told after commit when an alert fired (the push stream; notifications later)."""

    async def alert_fired(self, event_id: int, client_id: int, symbol: str) -> None:
        """The firing ``event_id`` (an ``alert_events`` row) is committed."""


class NotificationSender(Protocol):
    """Delivers one notification attempt over one channel kind (webhook, e-mail, apprise)."""

    async def send(self, delivery: Delivery) -> str | None:
        """``None`` when delivered; else why not (at most 1 KiB, no secret)."""
        ...


class Lifecycle(Protocol):
    """A part that runs in the background between ``start`` and ``stop`` (the NOTIFY
    senders and listeners of a scaled-out process)."""

    async def start(self) -> None:
        """Start working."""
        ...

    async def stop(self) -> None:
        """Stop working."""
        ...
