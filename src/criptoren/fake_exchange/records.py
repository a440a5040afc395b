"""Recorded sessions: file formats, and turning ``@trade`` messages into ``@aggTrade``."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson


@dataclass(slots=True)
class AggRecord:
    """One aggregate trade as the fake exchange keeps it (Binance names, string money)."""

    symbol: str
    p: str
    q: str
    f: int
    l: int  # noqa: E741 - Binance's name
    T: int
    m: bool
    a: int = 0
    E: int = 0
    trades: tuple[tuple[int, str], ...] = ()

    def rest(self) -> dict[str, Any]:
        """The ``/api/v3/aggTrades`` item."""
        return {
            "a": self.a,
            "p": self.p,
            "q": self.q,
            "f": self.f,
            "l": self.l,
            "T": self.T,
            "m": self.m,
            "M": True,
        }

    def stream(self) -> dict[str, Any]:
        """The ``@aggTrade`` payload."""
        return {"e": "aggTrade", "E": self.E, "s": self.symbol, **self.rest()}


@dataclass(slots=True)
class Timed:
    """A record with the time (seconds) it was received in the capture."""

    at: float
    record: AggRecord


def _lines(path: Path) -> Iterator[bytes]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        for line in fh:
            if line.strip():
                yield line


def parse_line(line: bytes) -> tuple[float, dict[str, Any]] | None:
    """``(recv seconds, combined message)`` from any supported line format, or None."""
    if line[:1] != b"{":
        stamp, _, body = line.partition(b" ")
        msg = orjson.loads(body)
        return int(stamp) / 1e9, msg
    doc = orjson.loads(line)
    if "msg" not in doc:
        return None
    if "recv_ns" in doc:
        return int(doc["recv_ns"]) / 1e9, doc["msg"]
    return float(doc.get("recv_ts", 0.0)), doc["msg"]


def read_session(path: Path) -> list[Timed]:
    """Every trade of a recording as aggregate trades, in order.

    ``@trade`` messages are aggregated (consecutive per symbol, same price, taker side and
    time) and get sequential ids later; recorded ``@aggTrade`` messages keep their ids.
    """
    out: list[Timed] = []
    open_groups: dict[str, Timed] = {}
    for line in _lines(path):
        parsed = parse_line(line)
        if parsed is None:
            continue
        at, msg = parsed
        data = msg.get("data", msg) if isinstance(msg, dict) else None
        if not isinstance(data, dict):
            continue
        kind = data.get("e")
        if kind == "aggTrade":
            out.append(Timed(at, _from_agg(data)))
        elif kind == "trade":
            _add_trade(at, data, open_groups, out)
    return out


def _from_agg(d: dict[str, Any]) -> AggRecord:
    return AggRecord(d["s"], d["p"], d["q"], d["f"], d["l"], d["T"], d["m"], a=d["a"], E=d["E"])


def _add_trade(at: float, d: dict[str, Any], groups: dict[str, Timed], out: list[Timed]) -> None:
    last = groups.get(d["s"])
    if last is not None:
        rec = last.record
        if rec.p == d["p"] and rec.m == d["m"] and d["T"] == rec.T and d["t"] == rec.l + 1:
            rec.q = str(Decimal(rec.q) + Decimal(d["q"]))
            rec.l = d["t"]
            rec.trades += ((d["t"], d["q"]),)
            return
    rec = AggRecord(d["s"], d["p"], d["q"], d["t"], d["t"], d["T"], d["m"], E=d["E"])
    rec.trades = ((d["t"], d["q"]),)
    timed = Timed(at, rec)
    groups[d["s"]] = timed
    out.append(timed)


def aggregate_trades(trades: Iterable[dict[str, Any]]) -> list[AggRecord]:
    """Aggregate raw ``trade`` payloads (for unit tests and tools)."""
    out: list[Timed] = []
    groups: dict[str, Timed] = {}
    for d in trades:
        _add_trade(0.0, d, groups, out)
    return [t.record for t in out]
