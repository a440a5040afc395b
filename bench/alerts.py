"""Alert index benchmark: cost per non-firing trade against the order trigger index's.

Run: ``.venv/bin/python bench/alerts.py`` (``--alerts N --symbols M --ticks T`` to resize).

Builds, in the same run, a :class:`TriggerIndex` with ``--alerts`` waiting orders (the
order benchmark's distribution, ``bench/engine.py``) and an :class:`AlertIndex` with as many
active alerts over the same symbols: a quarter each of ``gte`` (0.1–20 % above the price),
``lte`` (below), ``cross`` (either side) and ``move_pct`` (1–10 %, windows 1, 5, 15 and
60 minutes); 30 % of them repeating (300 s cooldown). Every symbol gets one trade first (the
cross alerts learn their side, the move windows begin), then both indexes take the same
non-firing trades (inside ±0.1 % of each symbol's price, 1 ms apart, so the windows move
and the periodic work of the alert index is counted), best of five interleaved passes.
Bar: alerts ≤ 2 × orders per non-firing trade. Exits 1 if the bar fails.

Also printed, for information: the same comparison one level up, between the two price-book
listeners (``AlertEngine.on_trade`` and ``TriggerEngine.on_trade``, each converting the
trade's ``Decimal`` price to units), which is what one trade costs each in the service.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from decimal import Decimal

from criptoren.domain.alert_index import AlertIndex, IndexedAlert
from criptoren.domain.alerts import AlertCondition
from criptoren.domain.money import from_units, to_units
from criptoren.engine.alert_engine import AlertEngine
from criptoren.engine.trigger_engine import TriggerEngine
from criptoren.market.schemas import AggTrade
from engine import (
    DAY_MS,
    NOW_MS,
    Tick,
    build_index,
    ns_per_tick,
    quiet_ticks,
    symbol_names,
    symbol_price,
)

BAR_RATIO = 2.0
PASSES = 5
WINDOWS_MS = (60_000, 300_000, 900_000, 3_600_000)
COOLDOWN_MS = 300_000
CONDITIONS = (AlertCondition.GTE, AlertCondition.LTE, AlertCondition.CROSS)


def generate_alerts(count: int, symbols: int, seed: int) -> Iterator[IndexedAlert]:
    """Active alerts, a quarter per condition, levels 0.1–20 % away from the price."""
    rng = random.Random(seed)
    names = symbol_names(symbols)
    cent = to_units(Decimal("0.01"))
    for alert_id in range(1, count + 1):
        s = rng.randrange(symbols)
        created = NOW_MS - rng.randrange(30 * DAY_MS)
        cooldown = COOLDOWN_MS if rng.random() < 0.3 else None
        if alert_id % 4 == 3:
            percent = to_units(Decimal(rng.randint(100, 1000)) / 100)
            window = rng.choice(WINDOWS_MS)
            yield IndexedAlert(
                alert_id, names[s], AlertCondition.MOVE_PCT, percent, created, window, cooldown
            )
            continue
        condition = CONDITIONS[alert_id % 4]
        above = condition is AlertCondition.GTE or (
            condition is AlertCondition.CROSS and rng.random() < 0.5
        )
        offset = rng.uniform(0.001, 0.2)
        level = symbol_price(s) * (1 + offset if above else 1 - offset)
        yield IndexedAlert(
            alert_id, names[s], condition, round(level / cent) * cent, created, 0, cooldown
        )


def build_alerts(count: int, symbols: int, seed: int) -> tuple[AlertIndex, float]:
    """The alert index (under tracemalloc: bytes per alert), primed by one trade per symbol."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    index = AlertIndex()
    for alert in generate_alerts(count, symbols, seed):
        index.add(alert)
    for s, name in enumerate(symbol_names(symbols)):
        if index.on_trade(name, symbol_price(s), NOW_MS):
            raise AssertionError("the priming trade fired alerts")
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return index, (after - before) / count


def listener_ns(listener: Callable[[AggTrade], None], trades: list[AggTrade]) -> float:
    """Wall time per trade through a price-book listener, loop included."""
    start = time.perf_counter()
    for trade in trades:
        listener(trade)
    return (time.perf_counter() - start) * 1e9 / len(trades)


def as_trades(ticks: list[Tick]) -> list[AggTrade]:
    """The ticks as the price book hands them to its listeners."""
    one = Decimal(1)
    return [
        AggTrade(s, i, from_units(p), one, ms, False, False) for i, (s, p, ms) in enumerate(ticks)
    ]


def main() -> int:
    """Measure both indexes; print the figures; exit 1 if the bar fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=200_000)
    args = parser.parse_args()
    passes = [quiet_ticks(args.ticks, args.symbols, 7 + p) for p in range(PASSES)]
    for p, ticks in enumerate(passes):  # trade time goes on from pass to pass
        passes[p] = [(s, price, ms + 1 + p * args.ticks) for s, price, ms in ticks]
    later = [
        as_trades([(s, price, ms + (PASSES + p) * args.ticks) for s, price, ms in ticks])
        for p, ticks in enumerate(passes)
    ]
    orders = build_index(args.alerts, args.symbols, 11)
    alerts, bytes_per_alert = build_alerts(args.alerts, args.symbols, 13)
    order_ns, alert_ns = [], []
    for ticks in passes:
        order_ns.append(ns_per_tick(orders.on_trade, ticks))
        alert_ns.append(ns_per_tick(alerts.on_trade, ticks))
    best_orders, best_alerts = min(order_ns), min(alert_ns)
    order_engine = TriggerEngine(None, None, None)  # type: ignore[arg-type]  # no I/O: nothing fires
    order_engine.index = orders
    alert_engine = AlertEngine(None, None)  # type: ignore[arg-type]
    alert_engine.index = alerts
    order_listener, alert_listener = [], []
    for trades in later:
        order_listener.append(listener_ns(order_engine.on_trade, trades))
        alert_listener.append(listener_ns(alert_engine.on_trade, trades))
    if order_engine.pending() or not alert_engine._idle.is_set():
        raise AssertionError("quiet trades fired")
    ratio = best_alerts / best_orders
    ok = ratio <= BAR_RATIO
    print(f"{args.alerts:,} waiting orders / active alerts over {args.symbols} symbols, "
          f"{args.ticks:,} non-firing trades × {PASSES} passes (best)")  # fmt: skip
    print(f"order trigger index: {best_orders:,.0f} ns per non-firing trade")
    print(f"alert index:         {best_alerts:,.0f} ns per non-firing trade")
    print(f"ratio alerts/orders: ×{ratio:.2f} (bar ≤ ×{BAR_RATIO:g}) {'PASS' if ok else 'FAIL'}")
    listeners = min(alert_listener) / min(order_listener)
    print(f"listeners (info):    orders {min(order_listener):,.0f} ns, alerts "
          f"{min(alert_listener):,.0f} ns per trade: ×{listeners:.2f}")  # fmt: skip
    print(f"alert index memory:  {bytes_per_alert:,.0f} B per alert (tracemalloc, info)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
