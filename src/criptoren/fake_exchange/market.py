"""The fake exchange's trading tape: emission, re-timing, pauses and awaitable conditions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Protocol

from criptoren.fake_exchange.records import AggRecord
from criptoren.fake_exchange.tape import Tape


class Publisher(Protocol):
    """Where emitted trades go out live (the stream server)."""

    def publish_trades(self, symbol: str, records: Sequence[AggRecord]) -> None:
        """Send ``records`` to the subscribers of the symbol's trade streams."""


class Market:
    """Assigns ids and times to trades, keeps them for REST and publishes them live."""

    def __init__(self, *, keep_times: bool = False) -> None:
        self.keep_times = keep_times
        self.tapes: dict[str, Tape] = {}
        self.paused: set[str] = set()
        self.publisher: Publisher | None = None
        self._last_ms = 0
        self._next_trade_id: dict[str, int] = {}
        self._changed = asyncio.Event()
        self._waiters = 0

    def now_ms(self) -> int:
        """Exchange clock in ms, never going backwards."""
        self._last_ms = max(self._last_ms, int(time.time() * 1000))
        return self._last_ms

    def next_millisecond(self) -> None:
        """Return once the wall clock is in a later millisecond than when called (≤ 1 ms)."""
        called = int(time.time() * 1000)
        while int(time.time() * 1000) == called:
            pass

    def advance_clock(self, ms: int) -> None:
        """Move the exchange clock forward to ``ms`` (scripted trades may lie ahead of ours)."""
        self._last_ms = max(self._last_ms, ms)

    def tape(self, symbol: str) -> Tape:
        """The tape of ``symbol`` (created empty if needed)."""
        tape = self.tapes.get(symbol)
        if tape is None:
            tape = self.tapes[symbol] = Tape(symbol)
        return tape

    def emit(self, symbol: str, records: Sequence[AggRecord], *, keep_times: bool = False) -> None:
        """Emit trades of one symbol: stamp, store, publish (unless the symbol is paused)."""
        if not records:
            return
        tape = self.tape(symbol)
        last = tape.last
        next_id = 1 if last is None else last.a + 1
        now = self.now_ms()
        for rec in records:
            if rec.a < next_id:  # recorded ids are kept unless they would go backwards
                rec.a = next_id
            next_id = rec.a + 1
            if not (keep_times or self.keep_times) or not rec.T:
                rec.T = now
                rec.E = now
            tape.append(rec)
        # the exchange's clock is never behind its own trades
        self._last_ms = max(self._last_ms, records[-1].T)
        if self.publisher is not None and symbol not in self.paused:
            self.publisher.publish_trades(symbol, records)
        self.notify()

    def emit_prices(
        self,
        symbol: str,
        prices: Sequence[Decimal | str],
        qty: str = "0.001",
        times_ms: Sequence[int] | None = None,
    ) -> None:
        """Emit one trade per price (scripted source / test control), at ``times_ms`` if given."""
        first = self._next_trade_id.get(symbol, 1_000_000)
        times = times_ms or [0] * len(prices)
        recs = [
            AggRecord(symbol, str(p), qty, first + i, first + i, t, bool(i % 2), E=t)
            for i, (p, t) in enumerate(zip(prices, times, strict=True))
        ]
        self._next_trade_id[symbol] = first + len(recs)
        self.emit(symbol, recs, keep_times=times_ms is not None)

    def reset_ids(self, symbol: str) -> None:
        """Forget every trade of ``symbol``: its ids start again (as after a testnet reset)."""
        self.tapes.pop(symbol, None)
        self._next_trade_id.pop(symbol, None)
        self.notify()

    def emitted(self, symbol: str) -> int:
        """How many aggregate trades were emitted for ``symbol``."""
        tape = self.tapes.get(symbol)
        return 0 if tape is None else len(tape.records)

    def notify(self) -> None:
        """Wake everything waiting in :meth:`wait_for`."""
        if self._waiters:
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        """Wait until ``predicate()`` holds (re-checked on every change); TimeoutError if not."""
        async with asyncio.timeout(within):
            while not predicate():
                self._waiters += 1
                try:
                    await self._changed.wait()
                finally:
                    self._waiters -= 1
