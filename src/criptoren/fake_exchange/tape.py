"""Everything the fake exchange has emitted for one symbol: REST queries and 24 h stats."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from criptoren.fake_exchange.records import AggRecord

INTERVAL_MS = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
    "1M": 2_592_000_000,  # a fixed 30 days: good enough for a fake
}


@dataclass(slots=True)
class Stats:
    """Running 24 h statistics (over everything emitted; fake sessions are short)."""

    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    close: Decimal | None = None
    volume: Decimal = Decimal(0)
    quote_volume: Decimal = Decimal(0)


class Tape:
    """Emitted aggregate trades of one symbol, in id order."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.records: list[AggRecord] = []
        self.ids: list[int] = []
        self.times: list[int] = []
        self.stats = Stats()
        self._stats_upto = 0

    @property
    def last(self) -> AggRecord | None:
        """The latest record."""
        return self.records[-1] if self.records else None

    def append(self, rec: AggRecord) -> None:
        """Add an emitted record (ids must increase)."""
        self.records.append(rec)
        self.ids.append(rec.a)
        self.times.append(rec.T)

    def update_stats(self) -> Stats:
        """Fold records emitted since the last call into the running statistics."""
        s = self.stats
        for rec in self.records[self._stats_upto :]:
            price, qty = Decimal(rec.p), Decimal(rec.q)
            if s.open is None:
                s.open = s.high = s.low = price
            s.high = max(s.high or price, price)
            s.low = min(s.low or price, price)
            s.close = price
            s.volume += qty
            s.quote_volume += price * qty
        self._stats_upto = len(self.records)
        return s

    def agg_trades(
        self,
        from_id: int | None,
        start: int | None,
        end: int | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """``/api/v3/aggTrades`` semantics: by id, by time window, or the most recent."""
        if from_id is not None:
            lo = bisect_left(self.ids, from_id)
            hi = len(self.records) if end is None else bisect_right(self.times, end)
        elif start is not None or end is not None:
            lo = 0 if start is None else bisect_left(self.times, start)
            hi = len(self.records) if end is None else bisect_right(self.times, end)
        else:
            lo, hi = max(0, len(self.records) - limit), len(self.records)
        return [rec.rest() for rec in self.records[lo : min(hi, lo + limit)]]

    def klines(
        self, interval: str, start: int | None, end: int | None, limit: int
    ) -> list[list[Any]]:
        """``/api/v3/klines`` rows computed from the emitted trades."""
        width = INTERVAL_MS[interval]
        lo = 0 if start is None else bisect_left(self.times, start)
        hi = len(self.records) if end is None else bisect_right(self.times, end)
        rows: list[list[Any]] = []
        bucket: list[AggRecord] = []
        for rec in self.records[lo:hi]:
            if bucket and rec.T // width != bucket[0].T // width:
                rows.append(_kline(bucket, width))
                bucket = []
            bucket.append(rec)
        if bucket:
            rows.append(_kline(bucket, width))
        return rows[-limit:] if start is None else rows[:limit]


def _kline(bucket: list[AggRecord], width: int) -> list[Any]:
    prices = [Decimal(r.p) for r in bucket]
    qtys = [Decimal(r.q) for r in bucket]
    quote = sum((p * q for p, q in zip(prices, qtys, strict=True)), Decimal(0))
    taker_buy = [(p, q) for r, p, q in zip(bucket, prices, qtys, strict=True) if not r.m]
    open_time = bucket[0].T // width * width
    return [
        open_time,
        bucket[0].p,
        str(max(prices)),
        str(min(prices)),
        bucket[-1].p,
        str(sum(qtys, Decimal(0))),
        open_time + width - 1,
        str(quote),
        sum(r.l - r.f + 1 for r in bucket),
        str(sum((q for _, q in taker_buy), Decimal(0))),
        str(sum((p * q for p, q in taker_buy), Decimal(0))),
        "0",
    ]
