"""Binance's wire payloads (its own key names) become domain types here, and only here."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from criptoren.domain.channels import Candle


class AggTrade(NamedTuple):
    """One aggregate trade, in domain types; what every price-book listener receives.

    A named tuple rather than a frozen dataclass: it is built once per streamed message, and
    a tuple is built in about half the time (immutable all the same).
    """

    symbol: str
    agg_id: int
    price: Decimal
    quantity: Decimal
    trade_time_ms: int
    buyer_is_maker: bool
    gap_fill: bool


@dataclass(frozen=True, slots=True)
class MiniTicker:
    """Rolling 24 h statistics of one symbol."""

    symbol: str
    event_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    base_volume: Decimal
    quote_volume: Decimal


_new_trade = tuple.__new__


def agg_trade_from_stream(data: dict[str, Any]) -> AggTrade:
    """Convert a stream ``aggTrade`` payload (hot path: called once per message)."""
    return _new_trade(
        AggTrade,
        (data["s"], data["a"], Decimal(data["p"]), Decimal(data["q"]), data["T"], data["m"], False),
    )


def agg_trade_from_rest(symbol: str, item: dict[str, Any]) -> AggTrade:
    """Convert one ``/api/v3/aggTrades`` item; ``gap_fill`` is set."""
    return AggTrade(
        symbol,
        int(item["a"]),
        Decimal(item["p"]),
        Decimal(item["q"]),
        int(item["T"]),
        bool(item["m"]),
        True,
    )


def mini_ticker_from_stream(data: dict[str, Any]) -> MiniTicker:
    """Convert a ``24hrMiniTicker`` payload."""
    return MiniTicker(
        symbol=data["s"],
        event_time_ms=int(data["E"]),
        open=Decimal(data["o"]),
        high=Decimal(data["h"]),
        low=Decimal(data["l"]),
        close=Decimal(data["c"]),
        base_volume=Decimal(data["v"]),
        quote_volume=Decimal(data["q"]),
    )


class Kline(NamedTuple):
    """One kline (candle) of a symbol and interval; ``closed`` once its interval ended."""

    symbol: str
    interval: str
    candle: Candle
    close_time_ms: int
    closed: bool


def kline_from_stream(data: dict[str, Any]) -> Kline:
    """Convert a ``<symbol>@kline_<interval>`` payload."""
    k = data["k"]
    candle = Candle(
        int(k["t"]),
        Decimal(k["o"]),
        Decimal(k["h"]),
        Decimal(k["l"]),
        Decimal(k["c"]),
        Decimal(k["v"]),
    )
    return Kline(data["s"], k["i"], candle, int(k["T"]), bool(k["x"]))


def kline_from_rest(symbol: str, interval: str, row: list[Any], server_ms: int) -> Kline:
    """Convert one ``/api/v3/klines`` row; closed when its close time is before ``server_ms``."""
    candle = Candle(
        int(row[0]),
        Decimal(row[1]),
        Decimal(row[2]),
        Decimal(row[3]),
        Decimal(row[4]),
        Decimal(row[5]),
    )
    return Kline(symbol, interval, candle, int(row[6]), int(row[6]) < server_ms)


def kline_stream(symbol: str, interval: str) -> str:
    """``btcusdt@kline_5m``."""
    return f"{symbol.lower()}@kline_{interval}"


def stream_names(symbol: str, *, ticker: bool) -> tuple[str, ...]:
    """Combined-stream names the feed subscribes for one symbol."""
    low = symbol.lower()
    if ticker:
        return (f"{low}@aggTrade", f"{low}@miniTicker")
    return (f"{low}@aggTrade",)


def symbol_of_stream(stream: str) -> str:
    """``btcusdt@aggTrade`` -> ``BTCUSDT``."""
    return stream.split("@", 1)[0].upper()
