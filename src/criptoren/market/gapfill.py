"""Exactly-once, in-order delivery: live trades are checked for id gaps, gaps filled by REST."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from criptoren.binance.errors import BinanceError, RateLimited, TemporaryError
from criptoren.binance.rest import BinancePublicRest
from criptoren.market.backoff import Backoff
from criptoren.market.config import FeedConfig
from criptoren.market.pricebook import PriceBook
from criptoren.market.schemas import AggTrade, agg_trade_from_rest

log = logging.getLogger(__name__)


class Sequencer:
    """Routes live trades into the book, buffering a symbol while its gap is filled."""

    def __init__(self, book: PriceBook, rest: BinancePublicRest, config: FeedConfig) -> None:
        self.book = book
        self.rest = rest
        self.config = config
        self.fills_done = 0
        self.fills_failed = 0
        self.trades_filled = 0
        self._buffers: dict[str, deque[AggTrade]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._rest_slots = asyncio.Semaphore(config.gap_fill_concurrency)

    @property
    def buffers(self) -> dict[str, deque[AggTrade]]:
        """Symbol -> live trades held back while its gap-fill runs (empty when none runs)."""
        return self._buffers

    def hold(self, trade: AggTrade) -> None:
        """Buffer a live trade that must wait for a gap-fill (started here if needed)."""
        if trade.symbol not in self._buffers:
            self.start_fill(trade.symbol)  # ids were skipped: fetch them before this one
        self._buffers[trade.symbol].append(trade)

    def start_fill(self, symbol: str) -> None:
        """Fetch everything after the last seen id; live trades wait in a buffer meanwhile."""
        state = self.book.state(symbol)
        if symbol in self._buffers or (state.last_agg_id is None and state.resume_from_ms is None):
            return
        self._buffers[symbol] = deque()
        task = asyncio.create_task(self._fill(symbol), name=f"gap-fill-{symbol}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until no gap-fill is running (for tests and orderly shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel running fills."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _fill(self, symbol: str) -> None:
        try:
            await asyncio.wait_for(self._page_all(symbol), self.config.gap_fill_timeout)
            self.fills_done += 1
        except (BinanceError, TimeoutError) as exc:
            self.fills_failed += 1
            log.warning("gap-fill of %s gave up: %r", symbol, exc)
        finally:
            self.book.state(symbol).resume_from_ms = None
            self._flush(symbol)

    def _flush(self, symbol: str) -> None:
        buffer = self._buffers.pop(symbol, deque())
        for trade in buffer:
            self.book.apply(trade)

    async def _page_all(self, symbol: str) -> None:
        """Page ``aggTrades`` from the last seen id until the first live (buffered) id."""
        page = self.config.gap_fill_page
        state = self.book.state(symbol)
        horizon = int((time.time() - self.config.gap_fill_lookback) * 1000)
        if state.last_agg_id is None:  # a resume time: nothing seen yet, fill from then
            start = max(state.resume_from_ms or horizon, horizon)
            items = await self._page(symbol, startTime=start, limit=page)
        else:
            items = await self._page(symbol, fromId=state.last_agg_id + 1, limit=page)
        if items and int(items[0]["T"]) < horizon:
            # the resume point is older than the look-back: start from the look-back instead
            items = await self._page(symbol, startTime=horizon, limit=page)
        while True:
            self._push(symbol, items)
            buffer = self._buffers[symbol]
            if len(items) < page:
                return
            next_id = int(items[-1]["a"]) + 1
            if buffer and next_id >= buffer[0].agg_id:
                return
            items = await self._page(symbol, fromId=next_id, limit=page)

    def _push(self, symbol: str, items: list[dict[str, Any]]) -> None:
        for item in items:
            if self.book.apply(agg_trade_from_rest(symbol, item)):
                self.trades_filled += 1

    async def _page(self, symbol: str, **params: int) -> list[dict[str, Any]]:
        """One page, retried with backoff on temporary errors (the caller bounds total time)."""
        backoff = Backoff(self.config.backoff_initial, self.config.backoff_max)
        gate = self.rest.http.gate
        while True:
            await gate.wait()  # a 429/418 anywhere on this host: nothing before Retry-After
            try:
                async with self._rest_slots:  # hundreds of symbols refill after one reconnect
                    return await self.rest.agg_trades(symbol, **params)
            except RateLimited:
                continue
            except TemporaryError as exc:
                log.info("aggTrades %s failed, retrying: %s", symbol, exc)
            await asyncio.sleep(backoff.next_delay())
