"""Candle sources: the project's CSV (header ``open_time_ms,open,high,low,close,volume``)
and Binance's kline dumps (12 columns, no header), either optionally gzip-compressed."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

from criptoren.domain.channels import Candle
from criptoren.errors import InvalidInput

HEADER = ["open_time_ms", "open", "high", "low", "close", "volume"]
BINANCE_COLUMNS = 12
MICROSECONDS_AFTER = 10**14  # Binance spot dumps from 2025 on count microseconds


def _open_text(path: Path) -> TextIO:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def _rows(path: Path) -> Iterator[list[str]]:
    with _open_text(path) as stream:
        reader = csv.reader(stream)
        first = next(reader, None)
        if first is None:
            return
        if [cell.strip() for cell in first] != HEADER:
            if len(first) != BINANCE_COLUMNS:
                raise InvalidInput(
                    f"{path}: expected the header {','.join(HEADER)} or Binance's "
                    f"{BINANCE_COLUMNS}-column kline rows"
                )
            yield first
        yield from reader


def _candle(row: list[str]) -> Candle:
    open_time = int(row[0])
    if open_time >= MICROSECONDS_AFTER:
        open_time //= 1000
    o, h, low, c, v = (Decimal(cell) for cell in row[1:6])
    return Candle(open_time, o, h, low, c, v)


def load_candles(
    path: Path, start_ms: int | None = None, end_ms: int | None = None
) -> list[Candle]:
    """Candles with ``start_ms <= open_time_ms < end_ms``, in time order (checked)."""
    candles: list[Candle] = []
    for line, row in enumerate(_rows(path), start=1):
        try:
            candle = _candle(row)
        except (ValueError, InvalidOperation, IndexError) as exc:
            raise InvalidInput(f"{path}: row {line} is not a candle: {row!r}") from exc
        if start_ms is not None and candle.open_time_ms < start_ms:
            continue
        if end_ms is not None and candle.open_time_ms >= end_ms:
            break
        if candles and candle.open_time_ms <= candles[-1].open_time_ms:
            raise InvalidInput(f"{path}: row {line} is not after the previous candle")
        candles.append(candle)
    return candles


def parse_bound(text: str, *, end: bool) -> int:
    """``--from``/``--to`` as epoch ms (UTC); a bare date as ``--to`` includes that day."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            if end:
                moment += timedelta(days=1)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidInput(f"not a date or ISO date-time: {text!r}") from exc
    return int(moment.timestamp() * 1000)
