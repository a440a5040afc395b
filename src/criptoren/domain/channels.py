"""Price channels (Donchian bands) over closed candles: pure, incremental, exact."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import NamedTuple


class Candle(NamedTuple):
    """One closed candle; ``open_time_ms`` is the time a fill inside it is reported at."""

    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class Band(NamedTuple):
    """``upper = max(high)``, ``lower = min(low)`` over the last N candles."""

    upper: Decimal
    lower: Decimal


class Donchian:
    """``upper`` over the last N highs and ``lower`` over the last M lows, one candle at a time.

    Each side is a monotonic queue of ``(value, position at which it leaves the window)``
    whose head is the extreme: O(1) amortised per candle. Both sides live in one method
    because this runs once per candle in every backtest.
    """

    __slots__ = ("_count", "_full", "_highs", "_lower_window", "_lows", "_upper_window")

    def __init__(self, upper_window: int, lower_window: int | None = None) -> None:
        lower_window = upper_window if lower_window is None else lower_window
        if upper_window < 1 or lower_window < 1:
            raise ValueError("a channel window must be at least 1")
        self._upper_window = upper_window
        self._lower_window = lower_window
        self._full = max(upper_window, lower_window)
        self._count = 0
        self._highs: deque[tuple[Decimal, int]] = deque()
        self._lows: deque[tuple[Decimal, int]] = deque()

    def push(self, candle: Candle) -> tuple[Decimal, Decimal] | None:
        """Take candle t; ``(upper(t), lower(t))`` once both windows are full, else ``None``."""
        count = self._count = self._count + 1
        highs, value = self._highs, candle.high
        while highs and highs[-1][0] <= value:
            highs.pop()  # an older high not above this one can never be the maximum again
        highs.append((value, count + self._upper_window))
        if highs[0][1] <= count:
            highs.popleft()
        lows, value = self._lows, candle.low
        while lows and lows[-1][0] >= value:
            lows.pop()
        lows.append((value, count + self._lower_window))
        if lows[0][1] <= count:
            lows.popleft()
        return (highs[0][0], lows[0][0]) if count >= self._full else None


def donchian_bands(candles: Iterable[Candle], window: int) -> Iterator[Band | None]:
    """The band at the close of each candle (``None`` during the warm-up)."""
    bands = Donchian(window)
    for candle in candles:
        band = bands.push(candle)
        yield None if band is None else Band(*band)
