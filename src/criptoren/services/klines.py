"""Candles for the panel's chart: the exchange's klines, cached briefly and fetched once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from criptoren.binance.errors import NO_CODE, BinanceError
from criptoren.db.session import Reader
from criptoren.ports import KlineSource
from criptoren.services.memo import Memo
from criptoren.services.symbols import SymbolService

MAX_LIMIT = 1000
KLINES_TTL_SECONDS = 2.0  # many open panels on one symbol cost one exchange request per TTL

Key = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class Candle:
    """One kline: open time (ms), prices and base volume."""

    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class KlineService:
    """Proxies ``/api/v3/klines`` for known symbols; concurrent callers share one request."""

    def __init__(
        self, source: KlineSource, symbols: SymbolService, ttl: float = KLINES_TTL_SECONDS
    ) -> None:
        self.source = source
        self.symbols = symbols
        self.memo: Memo[Key, list[Candle]] = Memo(ttl, size=1_000)
        self._inflight: dict[Key, asyncio.Task[list[Candle]]] = {}

    async def candles(self, read: Reader, symbol: str, interval: str, limit: int) -> list[Candle]:
        """The latest ``limit`` candles of a known symbol (422 when unknown)."""
        rules = await self.symbols.rules(read, symbol)
        key = (rules.symbol, interval, limit)
        cached = self.memo.get(key)
        if cached is not None:
            return cached
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(key))
            self._inflight[key] = task
            task.add_done_callback(lambda _t: self._inflight.pop(key, None))
        return await asyncio.shield(task)  # one caller going away does not cancel the others

    async def _fetch(self, key: Key) -> list[Candle]:
        generation = self.memo.generation
        candles = [_candle(row) for row in await self.source.klines(key[0], key[1], limit=key[2])]
        self.memo.put(key, candles, generation)
        return candles


def _candle(row: Any) -> Candle:
    """A ``/api/v3/klines`` row (``[open_time, open, high, low, close, volume, ...]``)."""
    try:
        return Candle(
            int(row[0]),
            Decimal(row[1]),
            Decimal(row[2]),
            Decimal(row[3]),
            Decimal(row[4]),
            Decimal(row[5]),
        )
    except (TypeError, ValueError, IndexError, InvalidOperation):
        raise BinanceError(NO_CODE, f"unreadable kline: {row!r:.200}", 200) from None
