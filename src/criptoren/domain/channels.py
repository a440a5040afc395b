"""Price channels (Donchian bands) over closed candles: pure, incremental, exact."""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable, Iterable, Iterator
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


class _RollingExtreme:
    """Monotonic queue of ``(value, position at which it leaves)``: its head is the extreme."""

    __slots__ = ("_count", "_dominated", "_items", "_window")

    def __init__(self, window: int, dominated: Callable[[Decimal, Decimal], bool]) -> None:
        if window < 1:
            raise ValueError("a channel window must be at least 1")
        self._window = window
        self._count = 0
        self._dominated = dominated  # can an older value never be the extreme again?
        self._items: deque[tuple[Decimal, int]] = deque()

    def push(self, value: Decimal) -> Decimal | None:
        """Add the next value; the window's extreme, or ``None`` until the window is full."""
        items = self._items
        dominated = self._dominated
        while items and dominated(items[-1][0], value):
            items.pop()
        count = self._count = self._count + 1
        items.append((value, count + self._window))
        if items[0][1] <= count:
            items.popleft()
        return items[0][0] if count >= self._window else None


class RollingMax(_RollingExtreme):
    """The maximum of the last ``window`` values pushed, in O(1) amortised."""

    __slots__ = ()

    def __init__(self, window: int) -> None:
        super().__init__(window, operator.le)


class RollingMin(_RollingExtreme):
    """The minimum of the last ``window`` values pushed, in O(1) amortised."""

    __slots__ = ()

    def __init__(self, window: int) -> None:
        super().__init__(window, operator.ge)


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
