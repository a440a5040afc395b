"""In-memory per-symbol index of active price alerts: which ones a trade fires.

Pure (no I/O). Prices and percents are integer units (× 1e8, see :func:`money.to_units`).

- ``gte``/``lte`` alerts live in a :class:`TriggerIndex` (the orders' sorted books).
- A ``cross`` alert that has seen a trade after its creation lives there too, on the side
  of its level relative to the last price: a level above it waits as ``gte`` (it fires when
  a trade reaches it from below), a level below as ``lte``; a level exactly at the last
  price waits in a per-symbol dict and changes side when the price leaves it. A new one
  waits (``pending``) for its first trade, which only tells the side.
- ``move_pct`` alerts are grouped per symbol and window: the group's reference is the
  oldest trade inside the trailing window, and its alerts are sorted by percent, so the
  ones a trade fires are a prefix. An alert younger than its window (its reference is its
  own first trade after creation) waits in the group's ``young`` dict until the window
  holds only trades after its creation. A group's band is narrow enough that no two
  prices in it or in its window's range are a move of its least percent apart: trades
  inside it fire nothing whichever of them the window's reference becomes, so the band
  holds, without any due time, until a trade leaves it or the least percent changes.
- A repeating alert that fired cools down in a per-symbol heap until its ready time.

Per symbol a quiet band ``(lo, hi)`` and a due time summarise all of this: a trade strictly
inside the band, before the due time, fires nothing and only appends itself to the symbol's
history; that costs one dict lookup, two appends and three comparisons, whatever the number
of alerts. Any other trade takes the slow path, O(log n + k) for k fired alerts.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from heapq import heappop, heappush
from typing import Any, NamedTuple

from criptoren.domain.alerts import PERCENT_SCALE, AlertCondition
from criptoren.domain.orders import Condition
from criptoren.domain.trigger_index import TriggerIndex

__all__ = ["AlertIndex", "IndexedAlert"]

NEVER = 1 << 62
HOUSEKEEPING_MS = 300_000
"""A symbol's history is trimmed at least this often (in trade time)."""
KEEP_HISTORY = 4096
_LEVELS, _AT, _PENDING, _YOUNG, _GROUP, _COOLING = range(6)


class IndexedAlert(NamedTuple):
    """One active alert as the index holds it."""

    alert_id: int
    symbol: str
    condition: AlertCondition
    level_units: int
    """The price (``gte``, ``lte``, ``cross``) or the percent (``move_pct``), in units."""
    created_ms: int
    window_ms: int = 0
    cooldown_ms: int | None = None
    """``None``: fires once; else the least trade time between two firings."""
    ready_ms: int = 0
    """No firing before this trade time (a repeating alert rebuilt while cooling down)."""


class _Group:
    """``move_pct`` alerts of one symbol and one window."""

    __slots__ = (
        "band",
        "cooling",
        "folded",
        "high",
        "ids",
        "keys",
        "low",
        "narrow_at",
        "start",
        "window_ms",
        "young",
    )

    def __init__(self, window_ms: int, start: int) -> None:
        self.window_ms = window_ms
        # a superset of the prices in the window, up to ``folded``: widened by the trades
        # folded in when the band is set again, made exact (at most every 1/8 window) when
        # a trade leaves the band
        self.low, self.high, self.narrow_at = 0, 0, 0
        self.folded = 0  # history up to here is in low..high
        self.band = (0, 0, 0)  # (lo, hi, least percent) last computed; percent 0: none
        self.cooling = 0  # alerts of the window cooling down: the group (its history) stays
        self.start = start  # history index of the oldest trade in the window
        self.keys: list[int] = []  # percent units, sorted (with ids) by (percent, id)
        self.ids: list[int] = []
        self.young: dict[int, int] = {}  # alert id -> its reference price units (0: none yet)

    def insert(self, percent: int, alert_id: int) -> None:
        i = self._position(percent, alert_id)
        self.keys.insert(i, percent)
        self.ids.insert(i, alert_id)

    def delete(self, percent: int, alert_id: int) -> None:
        i = self._position(percent, alert_id)
        if i < len(self.ids) and self.ids[i] == alert_id:
            del self.keys[i], self.ids[i]

    def _position(self, percent: int, alert_id: int) -> int:
        lo = bisect_left(self.keys, percent)
        hi = bisect_right(self.keys, percent, lo)
        return bisect_left(self.ids, alert_id, lo, hi)


class _Symbol:
    """Everything the index holds for one symbol."""

    __slots__ = (
        "at", "cooling", "groups", "name", "pending", "prices", "quiet", "times"
    )  # fmt: skip

    def __init__(self, name: str) -> None:
        self.name = name
        self.times: list[int] = []  # trades seen: time (ms) and price units
        self.prices: list[int] = []
        # [lo, hi, due, times, prices]: what the hot path reads, in one list (no band yet:
        # the next trade takes the slow path)
        self.quiet: list[Any] = [0, 0, 0, self.times, self.prices]
        self.at: dict[int, list[int]] = {}  # cross alerts exactly at the last price
        self.pending: list[int] = []  # cross alerts waiting for their first trade
        self.groups: dict[int, _Group] = {}  # move_pct alerts by window (ms)
        self.cooling: list[tuple[int, int]] = []  # heap of (ready ms, alert id)


class AlertIndex:
    """Active alerts of all symbols, answering "which fire on this trade"."""

    __slots__ = ("_alerts", "_levels", "_quiet", "_symbols", "_where")

    def __init__(self) -> None:
        self._levels = TriggerIndex()
        self._symbols: dict[str, _Symbol] = {}
        self._quiet: dict[str, list[Any]] = {}  # symbol -> its _Symbol.quiet
        self._alerts: dict[int, IndexedAlert] = {}
        self._where: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._alerts)

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._alerts

    def add(self, alert: IndexedAlert) -> None:
        """Index an active alert (adding the same id again is a no-op)."""
        if alert.alert_id in self._alerts:
            return
        st = self._symbols.get(alert.symbol)
        if st is None:
            st = self._symbols[alert.symbol] = _Symbol(alert.symbol)
            self._quiet[alert.symbol] = st.quiet
        self._alerts[alert.alert_id] = alert
        if alert.ready_ms:
            heappush(st.cooling, (alert.ready_ms, alert.alert_id))
            self._where[alert.alert_id] = _COOLING
        elif alert.condition is AlertCondition.CROSS:
            st.pending.append(alert.alert_id)
            self._where[alert.alert_id] = _PENDING
        else:
            self._place(st, alert, None)
        self._refresh(st)

    def remove(self, alert_id: int) -> bool:
        """Forget an alert (deleted); False if it was not indexed."""
        alert = self._alerts.pop(alert_id, None)
        if alert is None:
            return False
        where = self._where.pop(alert_id)
        st = self._symbols[alert.symbol]
        if where == _LEVELS:
            self._levels.remove(alert_id)
        elif where == _AT:
            st.at[alert.level_units].remove(alert_id)
            if not st.at[alert.level_units]:
                del st.at[alert.level_units]
        elif where == _PENDING:
            st.pending.remove(alert_id)
        elif where == _YOUNG:
            del st.groups[alert.window_ms].young[alert_id]
        elif where == _GROUP:
            st.groups[alert.window_ms].delete(alert.level_units, alert_id)
        elif alert.window_ms in st.groups:  # cooling: dropped from its heap lazily
            st.groups[alert.window_ms].cooling -= 1
        self._refresh(st)
        return True

    def follows(self, symbol: str) -> bool:
        """Whether trades of ``symbol`` matter here (it had an alert since start-up)."""
        return symbol in self._symbols

    def on_trade(self, symbol: str, price_units: int, trade_time_ms: int) -> list[int]:
        """The ids of the alerts this trade fires, ascending (one-shot ones are forgotten)."""
        try:
            lo, hi, due, times, prices = self._quiet[symbol]
        except KeyError:
            return []
        times.append(trade_time_ms)
        prices.append(price_units)
        if lo < price_units < hi and trade_time_ms < due:
            return []
        return self._slow(self._symbols[symbol], price_units, trade_time_ms)

    def symbols(self) -> list[str]:
        """Symbols with at least one active alert, sorted."""
        return sorted({alert.symbol for alert in self._alerts.values()})

    # --- the slow path ----------------------------------------------------------------

    def _slow(self, st: _Symbol, units: int, t: int) -> list[int]:
        prev = st.prices[-2] if len(st.prices) > 1 else None
        self._release(st, prev, t)
        fired = self._levels.on_trade(st.name, units, t)
        if prev is not None and prev != units and prev in st.at:
            for alert_id in st.at.pop(prev):
                self._place(st, self._alerts[alert_id], units)
        self._first_trade(st, units, t)
        fired += self._moves(st, units, t)
        for alert_id in fired:
            self._fired(st, alert_id, t)
        self._trim(st)
        self._refresh(st, units)
        fired.sort()
        return fired

    def _release(self, st: _Symbol, prev: int | None, t: int) -> None:
        """Cooled-down alerts go back to waiting, placed relative to the previous trade."""
        heap = st.cooling
        while heap and heap[0][0] <= t:
            _, alert_id = heappop(heap)
            if self._where.get(alert_id) == _COOLING:
                alert = self._alerts[alert_id]
                if alert.window_ms in st.groups:
                    st.groups[alert.window_ms].cooling -= 1
                self._place(st, alert, prev)

    def _place(self, st: _Symbol, alert: IndexedAlert, last: int | None) -> None:
        """Put an alert where it waits; ``last``: the price a cross alert is placed against."""
        alert_id, condition, level = alert.alert_id, alert.condition, alert.level_units
        where = _LEVELS
        if condition is AlertCondition.GTE or condition is AlertCondition.LTE:
            self._levels.add(alert_id, st.name, Condition(condition), level, alert.created_ms)
        elif condition is AlertCondition.CROSS:
            if last is None:
                st.pending.append(alert_id)
                where = _PENDING
            elif level == last:
                st.at.setdefault(level, []).append(alert_id)
                where = _AT
            else:
                side = Condition.GTE if level > last else Condition.LTE
                self._levels.add(alert_id, st.name, side, level, alert.created_ms)
        else:
            group = st.groups.get(alert.window_ms)
            if group is None:
                start = max(len(st.times) - 1, 0)  # the window begins at the last trade seen
                group = st.groups[alert.window_ms] = _Group(alert.window_ms, start)
            group.young[alert_id] = 0
            where = _YOUNG
        self._where[alert_id] = where

    def _first_trade(self, st: _Symbol, units: int, t: int) -> None:
        """Pending cross alerts created before this trade learn their side from it."""
        if not st.pending:
            return
        waiting = st.pending
        st.pending = []
        for alert_id in waiting:
            alert = self._alerts[alert_id]
            if alert.created_ms < t:
                self._place(st, alert, units)
            else:
                st.pending.append(alert_id)

    def _moves(self, st: _Symbol, units: int, t: int) -> list[int]:
        fired: list[int] = []
        times, prices = st.times, st.prices
        for group in st.groups.values():
            start = group.start = bisect_left(times, t - group.window_ms, group.start)
            if group.young:
                fired += self._young(st, group, units, t)
            if group.keys:
                reference = prices[start]
                move = abs(units - reference) * PERCENT_SCALE // reference
                i = bisect_right(group.keys, move)
                if i:
                    fired += group.ids[:i]
                    del group.keys[:i], group.ids[:i]
        return fired

    def _young(self, st: _Symbol, group: _Group, units: int, t: int) -> list[int]:
        """Graduate young alerts whose window holds only later trades; fire the others."""
        fired: list[int] = []
        oldest = st.times[group.start]
        for alert_id, reference in list(group.young.items()):
            alert = self._alerts[alert_id]
            if oldest > alert.created_ms:
                del group.young[alert_id]
                group.insert(alert.level_units, alert_id)
                self._where[alert_id] = _GROUP
                continue
            if not reference:
                j = bisect_right(st.times, alert.created_ms, group.start)
                if j == len(st.times):
                    continue  # no trade after its creation yet
                reference = group.young[alert_id] = st.prices[j]
            if abs(units - reference) * PERCENT_SCALE >= alert.level_units * reference:
                del group.young[alert_id]
                fired.append(alert_id)
        return fired

    def _fired(self, st: _Symbol, alert_id: int, t: int) -> None:
        alert = self._alerts[alert_id]
        if alert.cooldown_ms is None:
            del self._alerts[alert_id], self._where[alert_id]
            return
        heappush(st.cooling, (t + alert.cooldown_ms, alert_id))
        self._where[alert_id] = _COOLING
        if alert.window_ms in st.groups:
            st.groups[alert.window_ms].cooling += 1

    def _trim(self, st: _Symbol) -> None:
        """Drop history no window needs (the last trade is always kept)."""
        keep = min((g.start for g in st.groups.values()), default=len(st.times) - 1)
        if keep >= KEEP_HISTORY:
            del st.times[:keep], st.prices[:keep]
            for group in st.groups.values():
                group.start -= keep
                group.folded = max(group.folded - keep, 0)

    def _refresh(self, st: _Symbol, units: int | None = None) -> None:
        """Recompute the symbol's quiet band and due time (``units``: the price of the trade
        that took the slow path, ``None`` after an alert was added or removed)."""
        lo, hi = self._levels.bounds(st.name)
        last = st.prices[-1] if st.prices else None
        due = st.times[-1] + HOUSEKEEPING_MS if st.times else 0
        if st.cooling:
            due = min(due, st.cooling[0][0])
        if st.pending:
            due = min(due, min(self._alerts[a].created_ms for a in st.pending) + 1)
        if st.at and last is not None:
            lo, hi = max(lo, last - 1), min(hi, last + 1)
        for window, group in list(st.groups.items()):
            if not group.keys and not group.young and not group.cooling:
                del st.groups[window]
                continue
            band_lo, band_hi, quiet = self._group_band(st, group, units)
            lo, hi = max(lo, band_lo), min(hi, band_hi)
            if not quiet:
                due = 0  # the next trade sets the group up
        st.quiet[0:3] = lo, hi, due

    def _group_band(self, st: _Symbol, group: _Group, units: int | None) -> tuple[int, int, bool]:
        """The group's band, kept while every trade since it was set stayed inside it and its
        least percent is the same; ``False``: no band yet (the next trade takes the slow path)."""
        percents = group.keys[:1]
        for alert_id, reference in group.young.items():
            percents.append(self._alerts[alert_id].level_units if reference else 0)
        if group.start >= len(st.times) or 0 in percents:
            group.band = (0, 0, 0)  # no trade in the window, or a young alert without reference
            return 0, NEVER, False
        if not percents:  # only alerts cooling down: their release is due on its own
            group.band = (0, 0, 0)  # trades may leave the band meanwhile
            return 0, NEVER, True
        percent = min(percents)
        lo, hi, band_percent = group.band
        left = units is not None and not lo < units < hi
        if left or percent != band_percent:
            _widen(st, group, left)
            lo, hi = _move_band(group.low, group.high, percent)
            group.band = lo, hi, percent
        return lo, hi, True


def _widen(st: _Symbol, group: _Group, exact: bool) -> None:
    """Keep ``group.low..high`` around every price in its window (``exact``: recompute them,
    at most every 1/8 window, else only widen them by the trades folded in since)."""
    now, prices = st.times[-1], st.prices
    if not group.low or (exact and now >= group.narrow_at):
        window = prices[group.start :]
        group.low, group.high = min(window), max(window)
        group.narrow_at = now + group.window_ms // 8
    elif group.folded < len(prices):
        new = prices[max(group.folded, group.start) :]
        group.low, group.high = min(group.low, min(new)), max(group.high, max(new))
    group.folded = len(prices)


def _move_band(low: int, high: int, percent: int) -> tuple[int, int]:
    """The widest band ``(lo, hi)`` around ``low..high`` in which no two prices of the band or
    of ``low..high`` are a move of ``percent`` apart (empty when ``low..high`` already is).

    With ``lo = low − m − 1`` and ``hi = high + m + 1`` the farthest pair is ``low − m`` and
    ``high + m``; it is no move while ``(high − low + 2m)·SCALE < percent·(low − m)``, that is
    ``m·(2·SCALE + percent) < percent·low − (high − low)·SCALE``.
    """
    slack = percent * low - (high - low) * PERCENT_SCALE
    if slack <= 0:
        return low, low
    m = (slack - 1) // (2 * PERCENT_SCALE + percent)
    return low - m - 1, high + m + 1
