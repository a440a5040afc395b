"""Per-symbol last price, 24 h statistics and staleness, and the one listener interface."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from criptoren.market.schemas import AggTrade, MiniTicker

log = logging.getLogger(__name__)

TradeListener = Callable[[AggTrade], None]
"""A plain synchronous callback; it runs on the socket reader's path and must be fast."""
ResetListener = Callable[[str], None]
"""Told the symbol whose trade ids restarted below the last one seen (a new venue)."""
DEFAULT_MAX_REORDER = 10_000


@dataclass(slots=True)
class SymbolState:
    """Mutable state of one symbol in the book."""

    symbol: str
    last_price: Decimal | None = None
    last_agg_id: int | None = None
    last_trade_time_ms: int | None = None
    ticker: MiniTicker | None = None
    stale: bool = False
    trades_seen: int = 0
    tickers_seen: int = 0
    resume_from_ms: int | None = None

    @property
    def activity(self) -> int:
        """A counter that moves whenever any event of the symbol arrives."""
        return self.trades_seen + self.tickers_seen


class PriceBook:
    """Last trade per symbol; hands every trade to the listeners exactly once, in id order."""

    def __init__(self, max_reorder: int = DEFAULT_MAX_REORDER) -> None:
        self._states: dict[str, SymbolState] = {}
        self._listeners: list[TradeListener] = []
        self._reset_listeners: list[ResetListener] = []
        # a repeated id this far behind the last one is no duplicate: the ids restarted
        self.max_reorder = max_reorder

    def add_listener(self, callback: TradeListener) -> None:
        """Register a callback that receives every accepted trade."""
        self._listeners.append(callback)

    def remove_listener(self, callback: TradeListener) -> None:
        """Unregister a callback (no error if it was not registered)."""
        if callback in self._listeners:
            self._listeners.remove(callback)

    def add_reset_listener(self, callback: ResetListener) -> None:
        """Register a callback told when a symbol's trade ids restart (its cursor is void)."""
        self._reset_listeners.append(callback)

    def state(self, symbol: str) -> SymbolState:
        """The (possibly new, empty) state of ``symbol``."""
        st = self._states.get(symbol)
        if st is None:
            st = self._states[symbol] = SymbolState(symbol)
        return st

    def set_last_id(self, symbol: str, agg_id: int) -> None:
        """Declare ``agg_id`` already seen (resume point): older ids will be dropped."""
        self.state(symbol).last_agg_id = agg_id

    def set_resume_time(self, symbol: str, start_ms: int) -> None:
        """Nothing seen yet, but every trade from ``start_ms`` on must be delivered first."""
        st = self.state(symbol)
        if st.last_agg_id is None:
            st.resume_from_ms = start_ms

    def offer(self, trade: AggTrade) -> bool:
        """Apply a live trade unless it would skip ids (a gap): then return False, apply nothing."""
        st = self._states.get(trade.symbol)
        if st is None:
            st = self.state(trade.symbol)
        last = st.last_agg_id
        if last is not None:
            if trade.agg_id > last + 1:
                return False
            if trade.agg_id <= last and not self._restarted(st, trade):
                return True
        elif st.resume_from_ms is not None:
            return False  # trades since the resume time come first
        # inlined from _record: this is the per-message hot path
        st.last_agg_id = trade.agg_id
        st.last_price = trade.price
        st.last_trade_time_ms = trade.trade_time_ms
        st.trades_seen += 1
        for callback in self._listeners:
            try:
                callback(trade)
            except Exception:
                log.exception("price listener %r failed", callback)
        return True

    def apply(self, trade: AggTrade) -> bool:
        """Record ``trade`` unless its id was already seen; notify listeners. True if new."""
        st = self._states.get(trade.symbol)
        if st is None:
            st = self.state(trade.symbol)
        return self._record(st, trade, st.last_agg_id)

    def _record(self, st: SymbolState, trade: AggTrade, last: int | None) -> bool:
        if last is not None and trade.agg_id <= last and not self._restarted(st, trade):
            return False
        st.last_agg_id = trade.agg_id
        st.last_price = trade.price
        st.last_trade_time_ms = trade.trade_time_ms
        st.trades_seen += 1
        for callback in self._listeners:
            try:
                callback(trade)
            except Exception:
                # one broken listener must not stop the feed for the others
                log.exception("price listener %r failed", callback)
        return True

    def _restarted(self, st: SymbolState, trade: AggTrade) -> bool:
        """Whether an id at or below the last one means the venue restarted its ids.

        A duplicate (gap-fill overlap, two links during a rotation) repeats a recent trade,
        time included; an id far behind, or a trade later than the last one, cannot be one.
        """
        last, last_ms = st.last_agg_id, st.last_trade_time_ms
        assert last is not None
        later = last_ms is not None and trade.trade_time_ms > last_ms
        if not later and last - trade.agg_id <= self.max_reorder:
            return False
        log.warning(
            "%s: trade id %d after %d (trade time %d after %s): the venue restarted its ids; "
            "dropping the cursor and following the live stream",
            trade.symbol, trade.agg_id, last, trade.trade_time_ms, last_ms,
        )  # fmt: skip
        st.last_agg_id = None
        st.resume_from_ms = None
        for callback in self._reset_listeners:
            callback(trade.symbol)
        return True

    def apply_ticker(self, ticker: MiniTicker) -> None:
        """Store the latest 24 h statistics of a symbol."""
        st = self.state(ticker.symbol)
        st.ticker = ticker
        st.tickers_seen += 1

    def last_price(self, symbol: str) -> Decimal | None:
        """Last trade price seen for ``symbol`` (any case), if any."""
        st = self._states.get(symbol.upper())
        return None if st is None else st.last_price

    def is_stale(self, symbol: str) -> bool:
        """Whether ``symbol`` is marked stale (no event for longer than the window)."""
        st = self._states.get(symbol.upper())
        return st is not None and st.stale

    def trades_total(self) -> int:
        """Trades applied so far over the symbols still held (a metric's running total)."""
        return sum(st.trades_seen for st in self._states.values())

    def stale_symbols(self) -> list[str]:
        """Symbols currently marked stale."""
        return sorted(s for s, st in self._states.items() if st.stale)

    def forget(self, symbol: str) -> None:
        """Drop a symbol's state (after it stops being monitored)."""
        self._states.pop(symbol, None)

    def snapshot(self, symbol: str) -> dict[str, Any] | None:
        """JSON-friendly view of one symbol (prices as strings), or None if unknown."""
        st = self._states.get(symbol)
        if st is None:
            return None
        out: dict[str, Any] = {
            "symbol": symbol,
            "price": _s(st.last_price),
            "agg_id": st.last_agg_id,
            "trade_time_ms": st.last_trade_time_ms,
            "stale": st.stale,
        }
        out.update(_ticker_fields(st.ticker))
        return out


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _ticker_fields(t: MiniTicker | None) -> dict[str, Any]:
    if t is None:
        keys = ("open", "high", "low", "close", "change", "change_percent", "volume")
        return {k: None for k in keys} | {"quote_volume": None}
    change = t.close - t.open
    pct = (change / t.open * 100).quantize(Decimal("0.01")) if t.open else None
    return {
        "open": str(t.open),
        "high": str(t.high),
        "low": str(t.low),
        "close": str(t.close),
        "change": str(change),
        "change_percent": _s(pct),
        "volume": str(t.base_volume),
        "quote_volume": str(t.quote_volume),
    }
