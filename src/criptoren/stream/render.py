"""Reads the rows behind committed changes and renders the stream's JSON messages."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from criptoren.api.convert import order_out, position_out, trade_out
from criptoren.db.models import AlertEvent, AlertRow, PositionedOrder, Trade
from criptoren.db.repositories import ClientRepository, OrderRepository
from criptoren.db.watchlists import WatchlistRepository
from criptoren.domain.money import QUANTUM
from criptoren.domain.orders import OrderStatus
from criptoren.ports import MarketWatch, PriceSource
from criptoren.services.auth import Principal
from criptoren.services.positions import PositionService
from criptoren.stream.events import Change, Topic


def dumps(message: dict[str, Any]) -> str:
    """A message as JSON text."""
    return orjson.dumps(message).decode()


def price_text(price: Decimal) -> str:
    """A price as the API writes amounts: a string with 8 decimal places."""
    return format(price.quantize(QUANTUM), "f")


def price_message(symbol: str, price: Decimal, time_ms: int) -> str:
    """``{"type":"price",...}`` for one symbol."""
    return dumps({"type": "price", "symbol": symbol, "price": price_text(price), "time": time_ms})


def watchlist_message(symbols: Iterable[str]) -> str:
    """The owner's watchlist as it is now (after a watch or unwatch, from anywhere)."""
    return dumps({"type": "watchlist", "watchlist": sorted(symbols)})


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a stream starts with, and what its client follows."""

    message: str
    watchlist: frozenset[str]
    waiting: dict[int, str]
    """Waiting order id → symbol."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one change means to its owner's streams."""

    owner: int | None
    messages: tuple[str, ...] = ()
    order: tuple[int, str, bool] | None = None
    """Order id, symbol, and whether it is still waiting."""
    watchlist: frozenset[str] | None = None


class StreamRenderer:
    """Snapshots and messages in the same shapes as the REST API."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        positions: PositionService,
        prices: PriceSource,
        market: MarketWatch,
    ) -> None:
        self.sessions = sessions
        self.positions = positions
        self.prices = prices
        self.market = market

    async def snapshot(self, client_id: int | None) -> Snapshot:
        """The client's watchlist, prices, waiting orders and positions (admin: everyone's)."""
        principal = Principal(client_id=client_id, is_admin=client_id is None)
        async with self.sessions() as session:
            watchlist = await WatchlistRepository(session).list(client_id)
            orders = await OrderRepository(session).list(client_id, OrderStatus.WAITING)
            positions = await self.positions.list(session, principal)
        symbols = sorted(set(watchlist) | {o.symbol for o in orders})
        message = {
            "type": "snapshot",
            "client_id": client_id,
            "watchlist": watchlist,
            "prices": {s: p for s in symbols if (p := self._price(s)) is not None},
            "orders": [self._order(o) for o in orders],
            "positions": [position_out(v).model_dump(mode="json") for v in positions],
        }
        return Snapshot(dumps(message), frozenset(watchlist), {o.id: o.symbol for o in orders})

    async def render(self, changes: Sequence[Change]) -> list[Delivery]:
        """The deliveries of ``changes``, in their order, from one read of the rows."""
        async with self.sessions() as session:
            return [await self._render(session, change) for change in changes]

    async def active_tokens(self, token_hashes: Iterable[str]) -> set[str]:
        """Which token hashes still open a stream (not rotated, client not revoked)."""
        async with self.sessions() as session:
            return await ClientRepository(session).active_token_hashes(token_hashes)

    async def _render(self, session: AsyncSession, change: Change) -> Delivery:
        if change.topic is Topic.ALERT:
            return Delivery(change.owner, await _alert_messages(session, change))
        if change.topic is Topic.STRATEGY:
            message = {"type": "strategy", "event": change.event, "strategy_id": change.strategy_id}
            return Delivery(change.owner, (dumps(message),))
        if change.topic is Topic.WATCHLIST:
            symbols = frozenset(await WatchlistRepository(session).list(change.owner))
            return Delivery(change.owner, (watchlist_message(symbols),), watchlist=symbols)
        messages: list[str] = []
        order_state = None
        if change.topic is Topic.ORDER and change.order_id is not None:
            order = await session.get(PositionedOrder, change.order_id, populate_existing=True)
            if order is None:
                return Delivery(change.owner)
            waiting = order.status == OrderStatus.WAITING.value
            order_state = (order.id, order.symbol, waiting)
            messages.append(await self._order_message(session, change, order))
        if change.trade_id is not None and change.owner is not None and change.symbol:
            view = await self.positions.of(session, change.owner, change.symbol)
            if view is not None:
                position = position_out(view).model_dump(mode="json")
                messages.append(dumps({"type": "position", "position": position}))
        return Delivery(change.owner, tuple(messages), order=order_state)

    async def _order_message(
        self, session: AsyncSession, change: Change, order: PositionedOrder
    ) -> str:
        message: dict[str, Any] = {
            "type": "order",
            "event": change.event,
            "order": self._order(order),
        }
        if change.trade_id is not None:
            trade = await session.get(Trade, change.trade_id)
            if trade is not None:
                message["trade"] = trade_out(trade).model_dump(mode="json")
        return dumps(message)

    def _order(self, order: PositionedOrder) -> dict[str, Any]:
        return order_out(order, self.prices.cached_price).model_dump(mode="json")

    def _price(self, symbol: str) -> dict[str, Any] | None:
        state = self.market.snapshot(symbol)
        if state is None or state.get("price") is None:
            return None
        return {
            "price": price_text(Decimal(state["price"])),
            "time": state["trade_time_ms"],
            "stale": bool(state["stale"]),
        }


async def _alert_messages(session: AsyncSession, change: Change) -> tuple[str, ...]:
    """``{"type":"alert",...}`` for one firing (nothing if its rows are gone, nothing for an
    alert created or deleted: those are the engine's news)."""
    if change.alert_event_id is None:
        return ()
    event = await session.get(AlertEvent, change.alert_event_id)
    alert = None if event is None else await session.get(AlertRow, event.alert_id)
    if event is None or alert is None:
        return ()
    message = {
        "type": "alert",
        "alert_id": alert.id,
        "event_id": event.id,
        "symbol": alert.symbol,
        "condition": alert.condition,
        "price": None if alert.price is None else price_text(alert.price),
        "percent": None if alert.percent is None else price_text(alert.percent),
        "window_seconds": alert.window_seconds,
        "trade_price": price_text(event.trade_price),
        "trade_id": event.agg_trade_id,
        "time": event.trade_time_ms,
        "note": alert.note,
    }
    return (dumps(message),)
