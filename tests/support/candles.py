"""Scripted candles on the fake exchange: trades inside future minutes, so orders placed now
count them (only trades after an order's creation do)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from decimal import Decimal

from criptoren.domain.channels import Candle
from criptoren.fake_exchange import FakeExchange

MINUTE = 60_000


def future_minute(ahead: int = 5) -> int:
    """The open time of a whole minute ``ahead`` minutes from now."""
    return (int(time.time() * 1000) // MINUTE + ahead) * MINUTE


def path(candle: Candle) -> list[Decimal]:
    """Trades open → low → high → close, through every whole price on the way, so a level
    on that grid is traded exactly at itself (what the backtest's fill model assumes)."""
    points = [candle.open, candle.low, candle.high, candle.close]
    prices = [points[0]]
    for target in points[1:]:
        step = Decimal(1) if target > prices[-1] else Decimal(-1)
        while prices[-1] != target:
            nxt = prices[-1] + step
            prices.append(nxt if (target - nxt) * step >= 0 else target)
    return prices


def emit_candle(exchange: FakeExchange, symbol: str, candle: Candle) -> None:
    """Emit ``candle``'s trades inside its minute (one millisecond apart)."""
    prices = path(candle)
    times = [candle.open_time_ms + 1 + i for i in range(len(prices))]
    exchange.emit_prices(symbol, list(prices), times)


def candles(start_ms: int, rows: Sequence[tuple[int, int, int, int]]) -> list[Candle]:
    """Minute candles from ``(open, high, low, close)`` rows."""
    return [
        Candle(start_ms + i * MINUTE, *(Decimal(v) for v in row), Decimal(0))
        for i, row in enumerate(rows)
    ]
