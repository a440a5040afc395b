"""Request-weight pacing: spend an IP's Binance weight no faster than ``rateLimits`` allow.

Binance counts the weight of every request per IP in fixed windows (``REQUEST_WEIGHT``,
6000 per minute today, read from ``exchangeInfo.rateLimits``) and answers 429 once a
window is spent; ignoring 429s earns a ban (418). Each reply carries the window's total
(``X-MBX-USED-WEIGHT-1M``), which counts our other requests and other processes on the
same IP too. The pacer keeps ``used`` (the highest total heard in this window, or our own
count where no header came) plus what is in flight below the limit, less a reserve, and
holds a request back until the next window when it would not fit.

The ``ORDERS`` limits count unfilled orders only: MARKET orders that fill never add to
them, so weight is the limit a burst of fired orders meets.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Binance's documented weights of the endpoints this project calls (1 when not listed)
REQUEST_WEIGHTS = {
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/account"): 20,
    ("GET", "/api/v3/myTrades"): 20,
    ("GET", "/api/v3/order"): 4,
    ("GET", "/api/v3/aggTrades"): 4,
    ("GET", "/api/v3/klines"): 2,
    ("GET", "/api/v3/ticker/price"): 2,
}
INTERVAL_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86_400}
RESERVE = 0.05  # of the limit, left to requests the pacer does not see coming (other processes)
GUARD = 0.05  # of a window, waited past its end: our clock and Binance's may differ a little


def request_weight(method: str, path: str) -> int:
    """The weight Binance counts for one request."""
    return REQUEST_WEIGHTS.get((method, path), 1)


@dataclass(frozen=True, slots=True)
class WeightLimit:
    """One ``REQUEST_WEIGHT`` entry of ``exchangeInfo.rateLimits``."""

    limit: int = 6000
    interval: str = "MINUTE"
    interval_num: int = 1

    @property
    def seconds(self) -> float:
        """The window's length."""
        return float(INTERVAL_SECONDS[self.interval] * self.interval_num)

    @property
    def header(self) -> str:
        """The reply header carrying the window's used weight (``X-MBX-USED-WEIGHT-1M``)."""
        return f"X-MBX-USED-WEIGHT-{self.interval_num}{self.interval[0]}"

    def rate_limit(self) -> dict[str, Any]:
        """As an ``exchangeInfo.rateLimits`` item."""
        return {
            "rateLimitType": "REQUEST_WEIGHT",
            "interval": self.interval,
            "intervalNum": self.interval_num,
            "limit": self.limit,
        }


def weight_limit(rate_limits: Iterable[Mapping[str, Any]]) -> WeightLimit | None:
    """The shortest-window ``REQUEST_WEIGHT`` limit of ``exchangeInfo.rateLimits``, if any."""
    found = [
        WeightLimit(int(item["limit"]), str(item["interval"]), int(item.get("intervalNum", 1)))
        for item in rate_limits
        if item.get("rateLimitType") == "REQUEST_WEIGHT"
        and item.get("interval") in INTERVAL_SECONDS
    ]
    return min(found, key=lambda w: w.seconds, default=None)


class WeightPacer:
    """Holds requests back so the IP's weight stays under its limit (never a 429 of ours)."""

    def __init__(
        self, limit: WeightLimit | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.clock = clock
        self.limit = limit or WeightLimit()
        self.used = 0  # in the current window: the highest total Binance reported, at least
        self.in_flight = 0
        self.window = self._window_now()
        self.waits = 0  # requests that had to wait for the next window

    def configure(self, limit: WeightLimit) -> None:
        """Adopt the limit the exchange announces (``exchangeInfo.rateLimits``)."""
        self.limit = limit

    @property
    def budget(self) -> int:
        """Weight the pacer lets out per window."""
        return self.limit.limit - max(1, math.ceil(self.limit.limit * RESERVE))

    def _window_now(self) -> int:
        return int(self.clock() // self.limit.seconds)

    def _roll(self) -> int:
        window = self._window_now()
        if window != self.window:
            self.window, self.used = window, 0
        return window

    async def acquire(self, weight: int) -> int:
        """Wait until ``weight`` fits in the current window; returns that window."""
        waited = False
        while True:
            window = self._roll()
            spent = self.used + self.in_flight
            if spent + weight <= self.budget or spent == 0:
                self.in_flight += weight
                return window
            if not waited:
                waited, self.waits = True, self.waits + 1
            seconds = self.limit.seconds
            await asyncio.sleep((window + 1 + GUARD) * seconds - self.clock())

    def cancel(self, weight: int) -> None:
        """A request acquired but never sent."""
        self.in_flight -= weight

    def done(self, weight: int, window: int, reported: int | None) -> None:
        """A request sent in ``window`` was answered (``reported``: the used-weight header)."""
        self.in_flight -= weight
        if window == self._roll() and reported is not None:
            self.used = max(self.used, reported)
        else:  # no header, or sent in the last window: it may count in this one
            self.used += weight
