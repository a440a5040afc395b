"""Binance's wire payloads (its own key names) become domain types here, and only here."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple


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


def stream_names(symbol: str, *, ticker: bool) -> tuple[str, ...]:
    """Combined-stream names the feed subscribes for one symbol."""
    low = symbol.lower()
    if ticker:
        return (f"{low}@aggTrade", f"{low}@miniTicker")
    return (f"{low}@aggTrade",)


def symbol_of_stream(stream: str) -> str:
    """``btcusdt@aggTrade`` -> ``BTCUSDT``."""
    return stream.split("@", 1)[0].upper()
