"""Prices across processes: the engine announces coalesced last prices over NOTIFY, and
each API process keeps a price book fed by those announcements.

The engine sends the latest trade of every symbol that moved, at most once per
``interval`` (the first trade after a quiet spell at once), and a heartbeat every second
with its stale symbols. An API worker never connects to the exchange's stream: its
``MarketWatch`` asks the engine to watch or release symbols.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import orjson

from criptoren.db.notify import ENGINE, MAX_PAYLOAD, PRICES, Notifier, cancel_quietly
from criptoren.engine.pg_follower import watch_request
from criptoren.market.pricebook import PriceBook
from criptoren.market.schemas import AggTrade

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 1.0
ENGINE_SILENT_AFTER = 5.0
ENTRY_BYTES = 80  # one announced price, generously


class PricePublisher:
    """The engine's price-book listener: coalesced last prices out to the API workers."""

    def __init__(self, notifier: Notifier, book: PriceBook, interval: float = 0.02) -> None:
        self.notifier = notifier
        self.book = book
        self.interval = interval
        self._latest: dict[str, AggTrade] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def on_trade(self, trade: AggTrade) -> None:
        """Price-book listener: remember the symbol's latest trade."""
        self._latest[trade.symbol] = trade
        self._wake.set()

    async def start(self) -> None:
        """Start announcing."""
        self._task = asyncio.create_task(self._run(), name="price-publisher")

    async def stop(self) -> None:
        """Stop announcing."""
        await cancel_quietly(self._task)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HEARTBEAT_SECONDS):
                    await self._wake.wait()
            self._wake.clear()
            latest, self._latest = self._latest, {}
            self.flush(list(latest.values()))
            if latest:
                await asyncio.sleep(self.interval)  # coalesce what comes next

    def flush(self, trades: list[AggTrade]) -> None:
        """Announce ``trades`` (and the stale symbols) in payloads under the size limit."""
        per_payload = max(1, (MAX_PAYLOAD - 1000) // ENTRY_BYTES)
        stale = self.book.stale_symbols()[:10]
        for start in range(0, max(1, len(trades)), per_payload):
            chunk = trades[start : start + per_payload]
            prices = [[t.symbol, t.agg_id, str(t.price), t.trade_time_ms] for t in chunk]
            self.notifier.send(PRICES, orjson.dumps({"p": prices, "s": stale}).decode())


class AnnouncedMarket:
    """An API worker's ``MarketWatch``: a price book fed by the engine's announcements."""

    def __init__(self, notifier: Notifier, book: PriceBook | None = None) -> None:
        self.notifier = notifier
        self.book = book or PriceBook()
        self.heard_at: float | None = None

    def on_payload(self, payload: str) -> None:
        """Listener handler (prices channel): apply announced prices and stale flags."""
        message = orjson.loads(payload)
        self.heard_at = time.monotonic()
        stale = set(message.get("s", ()))
        for symbol, agg_id, price, time_ms in message.get("p", ()):
            trade = AggTrade(symbol, agg_id, Decimal(price), Decimal(0), time_ms, False, False)
            self.book.apply(trade)
        for symbol in self.book.stale_symbols():
            if symbol not in stale:
                self.book.state(symbol).stale = False
        for symbol in stale:
            self.book.state(symbol).stale = True

    async def watch(self, symbols: Iterable[str]) -> None:
        """Ask the engine to stream ``symbols`` (those it announces live prices of already
        need no request: one ``GET /monitorar-par`` must not cost a NOTIFY and the engine's
        attention each time)."""
        book = self.book
        wanted = sorted({s for s in symbols if book.last_price(s) is None or book.is_stale(s)})
        if wanted:
            self.notifier.send(ENGINE, watch_request(wanted))

    async def unwatch(self, symbols: Iterable[str]) -> None:
        """Tell the engine ``symbols`` may no longer be needed (it checks, after a grace)."""
        released = sorted(set(symbols))
        if released:
            self.notifier.send(ENGINE, watch_request(released, release=True))

    def snapshot(self, symbol: str) -> Mapping[str, Any] | None:
        """What the engine last announced of ``symbol``."""
        return self.book.snapshot(symbol)

    def health(self) -> Mapping[str, Any]:
        """Whether the engine was heard from lately (its heartbeat is every second)."""
        heard = self.heard_at is not None and time.monotonic() - self.heard_at < ENGINE_SILENT_AFTER
        return {
            "connected": heard,
            "source": "engine",
            "symbols": sum(1 for s in self.book.symbols() if self.book.last_price(s)),
            "stale_symbols": self.book.stale_symbols(),
        }
