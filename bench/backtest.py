"""Backtest benchmark: ours against backtesting.py on the 2023 BTCUSDT 5m year, and a sweep.

Run: ``.venv/bin/python bench/backtest.py`` (``--quick`` for a small smoke run).

Loads the shared year (104,816 candles) once, then for each channel strategy (window 20,
fixed quantity 1, fee 0.001) times our backtest (simulation + summary) and backtesting.py's
``Backtest.run`` (AGPL, a dev dependency; the same strategy as the peer test) on the same
candles, best of ``--repeat`` runs, wall and CPU time, and checks both made the same trades.
The speed-up is the ratio of CPU times: the machine is shared, so wall time also measures
the neighbours; both run on one thread.
Then a 10-point window sweep (10:100:10) serially in this process and over the process pool
(all cores; forked workers share the loaded candles). Exits 1 if a bar fails.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support holds the backtesting.py peer

from criptoren.backtest.candles import load_candles  # noqa: E402
from criptoren.backtest.report import capital_for, summarise  # noqa: E402
from criptoren.backtest.simulator import Run, simulate  # noqa: E402
from criptoren.backtest.sweep import parse_windows, run_one, sweep, with_windows  # noqa: E402
from criptoren.domain.channels import Candle  # noqa: E402
from criptoren.domain.strategies import ChannelParams, ChannelStrategy, Sizing, StrategyKind  # noqa: E402
from tests.support.backtesting_peer import frame, peer_trades  # noqa: E402

YEAR = ROOT.parent / "shared/data/binance/klines/daisybum_5m_2023/BTC_USDT-5m.csv.gz"
FEE = Decimal("0.001")
WINDOW = 20
SWEEP = "10:100:10"
BAR_SPEEDUP = 5.0
BAR_CORES_BUSY = 1.5  # of 2: the pool keeps both cores working


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(best wall seconds, best CPU seconds, last result) over ``repeat`` runs."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def ours(candles: list[Candle], kind: StrategyKind) -> Run:
    sizing = Sizing.of(None, quantity=Decimal(1))
    run = simulate(ChannelStrategy(ChannelParams(kind, WINDOW), sizing), candles, FEE)
    summarise(run, capital_for(sizing, candles))
    return run


def same_trades(run: Run, peer: Any) -> bool:
    """Entry and exit times and prices equal (prices: band levels, exact through floats)."""
    theirs = [
        (row.EntryTime.value // 1_000_000, Decimal(repr(row.EntryPrice)),
         row.ExitTime.value // 1_000_000, Decimal(repr(row.ExitPrice)))
        for row in peer.itertuples()
    ]  # fmt: skip
    mine = [(t.entry_time_ms, t.entry_price, t.exit_time_ms, t.exit_price) for t in run.trades]
    return mine == theirs


def compare(candles: list[Candle], repeat: int) -> bool:
    data = frame([c[:5] for c in candles])
    passed = True
    print(f"{'strategy':<19} {'trades':>7} {'ours wall':>10} {'ours CPU':>9} "
          f"{'peer wall':>10} {'peer CPU':>9} {'speed-up':>9}  same trades")  # fmt: skip
    for kind in StrategyKind:
        wall, cpu, run = best_of(repeat, lambda kind=kind: ours(candles, kind))
        exit_window = ChannelParams(kind, WINDOW).resolved_exit_window
        peer_wall, peer_cpu, peer = best_of(
            repeat,
            lambda kind=kind, m=exit_window: peer_trades(
                data, float(FEE), kind=str(kind), window=WINDOW, exit_window=m
            ),
        )
        same = same_trades(run, peer)
        speedup = peer_cpu / cpu
        passed &= same and speedup >= BAR_SPEEDUP
        print(f"{kind:<19} {len(run.trades):>7} {wall:>9.3f}s {cpu:>8.3f}s {peer_wall:>9.3f}s "
              f"{peer_cpu:>8.3f}s {speedup:>8.1f}×  {'yes' if same else 'NO'}")  # fmt: skip
    return passed


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sweep_bench(candles: list[Candle]) -> bool:
    params = with_windows(ChannelParams(StrategyKind.BREAKOUT, WINDOW), parse_windows(SWEEP))
    sizing = Sizing.of(None, quantity=Decimal(1))
    start, cpu = time.perf_counter(), time.process_time()
    serial = [run_one(candles, p, sizing, FEE) for p in params]
    serial_wall, serial_cpu = time.perf_counter() - start, time.process_time() - cpu
    before_cpu, start = children_cpu(), time.perf_counter()
    parallel = sweep(candles, params, sizing, FEE)
    pool_wall = time.perf_counter() - start
    workers_cpu = children_cpu() - before_cpu
    speedup = serial_wall / pool_wall
    busy = workers_cpu / pool_wall
    print(f"\nsweep --window {SWEEP} (breakout, {len(params)} runs), {os.cpu_count()} cores")
    print(f"  serial, candles in memory:            {serial_wall:7.2f}s  (CPU {serial_cpu:.2f}s)")
    print(f"  process pool, incl. its start-up:     {pool_wall:7.2f}s  ({speedup:.2f}× faster)")
    print(f"  workers' CPU {workers_cpu:.2f}s over {pool_wall:.2f}s wall: {busy:.2f} cores busy")
    same = serial == parallel
    print(f"  same summaries: {'yes' if same else 'NO'}")
    return same and busy >= BAR_CORES_BUSY


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20,000 candles, one run each")
    args = parser.parse_args()
    start = time.perf_counter()
    end_ms = 1_672_531_200_000 + 20_000 * 300_000 if args.quick else None
    candles = load_candles(YEAR, None, end_ms)
    print(f"{len(candles)} candles loaded in {time.perf_counter() - start:.2f}s from {YEAR.name}\n")
    passed = compare(candles, 1 if args.quick else args.repeat)
    passed &= sweep_bench(candles)
    print("\nall bars met" if passed else "\nA BAR FAILED")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
