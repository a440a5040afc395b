"""In-memory per-symbol index of waiting positioned orders: which ones a trade fires.

Pure (no I/O). Prices are integer units (price × 1e8, see :func:`money.to_units`).
For each symbol there are two books, one per :class:`Condition`, each made of parallel
``array('q')`` columns (sort key, creation time, order id) sorted by (key, order id).
The key is the target for ``LTE`` and minus the target for ``GTE``, so in both books the
orders a trade fires form a suffix of the columns, found with one ``bisect`` and cut with
``del``: a trade costs O(log n + k) for k fired orders. A per-symbol pair of bounds (the
highest ``LTE`` target, the lowest ``GTE`` target) lets a trade that fires nothing return
after one dict lookup and two comparisons, whatever the number of waiting orders.

Fired ids are returned in ascending order id (placement order when ids come from a
sequence). Only orders created strictly before the trade's exchange time fire; a younger
order in range stays waiting (such orders are rare and recent, so they are filtered only
when a trade reaches the fired range).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from typing import NamedTuple

from criptoren.domain.orders import Condition

__all__ = ["Condition", "TriggerIndex", "WaitingOrder"]


class WaitingOrder(NamedTuple):
    """One order held by the index, as returned by :meth:`TriggerIndex.waiting`."""

    order_id: int
    symbol: str
    condition: Condition
    target_units: int
    created_ms: int


OrderRow = tuple[int, str, Condition | str, int, int]
"""``(order_id, symbol, condition, target_units, created_ms)`` as taken by ``add_many``."""

_CONDITIONS = (Condition.LTE, Condition.GTE)
# The id -> location dict stores one int per order: target << 21 | symbol code << 1 | side.
# One int (not a tuple) keeps the dict at ~100 bytes per order.
_LOCATION_BITS = 21
_MAX_SYMBOLS = 1 << (_LOCATION_BITS - 1)
_CODE_MASK = _MAX_SYMBOLS - 1
MAX_TARGET_UNITS = (1 << 62) - 1
"""Largest target accepted (``DECIMAL(18,8)`` needs < 10**18 units)."""
_NO_LTE = -(1 << 63)  # bounds of an empty book: no price reaches them
_NO_GTE = 1 << 63


class _Book:
    """One condition of one symbol: parallel int64 columns sorted by (key, order id)."""

    __slots__ = ("created", "ids", "keys")

    def __init__(self) -> None:
        self.keys = array("q")
        self.created = array("q")
        self.ids = array("q")

    def __len__(self) -> int:
        return len(self.keys)

    def _position(self, key: int, order_id: int) -> int:
        """Index where (key, order_id) is, or would be inserted."""
        lo = bisect_left(self.keys, key)
        hi = bisect_right(self.keys, key, lo)
        return bisect_left(self.ids, order_id, lo, hi)

    def find(self, key: int, order_id: int) -> int | None:
        """Index of the entry (key, order_id), or None."""
        i = self._position(key, order_id)
        if i < len(self.ids) and self.ids[i] == order_id and self.keys[i] == key:
            return i
        return None

    def insert(self, key: int, created_ms: int, order_id: int) -> None:
        """Insert one entry at its sorted place (O(log n) + memmove)."""
        i = self._position(key, order_id)
        self.keys.insert(i, key)
        self.created.insert(i, created_ms)
        self.ids.insert(i, order_id)

    def delete(self, key: int, order_id: int) -> bool:
        """Delete the entry (key, order_id); False if absent."""
        i = self.find(key, order_id)
        if i is None:
            return False
        del self.keys[i], self.created[i], self.ids[i]
        return True

    def merge(self, entries: list[tuple[int, int, int]]) -> None:
        """Add many (key, created_ms, order_id) entries with one sort instead of n inserts."""
        rows = list(zip(self.keys, self.created, self.ids, strict=True))
        rows.extend(entries)
        rows.sort(key=lambda row: (row[0], row[2]))
        self.keys = array("q", [row[0] for row in rows])
        self.created = array("q", [row[1] for row in rows])
        self.ids = array("q", [row[2] for row in rows])

    def pop_fired(self, threshold: int, trade_time_ms: int) -> list[int]:
        """Remove and return ids with key ≥ threshold created before the trade."""
        i = bisect_left(self.keys, threshold)
        if i == len(self.keys):
            return []
        if max(self.created[i:]) < trade_time_ms:
            fired = self.ids[i:].tolist()
            del self.keys[i:], self.created[i:], self.ids[i:]
            return fired
        return self._pop_older_than(i, trade_time_ms)

    def _pop_older_than(self, start: int, trade_time_ms: int) -> list[int]:
        """Slow path: the suffix from ``start`` holds orders too young to fire; keep them."""
        fired: list[int] = []
        kept: list[int] = []
        for j in range(start, len(self.keys)):
            (fired if self.created[j] < trade_time_ms else kept).append(j)
        kept_columns = [array("q", [column[j] for j in kept]) for column in self._columns()]
        fired_ids = [self.ids[j] for j in fired]
        for column, tail in zip(self._columns(), kept_columns, strict=True):
            del column[start:]
            column.extend(tail)
        return fired_ids

    def _columns(self) -> tuple[array[int], array[int], array[int]]:
        return self.keys, self.created, self.ids


class TriggerIndex:
    """Waiting positioned orders of all symbols, answering "which fire on this trade"."""

    __slots__ = ("_books", "_bounds", "_codes", "_names", "_where")

    def __init__(self) -> None:
        # symbol -> [highest LTE target, lowest GTE target]: the only hot-path lookup
        self._bounds: dict[str, list[int]] = {}
        self._books: list[tuple[_Book, _Book]] = []  # by symbol code
        self._codes: dict[str, int] = {}
        self._names: list[str] = []
        self._where: dict[int, int] = {}  # order id -> packed (target, symbol code, side)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._where

    def add(
        self,
        order_id: int,
        symbol: str,
        condition: Condition | str,
        target_units: int,
        created_ms: int,
    ) -> None:
        """Index a waiting order; adding the same order again is a no-op.

        Raises ``ValueError`` if the id is already indexed with other values.
        """
        _check_int64(order_id=order_id, created_ms=created_ms)
        packed = self._pack(symbol, condition, target_units)
        previous = self._where.get(order_id)
        if previous is not None:
            self._check_same(order_id, previous, packed, created_ms)
            return
        code, side, target = _unpack(packed)
        self._books[code][side].insert(_key(side, target), created_ms, order_id)
        self._where[order_id] = packed
        self._refresh_bounds(code)

    def add_many(self, rows: Iterable[OrderRow]) -> None:
        """Index many waiting orders at once (start-up rebuild); same rules as :meth:`add`."""
        pending: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
        for order_id, symbol, condition, target_units, created_ms in rows:
            _check_int64(order_id=order_id, created_ms=created_ms)
            packed = self._pack(symbol, condition, target_units)
            previous = self._where.get(order_id)
            if previous is not None:
                self._check_same(order_id, previous, packed, created_ms)
                continue
            code, side, target = _unpack(packed)
            pending.setdefault((code, side), []).append((_key(side, target), created_ms, order_id))
            self._where[order_id] = packed
        for (code, side), entries in pending.items():
            self._books[code][side].merge(entries)
            self._refresh_bounds(code)

    def remove(self, order_id: int) -> bool:
        """Drop an order (cancelled, expired); False if it was not waiting here."""
        packed = self._where.pop(order_id, None)
        if packed is None:
            return False
        code, side, target = _unpack(packed)
        self._books[code][side].delete(_key(side, target), order_id)
        self._refresh_bounds(code)
        return True

    def bounds(self, symbol: str) -> tuple[int, int]:
        """(highest ``lte`` target, lowest ``gte`` target): a price strictly between fires none."""
        highest_lte, lowest_gte = self._bounds.get(symbol, (_NO_LTE, _NO_GTE))
        return highest_lte, lowest_gte

    def on_trade(self, symbol: str, price_units: int, trade_time_ms: int) -> list[int]:
        """Remove and return, by ascending id, the orders this trade fires."""
        try:
            highest_lte, lowest_gte = self._bounds[symbol]
        except KeyError:
            return []
        if highest_lte < price_units < lowest_gte:
            return []
        return self._fire(symbol, price_units, trade_time_ms)

    def _fire(self, symbol: str, price_units: int, trade_time_ms: int) -> list[int]:
        code = self._codes[symbol]
        lte, gte = self._books[code]
        highest_lte, lowest_gte = self._bounds[symbol]
        fired: list[int] = []
        if price_units <= highest_lte:
            fired += lte.pop_fired(price_units, trade_time_ms)
        if price_units >= lowest_gte:
            fired += gte.pop_fired(-price_units, trade_time_ms)
        where = self._where
        for order_id in fired:
            del where[order_id]
        self._refresh_bounds(code)
        fired.sort()
        return fired

    def symbols(self) -> list[str]:
        """Symbols with at least one waiting order, sorted."""
        return sorted(
            name
            for name, (lte, gte) in zip(self._names, self._books, strict=True)
            if len(lte) or len(gte)
        )

    def waiting(self, symbol: str) -> list[WaitingOrder]:
        """Waiting orders of ``symbol`` by ascending id (inspection and tests; O(n))."""
        code = self._codes.get(symbol)
        if code is None:
            return []
        result = [
            WaitingOrder(order_id, symbol, _CONDITIONS[side], _target(side, key), created)
            for side, book in enumerate(self._books[code])
            for key, created, order_id in zip(book.keys, book.created, book.ids, strict=True)
        ]
        result.sort()
        return result

    def _pack(self, symbol: str, condition: Condition | str, target_units: int) -> int:
        """Validate and pack an order's location into one int (registers new symbols)."""
        side = _CONDITIONS.index(Condition(condition))
        if not 0 < target_units <= MAX_TARGET_UNITS:
            raise ValueError(f"target_units out of range: {target_units}")
        code = self._codes.get(symbol)
        if code is None:
            code = self._register(symbol)
        return target_units << _LOCATION_BITS | code << 1 | side

    def _register(self, symbol: str) -> int:
        if len(self._names) >= _MAX_SYMBOLS:
            raise ValueError("too many symbols")
        code = len(self._names)
        self._codes[symbol] = code
        self._names.append(symbol)
        self._books.append((_Book(), _Book()))
        self._bounds[symbol] = [_NO_LTE, _NO_GTE]
        return code

    def _check_same(self, order_id: int, previous: int, packed: int, created_ms: int) -> None:
        """Accept a repeated add only if it describes the same order."""
        code, side, target = _unpack(previous)
        book = self._books[code][side]
        i = book.find(_key(side, target), order_id)
        if previous != packed or (i is not None and book.created[i] != created_ms):
            raise ValueError(f"order {order_id} is already indexed with other values")

    def _refresh_bounds(self, code: int) -> None:
        lte, gte = self._books[code]
        bounds = self._bounds[self._names[code]]
        bounds[0] = lte.keys[-1] if lte.keys else _NO_LTE
        bounds[1] = -gte.keys[-1] if gte.keys else _NO_GTE


def _check_int64(**values: int) -> None:
    """Refuse values the int64 columns cannot hold, before any column is touched."""
    for name, value in values.items():
        if not -(1 << 63) <= value < 1 << 63:
            raise ValueError(f"{name} does not fit in 64 bits: {value}")


def _unpack(packed: int) -> tuple[int, int, int]:
    """Packed location -> (symbol code, side, target units)."""
    return (packed >> 1) & _CODE_MASK, packed & 1, packed >> _LOCATION_BITS


def _key(side: int, target_units: int) -> int:
    """Sort key: fired orders are those with key ≥ the trade's threshold, a suffix."""
    return -target_units if side else target_units


def _target(side: int, key: int) -> int:
    return -key if side else key
