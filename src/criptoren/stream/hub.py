"""Routes live prices and committed changes to the open streams of each client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from criptoren.market.schemas import AggTrade
from criptoren.stream.connection import OVERFLOW, StreamConnection
from criptoren.stream.events import Change, ChangePort, Topic
from criptoren.stream.render import Delivery, StreamRenderer, price_message

log = logging.getLogger(__name__)
UNAUTHORIZED = 4401
GOING_AWAY = 1001
RENDER_RETRY_SECONDS = 0.5


@dataclass(eq=False)
class Room:
    """Every open stream of one client (``None``: the operator) and what it follows."""

    owner: int | None
    connections: set[StreamConnection] = field(default_factory=set)
    watchlist: frozenset[str] = frozenset()
    waiting: dict[int, str] = field(default_factory=dict)

    def symbols(self) -> set[str]:
        """Symbols whose prices the room wants: its watchlist and its waiting orders'."""
        return set(self.watchlist) | set(self.waiting.values())


class StreamHub:
    """Fans prices (coalesced per symbol) and changes (in commit order) out to streams.

    Nothing here awaits a client: prices and messages are handed to each connection's
    buffer, and each connection's own writer sends them.
    """

    def __init__(
        self,
        changes: ChangePort,
        renderer: StreamRenderer,
        *,
        coalesce_seconds: float = 0.25,
        buffer_limit: int = 256,
        auth_recheck_seconds: float = 2.0,
    ) -> None:
        self.changes = changes
        self.renderer = renderer
        self.coalesce_seconds = coalesce_seconds
        self.buffer_limit = buffer_limit
        self.auth_recheck_seconds = auth_recheck_seconds
        self._rooms: dict[int | None, Room] = {}
        self._by_symbol: dict[str, set[Room]] = {}
        self._flushed_at: dict[str, float] = {}
        self._trades: dict[str, AggTrade] = {}
        self._scheduled: set[str] = set()
        self._queue: deque[Change] = deque()
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self.dropped = 0  # streams closed by backpressure (OVERFLOW)
        self._tasks: list[asyncio.Task[None]] = []

    # --- life cycle ------------------------------------------------------------------

    def start(self) -> None:
        """Listen to the event port and start the delivery and token-check workers."""
        self.changes.subscribe(self.on_change)
        self._tasks = [
            asyncio.create_task(self._deliver_forever(), name="stream-deliver"),
            asyncio.create_task(self._check_tokens_forever(), name="stream-tokens"),
        ]

    async def stop(self, wait: float = 2.0) -> None:
        """Close every stream with 1001 and stop the workers."""
        await self.close_all(GOING_AWAY, wait)
        if self._tasks:
            self.changes.unsubscribe(self.on_change)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def close_all(self, code: int, wait: float = 2.0) -> None:
        """Close every stream with ``code``; wait (bounded) until their close is sent."""
        connections = [c for room in self._rooms.values() for c in room.connections]
        for connection in connections:
            connection.close(code)
        if connections:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await asyncio.gather(*(c.finished.wait() for c in connections))

    # --- connections -----------------------------------------------------------------

    async def attach(self, connection: StreamConnection) -> str:
        """Register ``connection`` and return its snapshot (changes after it are queued)."""
        room = self._rooms.get(connection.client_id)
        if room is None:
            room = self._rooms[connection.client_id] = Room(connection.client_id)
        room.connections.add(connection)
        self._notify()
        try:
            snapshot = await self.renderer.snapshot(connection.client_id)
        except BaseException:
            self.detach(connection)
            raise
        self._follow(room, snapshot.watchlist, snapshot.waiting)
        return snapshot.message

    def detach(self, connection: StreamConnection) -> None:
        """Forget ``connection``; its room goes when its last stream does."""
        room = self._rooms.get(connection.client_id)
        if room is None or connection not in room.connections:
            return
        room.connections.discard(connection)
        if connection.close_code == OVERFLOW:
            self.dropped += 1  # a running total for the metrics
        if not room.connections:
            del self._rooms[connection.client_id]
            for symbol in room.symbols():
                self._unindex(room, symbol)
        self._notify()

    def connections(self) -> list[StreamConnection]:
        """Every open stream."""
        return [c for room in self._rooms.values() for c in room.connections]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        """Wait until ``predicate()`` holds (re-checked whenever a stream comes or goes)."""
        async with asyncio.timeout(within):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()

    # --- prices (hot path) -----------------------------------------------------------

    def on_trade(self, trade: AggTrade) -> None:
        """Price-book listener: remember the trade; flush at most once per interval."""
        symbol = trade.symbol
        if symbol not in self._by_symbol:
            return
        self._trades[symbol] = trade
        if symbol in self._scheduled:
            return
        self._scheduled.add(symbol)
        loop = asyncio.get_running_loop()
        last = self._flushed_at.get(symbol)
        due = 0.0 if last is None else last + self.coalesce_seconds - loop.time()
        if due > 0:
            loop.call_later(due, self._flush, symbol)
        else:
            loop.call_soon(self._flush, symbol)

    def _flush(self, symbol: str) -> None:
        self._scheduled.discard(symbol)
        trade = self._trades.pop(symbol, None)
        rooms = self._by_symbol.get(symbol)
        if trade is None or not rooms:
            return
        self._flushed_at[symbol] = asyncio.get_running_loop().time()
        message = price_message(symbol, trade.price, trade.trade_time_ms)
        for room in rooms:
            for connection in room.connections:
                connection.offer_price(symbol, message)

    def _follow(self, room: Room, watchlist: frozenset[str], waiting: dict[int, str]) -> None:
        before = room.symbols()
        room.watchlist, room.waiting = watchlist, waiting
        after = room.symbols()
        for symbol in before - after:
            self._unindex(room, symbol)
        for symbol in after - before:
            self._by_symbol.setdefault(symbol, set()).add(room)

    def _unindex(self, room: Room, symbol: str) -> None:
        rooms = self._by_symbol.get(symbol)
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del self._by_symbol[symbol]

    # --- committed changes -----------------------------------------------------------

    def on_change(self, change: Change) -> None:
        """Event-port listener: queue the changes some open stream cares about."""
        wanted = change.owner in self._rooms or (
            change.topic is not Topic.WATCHLIST and None in self._rooms
        )
        if wanted:
            self._queue.append(change)
            self._wake.set()

    async def _deliver_forever(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = list(self._queue)
            try:
                deliveries = await self.renderer.render(batch)
            except Exception:  # the database is down: keep the changes, in order, retry
                log.exception("reading %d stream changes failed; retrying", len(batch))
                await asyncio.sleep(RENDER_RETRY_SECONDS)
                continue
            for _ in batch:
                self._queue.popleft()
            for delivery in deliveries:
                self._dispatch(delivery)

    def _dispatch(self, delivery: Delivery) -> None:
        rooms = [self._rooms.get(delivery.owner)]
        if delivery.owner is not None and delivery.watchlist is None:
            rooms.append(self._rooms.get(None))  # the operator sees every client's orders
        for room in rooms:
            if room is None:
                continue
            self._update(room, delivery)
            for connection in room.connections:
                for message in delivery.messages:
                    connection.push(message)

    def _update(self, room: Room, delivery: Delivery) -> None:
        if delivery.watchlist is not None:
            self._follow(room, delivery.watchlist, room.waiting)
        elif delivery.order is not None:
            order_id, symbol, waiting = delivery.order
            orders = dict(room.waiting)
            if waiting:
                orders[order_id] = symbol
            else:
                orders.pop(order_id, None)
            self._follow(room, room.watchlist, orders)

    # --- revoked tokens --------------------------------------------------------------

    async def _check_tokens_forever(self) -> None:
        while True:
            await asyncio.sleep(self.auth_recheck_seconds)
            try:
                await self.check_tokens()
            except Exception:  # the database is down: streams stay open until it is back
                log.exception("re-checking stream tokens failed")

    async def check_tokens(self) -> None:
        """Close with 4401 every stream whose token was revoked or rotated since."""
        open_ = [c for c in self.connections() if c.token_hash is not None]
        if not open_:
            return
        active = await self.renderer.active_tokens({c.token_hash for c in open_ if c.token_hash})
        for connection in open_:
            if connection.token_hash not in active:
                connection.close(UNAUTHORIZED)
