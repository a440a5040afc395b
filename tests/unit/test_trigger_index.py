"""Trigger index: examples, and property tests against a brute-force list scan."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from criptoren.domain.money import to_units
from criptoren.domain.trigger_index import Condition, TriggerIndex, WaitingOrder

LTE, GTE = Condition.LTE, Condition.GTE


def units(price: str) -> int:
    return to_units(Decimal(price))


# --- examples -------------------------------------------------------------------------


def test_lte_fires_at_or_below_target_only() -> None:
    index = TriggerIndex()
    index.add(1, "BTCUSDT", LTE, units("60000"), created_ms=0)
    assert index.on_trade("BTCUSDT", units("60000.01"), 10) == []
    assert index.on_trade("BTCUSDT", units("60000"), 11) == [1]
    assert 1 not in index
    assert len(index) == 0


def test_gte_fires_at_or_above_target_only() -> None:
    index = TriggerIndex()
    index.add(1, "BTCUSDT", GTE, units("70000"), created_ms=0)
    assert index.on_trade("BTCUSDT", units("69999.99"), 10) == []
    assert index.on_trade("BTCUSDT", units("70000"), 11) == [1]


def test_fired_ids_come_back_in_ascending_id_order_across_books() -> None:
    index = TriggerIndex()
    index.add(5, "BTCUSDT", LTE, units("100"), 0)
    index.add(3, "BTCUSDT", GTE, units("90"), 0)
    index.add(4, "BTCUSDT", LTE, units("120"), 0)
    index.add(1, "BTCUSDT", LTE, units("100"), 0)
    assert index.on_trade("BTCUSDT", units("95"), 1) == [1, 3, 4, 5]


def test_order_created_at_or_after_trade_time_waits_for_a_later_trade() -> None:
    index = TriggerIndex()
    index.add(1, "BTCUSDT", LTE, units("100"), created_ms=1_000)
    index.add(2, "BTCUSDT", LTE, units("100"), created_ms=999)
    assert index.on_trade("BTCUSDT", units("90"), 999) == []
    assert index.on_trade("BTCUSDT", units("90"), 1_000) == [2]
    assert index.on_trade("BTCUSDT", units("90"), 1_001) == [1]


def test_young_order_in_range_does_not_block_older_ones_nor_get_lost() -> None:
    index = TriggerIndex()
    index.add(1, "X", GTE, units("10"), created_ms=50)
    index.add(2, "X", GTE, units("11"), created_ms=10)
    index.add(3, "X", GTE, units("12"), created_ms=10)
    assert index.on_trade("X", units("20"), 20) == [2, 3]
    assert [o.order_id for o in index.waiting("X")] == [1]
    assert index.on_trade("X", units("9"), 60) == []
    assert index.on_trade("X", units("10"), 60) == [1]


def test_symbols_are_independent() -> None:
    index = TriggerIndex()
    index.add(1, "BTCUSDT", LTE, units("100"), 0)
    index.add(2, "ETHUSDT", LTE, units("100"), 0)
    assert index.on_trade("ETHUSDT", units("50"), 1) == [2]
    assert index.symbols() == ["BTCUSDT"]
    assert index.on_trade("SOLUSDT", units("50"), 1) == []


def test_remove_cancels_and_reports_whether_the_order_was_waiting() -> None:
    index = TriggerIndex()
    index.add(1, "BTCUSDT", LTE, units("100"), 0)
    index.add(2, "BTCUSDT", LTE, units("100"), 0)
    assert index.remove(1) is True
    assert index.remove(1) is False
    assert index.remove(99) is False
    assert index.on_trade("BTCUSDT", units("100"), 1) == [2]


def test_add_is_idempotent_per_id() -> None:
    index = TriggerIndex()
    index.add(1, "BTCUSDT", "lte", units("100"), 0)
    index.add(1, "BTCUSDT", LTE, units("100"), 0)
    assert len(index) == 1
    assert index.waiting("BTCUSDT") == [WaitingOrder(1, "BTCUSDT", LTE, units("100"), 0)]


@pytest.mark.parametrize(
    ("symbol", "condition", "target", "created_ms"),
    [
        ("ETHUSDT", LTE, units("100"), 0),
        ("BTCUSDT", GTE, units("100"), 0),
        ("BTCUSDT", LTE, units("101"), 0),
        ("BTCUSDT", LTE, units("100"), 5),
    ],
)
def test_add_refuses_same_id_with_other_values(
    symbol: str, condition: Condition, target: int, created_ms: int
) -> None:
    index = TriggerIndex()
    index.add(1, "BTCUSDT", LTE, units("100"), 0)
    with pytest.raises(ValueError, match="already indexed"):
        index.add(1, symbol, condition, target, created_ms)


@pytest.mark.parametrize("target", [0, -1, 1 << 62])
def test_add_refuses_targets_out_of_range(target: int) -> None:
    with pytest.raises(ValueError, match="target_units"):
        TriggerIndex().add(1, "BTCUSDT", LTE, target, 0)


@pytest.mark.parametrize(("order_id", "created_ms"), [(1 << 63, 0), (1, 1 << 63)])
def test_add_refuses_values_beyond_int64_and_stays_consistent(
    order_id: int, created_ms: int
) -> None:
    index = TriggerIndex()
    with pytest.raises(ValueError, match="64 bits"):
        index.add(order_id, "BTCUSDT", LTE, 1, created_ms)
    with pytest.raises(ValueError, match="64 bits"):
        index.add_many([(order_id, "BTCUSDT", LTE, 1, created_ms)])
    assert len(index) == 0
    assert index.waiting("BTCUSDT") == []


def test_add_refuses_unknown_condition() -> None:
    with pytest.raises(ValueError, match="eq"):
        TriggerIndex().add(1, "BTCUSDT", "eq", 1, 0)


def test_add_many_equals_repeated_add() -> None:
    rows = [(i, f"S{i % 3}", LTE if i % 2 else GTE, units(str(100 + i % 7)), i) for i in range(50)]
    one_by_one = TriggerIndex()
    for row in rows:
        one_by_one.add(*row)
    bulk = TriggerIndex()
    bulk.add_many(rows[:20])
    bulk.add_many(rows[10:])  # overlap: already indexed ids are skipped
    assert len(bulk) == len(one_by_one) == 50
    for symbol in ("S0", "S1", "S2"):
        assert bulk.waiting(symbol) == one_by_one.waiting(symbol)
        assert bulk.on_trade(symbol, units("103"), 100) == one_by_one.on_trade(
            symbol, units("103"), 100
        )


# --- properties against a brute-force model -------------------------------------------


@dataclass
class Model:
    """The obvious implementation: a dict of waiting orders scanned on every trade."""

    orders: dict[int, WaitingOrder] = field(default_factory=dict)

    def on_trade(self, symbol: str, price: int, trade_ms: int) -> list[int]:
        fired = sorted(
            o.order_id
            for o in self.orders.values()
            if o.symbol == symbol
            and o.created_ms < trade_ms
            and (price <= o.target_units if o.condition is LTE else price >= o.target_units)
        )
        for order_id in fired:
            del self.orders[order_id]
        return fired


SYMBOLS = st.sampled_from(["BTCUSDT", "ETHUSDT", "SOLUSDT"])
PRICES = st.integers(min_value=1, max_value=12)  # narrow: many equal targets and hits
TIMES = st.integers(min_value=0, max_value=15)
ADD = st.tuples(st.just("add"), SYMBOLS, st.sampled_from([LTE, GTE]), PRICES, TIMES)
REMOVE = st.tuples(st.just("remove"), st.integers(min_value=0, max_value=40))
READD = st.tuples(st.just("readd"), st.integers(min_value=0, max_value=40))
TRADE = st.tuples(st.just("trade"), SYMBOLS, PRICES, TIMES)
OPERATIONS = st.lists(st.one_of(ADD, REMOVE, READD, TRADE), max_size=80)


def apply(op: tuple[Any, ...], index: TriggerIndex, model: Model, next_id: int) -> list[int]:
    """Apply one operation to both; return what fired (empty unless a trade)."""
    kind = op[0]
    if kind == "add":
        _, symbol, condition, target, created = op
        order = WaitingOrder(next_id, symbol, condition, target, created)
        index.add(*order)
        model.orders[next_id] = order
    elif kind == "remove":
        order_id = op[1]
        assert index.remove(order_id) is (model.orders.pop(order_id, None) is not None)
    elif kind == "readd" and op[1] in model.orders:
        index.add(*model.orders[op[1]])
    elif kind == "trade":
        _, symbol, price, trade_ms = op
        fired = index.on_trade(symbol, price, trade_ms)
        assert fired == model.on_trade(symbol, price, trade_ms)
        return fired
    return []


def assert_same_state(index: TriggerIndex, model: Model) -> None:
    assert len(index) == len(model.orders)
    for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
        expected = sorted(o for o in model.orders.values() if o.symbol == symbol)
        assert index.waiting(symbol) == expected
    assert index.symbols() == sorted({o.symbol for o in model.orders.values()})


@settings(max_examples=300, deadline=None)
@given(OPERATIONS)
def test_matches_brute_force_model(operations: list[tuple[Any, ...]]) -> None:
    index, model = TriggerIndex(), Model()
    for next_id, op in enumerate(operations):
        apply(op, index, model, next_id)
        assert all(order_id in index for order_id in model.orders)
    assert_same_state(index, model)


@settings(max_examples=200, deadline=None)
@given(OPERATIONS)
def test_each_order_fires_at_most_once_and_never_before_its_creation(
    operations: list[tuple[Any, ...]],
) -> None:
    index, model = TriggerIndex(), Model()
    created: dict[int, int] = {}
    fired_ever: list[int] = []
    for next_id, op in enumerate(operations):
        if op[0] == "add":
            created[next_id] = op[4]
        fired = apply(op, index, model, next_id)
        if fired:
            assert all(created[order_id] < op[3] for order_id in fired)
        fired_ever += fired
    assert len(fired_ever) == len(set(fired_ever))


@settings(max_examples=100, deadline=None)
@given(st.lists(ADD, min_size=1, max_size=60), st.lists(TRADE, max_size=30))
def test_bulk_load_matches_model(
    adds: list[tuple[Any, ...]], trades: list[tuple[Any, ...]]
) -> None:
    model = Model()
    for order_id, (_, symbol, condition, target, created) in enumerate(adds):
        model.orders[order_id] = WaitingOrder(order_id, symbol, condition, target, created)
    index = TriggerIndex()
    index.add_many(model.orders.values())
    for op in trades:
        apply(op, index, model, -1)
    assert_same_state(index, model)
