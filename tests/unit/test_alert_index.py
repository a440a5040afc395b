"""The alert index fires exactly what a naive loop over the recorded BTCUSDT session says.

The naive loop below shares no code with the index: it walks every trade for every alert,
with ``Decimal`` prices, straight from the rules in README (Alerts).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import Decimal
from functools import cache

from criptoren.domain.alert_index import AlertIndex, IndexedAlert
from criptoren.domain.alerts import AlertCondition
from criptoren.fake_exchange.records import read_session
from tests.support.alert_oracle import Spec, naive
from tests.support.paths import shared_data

RECORDING = "btcusdt_trade_stream_2024-08-08T2354_2024-08-09T0005.jsonl"
TICK = Decimal("0.01")
Trade = tuple[int, Decimal, int]  # (id, price, time ms)


@cache
def recorded() -> tuple[Trade, ...]:
    """The real capture: ids are positions, times and prices as recorded."""
    path = shared_data() / "binance" / "ws" / "hftbacktest" / RECORDING
    records = [timed.record for timed in read_session(path)]
    assert len(records) > 10_000
    return tuple((i + 1, Decimal(r.p), r.T) for i, r in enumerate(records))


def units(value: Decimal) -> int:
    return int(value * 100_000_000)


def make_specs(
    rng: random.Random,
    trades: Sequence[Trade],
    count: int,
    windows_ms: Sequence[int] = (1_000, 5_000, 30_000, 120_000),
    conditions: Sequence[AlertCondition] = tuple(AlertCondition),
    percents: tuple[int, int] = (1, 40),  # move_pct range, hundredths of a percent
) -> list[Spec]:
    prices = [p for _, p, _ in trades]
    low, high = min(prices), max(prices)
    specs = []
    for alert_id in range(1, count + 1):
        condition = conditions[alert_id % len(conditions)]
        born = rng.randrange(0, len(trades) - 100)
        created_ms = trades[born][2] + rng.choice((0, 0, 1, 250))
        if condition is AlertCondition.MOVE_PCT:
            level = Decimal(rng.randint(*percents)) / 100
        else:
            level = rng.randint(int((low - 5) / TICK), int((high + 5) / TICK)) * TICK
        repeat = rng.random() < 0.5
        deleted = rng.randrange(born, len(trades)) if rng.random() < 0.15 else None
        specs.append(
            Spec(
                alert_id,
                condition,
                level,
                born,
                created_ms,
                window_ms=rng.choice(windows_ms),
                cooldown_ms=rng.choice((0, 1_000, 20_000, 60_000)) if repeat else None,
                deleted_after=deleted,
            )
        )
    return specs


def indexed(spec: Spec) -> IndexedAlert:
    move = spec.condition is AlertCondition.MOVE_PCT
    return IndexedAlert(
        spec.alert_id,
        "BTCUSDT",
        spec.condition,
        units(spec.level),
        spec.created_ms,
        window_ms=spec.window_ms if move else 0,
        cooldown_ms=spec.cooldown_ms,
    )


def replay(specs: Sequence[Spec], trades: Sequence[Trade]) -> dict[int, list[int]]:
    """Alerts are added after their ``born`` trade and removed after ``deleted_after``."""
    index = AlertIndex()
    born: dict[int, list[Spec]] = {}
    deleted: dict[int, list[Spec]] = {}
    for spec in specs:
        born.setdefault(spec.born, []).append(spec)
        if spec.deleted_after is not None:
            deleted.setdefault(spec.deleted_after, []).append(spec)
    fired: dict[int, list[int]] = {spec.alert_id: [] for spec in specs}
    for position, (trade_id, price, time) in enumerate(trades):
        for alert_id in index.on_trade("BTCUSDT", units(price), time):
            fired[alert_id].append(trade_id)
        for spec in born.get(position, []):
            index.add(indexed(spec))
        for spec in deleted.get(position, []):
            index.remove(spec.alert_id)
    return fired


def test_every_condition_fires_where_the_naive_loop_says_on_the_recorded_session() -> None:
    trades = recorded()
    specs = make_specs(random.Random(13), trades, 240)
    fired = replay(specs, trades)
    for spec in specs:
        assert fired[spec.alert_id] == naive(spec, trades), spec
    by_condition = {
        c: sum(bool(fired[s.alert_id]) for s in specs if s.condition is c) for c in AlertCondition
    }
    assert all(count >= 5 for count in by_condition.values()), by_condition  # it did fire
    assert sum(len(ids) > 1 for ids in fired.values()) >= 10  # repeats did repeat
    assert any(not ids for ids in fired.values())  # and some never fired


def test_a_one_shot_alert_fires_once_and_is_forgotten() -> None:
    index = AlertIndex()
    index.add(IndexedAlert(1, "BTCUSDT", AlertCondition.GTE, units(Decimal(100)), 0))
    assert index.on_trade("BTCUSDT", units(Decimal(99)), 1) == []
    assert index.on_trade("BTCUSDT", units(Decimal(100)), 2) == [1]
    assert index.on_trade("BTCUSDT", units(Decimal(101)), 3) == []
    assert 1 not in index
    assert len(index) == 0


def test_a_repeating_alert_waits_for_its_cooldown_in_trade_time() -> None:
    index = AlertIndex()
    index.add(
        IndexedAlert(7, "BTCUSDT", AlertCondition.LTE, units(Decimal(50)), 0, cooldown_ms=1000)
    )
    hits = [
        t
        for t in (10, 500, 1009, 1010, 1500, 2010)
        if index.on_trade("BTCUSDT", units(Decimal(49)), t)
    ]
    assert hits == [10, 1010, 2010]


def test_only_trades_after_creation_count() -> None:
    index = AlertIndex()
    index.add(IndexedAlert(1, "BTCUSDT", AlertCondition.GTE, units(Decimal(100)), 5_000))
    index.add(IndexedAlert(2, "BTCUSDT", AlertCondition.CROSS, units(Decimal(100)), 5_000))
    assert index.on_trade("BTCUSDT", units(Decimal(90)), 4_999) == []
    assert index.on_trade("BTCUSDT", units(Decimal(110)), 5_000) == []  # same ms: not after
    assert index.on_trade("BTCUSDT", units(Decimal(95)), 5_001) == []  # sets the cross's side
    assert index.on_trade("BTCUSDT", units(Decimal(100)), 5_002) == [1, 2]


def test_a_cross_alert_at_the_level_counts_as_reached_and_leaving_it_is_not_a_cross() -> None:
    index = AlertIndex()
    index.add(
        IndexedAlert(3, "BTCUSDT", AlertCondition.CROSS, units(Decimal(100)), 0, cooldown_ms=0)
    )
    prices = (99, 100, 99, 100, 101, 100, 102)
    fired = [i for i, p in enumerate(prices) if index.on_trade("BTCUSDT", units(Decimal(p)), i + 1)]
    assert fired == [1, 3, 5]  # 99→100 up, 99→100 up, 101→100 down; never on leaving


def random_walk(rng: random.Random, count: int) -> tuple[Trade, ...]:
    """Hours of trades: calm stretches around a level that now and then jumps or drifts away,
    bursts within one millisecond, long gaps."""
    trades: list[Trade] = []
    price = center = Decimal(60_000)
    time = 1_700_000_000_000
    for trade_id in range(1, count + 1):
        if rng.random() < 0.0005:
            center += center * rng.randint(-60, 60) / 10_000
        pull = (center - price) * rng.randint(0, 5) / 100
        price += (pull / TICK).to_integral_value() * TICK + rng.randint(-200, 200) * TICK
        time += rng.choice((0, 0, 1, 20, 300, 900, 2_000)) + (60_000 if rng.random() < 0.001 else 0)
        trades.append((trade_id, price, time))
    return tuple(trades)


def test_move_alerts_over_hours_of_trends_and_gaps_fire_where_the_naive_loop_says() -> None:
    """Long windows over a long history: bands held for minutes, left by trends, history
    trimmed, repeating alerts cooling down and coming back."""
    rng = random.Random(29)
    trades = random_walk(rng, 24_000)
    assert trades[-1][2] - trades[0][2] > 3 * 3_600_000
    moves = (AlertCondition.MOVE_PCT,) * 3 + (AlertCondition.CROSS,)
    specs = make_specs(rng, trades, 80, (10_000, 120_000, 600_000, 1_800_000), moves)
    fired = replay(specs, trades)
    for spec in specs:
        assert fired[spec.alert_id] == naive(spec, trades), spec
    moving = [s for s in specs if s.condition is AlertCondition.MOVE_PCT]
    assert sum(bool(fired[s.alert_id]) for s in moving) >= 20
    assert sum(not fired[s.alert_id] for s in moving) >= 5


def jumpy_walk(rng: random.Random, count: int) -> tuple[Trade, ...]:
    """A short tape around 1000: a level that jumps, prices pulled to it, lone spikes."""
    trades: list[Trade] = []
    price = center = Decimal(1000)
    time = 1_700_000_000_000
    for trade_id in range(1, count + 1):
        if rng.random() < 0.01:
            center += center * rng.randint(-30, 30) / 10_000
        pull = (center - price) * rng.randint(0, 30) / 100
        price += (pull / TICK).to_integral_value() * TICK + rng.randint(-20, 20) * TICK
        spike = price * rng.randint(-20, 20) / 10_000 if rng.random() < 0.01 else 0
        time += rng.choice((0, 1, 50, 200, 1_000))
        trades.append((trade_id, ((price + spike) / TICK).to_integral_value() * TICK, time))
    return tuple(trades)


def test_move_alerts_on_a_thousand_short_jumpy_tapes_fire_where_the_naive_loop_says() -> None:
    """A few move alerts per tape, added, deleted and cooling down while the price jumps out
    of their band and back: each band is kept or set again exactly when it must be."""
    for seed in range(1_000):
        rng = random.Random(seed)
        trades = jumpy_walk(rng, 600)
        window = rng.choice((2_000, 5_000, 20_000))
        specs = []
        for alert_id in range(1, rng.randint(3, 7)):
            born = rng.randrange(0, 500)
            specs.append(
                Spec(
                    alert_id,
                    AlertCondition.MOVE_PCT,
                    Decimal(rng.randint(5, 60)) / 100,
                    born,
                    trades[born][2] + rng.choice((0, 1)),
                    window_ms=window if rng.random() < 0.7 else rng.choice((2_000, 20_000)),
                    cooldown_ms=rng.choice((None, 500, 3_000)),
                    deleted_after=rng.randrange(born, 600) if rng.random() < 0.2 else None,
                )
            )
        fired = replay(specs, trades)
        for spec in specs:
            assert fired[spec.alert_id] == naive(spec, trades), (seed, spec)
