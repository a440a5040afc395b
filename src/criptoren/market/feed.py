"""Binance combined-stream client: subscriptions, reconnects, rotation, staleness, gap-fill.

Design choice for slow consumers: the socket reader parses each frame and pushes it
through the price book to the listeners synchronously, with no queue in between. Nothing
can overflow, and websockets' own bounded receive buffer gives TCP back-pressure if the
process as a whole is too slow. Listeners must therefore be fast sync callbacks; one that
needs to do I/O should hand the trade to its own task (e.g. via an unbounded deque).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from criptoren.binance.rest import BinancePublicRest
from criptoren.binance.transport import BinanceHttp
from criptoren.market.config import FeedConfig
from criptoren.market.gapfill import Sequencer
from criptoren.market.link import Link
from criptoren.market.pricebook import PriceBook
from criptoren.market.schemas import (
    Kline,
    agg_trade_from_stream,
    kline_from_stream,
    kline_stream,
    mini_ticker_from_stream,
    stream_names,
    symbol_of_stream,
)
from criptoren.market.slot import Slot

log = logging.getLogger(__name__)


class BinanceFeed:
    """Keeps its price book fed for a changing set of symbols, forever (a ``MarketWatch``).

    Trade listeners register on :attr:`book`. Without ``rest`` the feed opens (and closes)
    its own HTTP transport to ``config.rest_url`` for gap-fills.
    """

    def __init__(self, config: FeedConfig, rest: BinancePublicRest | None = None) -> None:
        self.config = config
        self.book = PriceBook(config.max_id_reorder)
        self._own_http: BinanceHttp | None = None
        if rest is None:
            self._own_http = BinanceHttp(config.rest_url, timeout=config.rest_timeout)
            rest = BinancePublicRest(self._own_http)
        self.rest = rest
        self.sequencer = Sequencer(self.book, self.rest, config)
        self.reconnects = 0
        self.last_reconnect: float | None = None
        self._slots: list[Slot] = []
        self._slot_of: dict[str, Slot] = {}
        # symbol -> (book activity count, when it last changed): staleness without a clock
        # read per message
        self._activity: dict[str, tuple[int, float]] = {}
        self._held = self.sequencer.buffers
        self._offer = self.book.offer
        self._links_ready: dict[int, int] = {}
        self._watchdog: asyncio.Task[None] | None = None
        self._started = False
        self._changed = asyncio.Event()
        # kline streams ride the same combined connections as the trade streams
        self._kline_slot: dict[str, Slot] = {}
        self._kline_listeners: list[Callable[[Kline], None]] = []

    async def start(self) -> None:
        """Start the staleness watchdog (slots start as symbols are added)."""
        if self._started:
            return
        self._started = True
        for slot in self._slots:
            slot.start()
        self._watchdog = asyncio.create_task(self._watch(), name="feed-watchdog")

    async def stop(self) -> None:
        """Close every connection and stop every task."""
        self._started = False
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        await asyncio.gather(*(slot.stop() for slot in self._slots))
        await self.sequencer.stop()
        if self._own_http is not None:
            await self._own_http.aclose()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        """Wait until ``predicate()`` holds; re-checked on links, staleness and reconnects."""
        async with asyncio.timeout(within):
            while not predicate():
                await self._changed.wait()

    def monitored(self) -> list[str]:
        """Symbols currently wanted."""
        return sorted(self._slot_of)

    async def watch(self, symbols: Iterable[str]) -> None:
        """Start streaming ``symbols`` (idempotent; subscriptions are sent in the background)."""
        per_symbol = len(stream_names("X", ticker=self.config.ticker))
        for symbol in (s.upper() for s in symbols):
            if symbol in self._slot_of:
                continue
            slot = self._slot_with_room(per_symbol)
            self._slot_of[symbol] = slot
            self.book.state(symbol)
            slot.want(add=stream_names(symbol, ticker=self.config.ticker))

    async def unwatch(self, symbols: Iterable[str]) -> None:
        """Stop streaming ``symbols``."""
        for symbol in (s.upper() for s in symbols):
            slot = self._slot_of.pop(symbol, None)
            if slot is not None:
                slot.want(remove=stream_names(symbol, ticker=self.config.ticker))
                self._activity.pop(symbol, None)
                # a later re-subscription starts fresh instead of back-filling the pause
                self.book.forget(symbol)

    def add_kline_listener(self, listener: Callable[[Kline], None]) -> None:
        """Receive every kline event (open and closed) as a fast synchronous callback."""
        self._kline_listeners.append(listener)

    async def watch_klines(self, symbol: str, interval: str) -> None:
        """Stream ``<symbol>@kline_<interval>`` (idempotent)."""
        stream = kline_stream(symbol, interval)
        if stream not in self._kline_slot:
            slot = self._kline_slot[stream] = self._slot_with_room(1)
            slot.want(add=[stream])

    async def unwatch_klines(self, symbol: str, interval: str) -> None:
        """Stop streaming ``<symbol>@kline_<interval>``."""
        slot = self._kline_slot.pop(kline_stream(symbol, interval), None)
        if slot is not None:
            slot.want(remove=[kline_stream(symbol, interval)])

    def set_resume_point(self, symbol: str, last_agg_id: int) -> None:
        """Trades after ``last_agg_id`` will be fetched and delivered before live ones."""
        self.book.set_last_id(symbol.upper(), last_agg_id)

    def set_resume_time(self, symbol: str, start_ms: int) -> None:
        """Nothing seen yet: trades from ``start_ms`` on will be delivered before live ones."""
        self.book.set_resume_time(symbol.upper(), start_ms)

    def snapshot(self, symbol: str) -> dict[str, Any] | None:
        """JSON-friendly last price, trade id, staleness and 24 h statistics, or None."""
        return self.book.snapshot(symbol.upper())

    def _slot_with_room(self, needed: int) -> Slot:
        for slot in self._slots:
            if slot.room() >= needed:
                return slot
        slot = Slot(len(self._slots), self, self.config)
        self._slots.append(slot)
        if self._started:
            slot.start()
        return slot

    # --- SlotOwner --------------------------------------------------------------------

    def on_message(self, link: Link, raw: bytes) -> None:
        """Parse one frame and route it (hot path)."""
        msg = orjson.loads(raw)
        data = msg.get("data")
        if data is None:
            if msg.get("e") == "serverShutdown":
                self._server_shutdown(link)
            else:
                link.resolve(msg)
            return
        kind = data.get("e")
        if kind == "aggTrade":
            trade = agg_trade_from_stream(data)
            # the sequencer's routing, inlined: this runs for every message
            if (self._held and trade.symbol in self._held) or not self._offer(trade):
                self.sequencer.hold(trade)
        elif kind == "kline":
            kline = kline_from_stream(data)
            for listener in self._kline_listeners:
                listener(kline)
        elif kind == "24hrMiniTicker":
            self.book.apply_ticker(mini_ticker_from_stream(data))
            self._notify()
        elif kind == "serverShutdown":
            self._server_shutdown(link)

    def on_subscribed(self, link: Link, streams: list[str]) -> None:
        """Give new streams a grace period and fill their gap (resume point or reconnect)."""
        now = time.monotonic()
        for symbol in {symbol_of_stream(s) for s in streams if "@kline_" not in s}:
            if symbol in self._slot_of:
                self._activity.setdefault(symbol, (self.book.state(symbol).activity, now))
                self.sequencer.start_fill(symbol)

    def on_link_ready(self, slot: Slot, link: Link, replaced: bool) -> None:
        """Count reconnects (every link after a slot's first one)."""
        if slot.links_opened > 1:
            self.reconnects += 1
            self.last_reconnect = time.time()
        log.info("slot %d: link %d ready (%d streams)", slot.index, link.id, len(link.subscribed))
        link.closed_callback = self._notify
        self._notify()

    def _server_shutdown(self, link: Link) -> None:
        slot = link.slot
        # a link being replaced already (not yet or no longer current) needs no new rotation
        if slot is not None and (
            slot.link is link or slot.link is None or slot.link.closed.is_set()
        ):
            log.info("slot %d: serverShutdown on link %d, rotating", slot.index, link.id)
            slot.request_rotate()

    # --- staleness --------------------------------------------------------------------

    async def _watch(self) -> None:
        period = max(0.01, self.config.stale_after / 4)
        while True:
            await asyncio.sleep(period)
            with contextlib.suppress(Exception):
                self.check_staleness()

    def check_staleness(self) -> None:
        """Flag quiet symbols stale; recycle a connection whose symbols are all quiet."""
        now = time.monotonic()
        limit = self.config.stale_after
        for symbol, (count, seen) in list(self._activity.items()):
            state = self.book.state(symbol)
            if state.activity != count:
                count, seen = state.activity, now
                self._activity[symbol] = (count, seen)
            stale = now - seen > limit
            if stale != state.stale:
                state.stale = stale
                self._notify()
                if stale:
                    log.warning("%s is stale (no event for %.1fs)", symbol, now - seen)
        for slot in self._slots:
            self._maybe_recycle(slot, now)

    def _maybe_recycle(self, slot: Slot, now: float) -> None:
        link = slot.link
        if link is None or link.ready_at is None or now - link.ready_at <= self.config.stale_after:
            return
        symbols = [s for s, owner in self._slot_of.items() if owner is slot]
        if symbols and all(self.book.state(s).stale for s in symbols):
            log.warning("slot %d: every symbol is quiet, recycling the connection", slot.index)
            slot.request_recycle()

    # --- health -----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Connection state and counters, JSON-friendly."""
        links = [slot.link for slot in self._slots if slot.link is not None]
        wanted = [slot for slot in self._slots if slot.desired]
        up = [s for s in wanted if s.link is not None and not s.link.closed.is_set()]
        return {
            "connected": bool(wanted) and len(up) == len(wanted),
            "connections": len(links),
            "streams": sum(len(link.subscribed) for link in links),
            "symbols": len(self._slot_of),
            "stale_symbols": self.book.stale_symbols(),
            "reconnects": self.reconnects,
            "last_reconnect": self.last_reconnect,
            "gap_fills": self.sequencer.fills_done,
            "gap_fills_failed": self.sequencer.fills_failed,
            "gap_filled_trades": self.sequencer.trades_filled,
        }
