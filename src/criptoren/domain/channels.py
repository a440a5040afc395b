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


class RollingExtreme:
    """The maximum (or minimum) of the last ``window`` values pushed, in O(1) amortised."""

    __slots__ = ("_count", "_items", "_maximum", "_window")

    def __init__(self, window: int, *, maximum: bool) -> None:
        if window < 1:
            raise ValueError("a channel window must be at least 1")
        self._window = window
        self._maximum = maximum
        self._count = 0
        # (position, value) pairs whose values are monotonic: the head is the extreme
        self._items: deque[tuple[int, Decimal]] = deque()

    def push(self, value: Decimal) -> Decimal | None:
        """Add the next value; the extreme of the window, or ``None`` until it is full."""
        items = self._items
        if self._maximum:
            while items and items[-1][1] <= value:
                items.pop()
        else:
            while items and items[-1][1] >= value:
                items.pop()
        items.append((self._count, value))
        self._count += 1
        if items[0][0] <= self._count - 1 - self._window:
            items.popleft()
        return items[0][1] if self._count >= self._window else None


class Band(NamedTuple):
    """``upper = max(high)``, ``lower = min(low)`` over the last N candles."""

    upper: Decimal
    lower: Decimal


class Donchian:
    """Donchian bands of window N, updated one closed candle at a time."""

    __slots__ = ("_lower", "_upper")

    def __init__(self, window: int) -> None:
        self._upper = RollingExtreme(window, maximum=True)
        self._lower = RollingExtreme(window, maximum=False)

    def push(self, candle: Candle) -> Band | None:
        """Take candle t; ``(upper_N(t), lower_N(t))`` once N candles exist."""
        upper = self._upper.push(candle.high)
        lower = self._lower.push(candle.low)
        if upper is None or lower is None:
            return None
        return Band(upper, lower)


def donchian_bands(candles: Iterable[Candle], window: int) -> Iterator[Band | None]:
    """The band at the close of each candle (``None`` during the warm-up)."""
    bands = Donchian(window)
    for candle in candles:
        yield bands.push(candle)
