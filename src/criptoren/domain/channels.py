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


class _RollingWindow:
    """Monotonic queue of ``(value, position at which it leaves)``: its head is the extreme."""

    __slots__ = ("_count", "_items", "_window")

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError("a channel window must be at least 1")
        self._window = window
        self._count = 0
        self._items: deque[tuple[Decimal, int]] = deque()

    def _enter(self, value: Decimal) -> Decimal | None:
        """Append ``value`` (dominated values already dropped); the head once the window is full."""
        items = self._items
        count = self._count = self._count + 1
        items.append((value, count + self._window))
        if items[0][1] <= count:
            items.popleft()
        return items[0][0] if count >= self._window else None


class RollingMax(_RollingWindow):
    """The maximum of the last ``window`` values pushed, in O(1) amortised."""

    __slots__ = ()

    def push(self, value: Decimal) -> Decimal | None:
        """Add the next value; the window's maximum, or ``None`` until the window is full."""
        items = self._items
        while items and items[-1][0] <= value:
            items.pop()
        return self._enter(value)


class RollingMin(_RollingWindow):
    """The minimum of the last ``window`` values pushed, in O(1) amortised."""

    __slots__ = ()

    def push(self, value: Decimal) -> Decimal | None:
        """Add the next value; the window's minimum, or ``None`` until the window is full."""
        items = self._items
        while items and items[-1][0] >= value:
            items.pop()
        return self._enter(value)


class Band(NamedTuple):
    """``upper = max(high)``, ``lower = min(low)`` over the last N candles."""

    upper: Decimal
    lower: Decimal


class Donchian:
    """Donchian bands of window N, updated one closed candle at a time."""

    __slots__ = ("_lower", "_upper")

    def __init__(self, window: int) -> None:
        self._upper = RollingMax(window)
        self._lower = RollingMin(window)

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
