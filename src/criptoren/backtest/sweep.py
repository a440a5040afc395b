"""Parameter sweep: one backtest per window, spread over a process pool (all cores)."""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from decimal import Decimal
from multiprocessing import get_context
from multiprocessing.context import BaseContext

from criptoren.backtest.report import Summary, capital_for, summarise
from criptoren.backtest.simulator import simulate
from criptoren.domain.channels import Candle
from criptoren.domain.strategies import ChannelParams, ChannelStrategy, Sizing
from criptoren.errors import InvalidInput

_candles: list[Candle] = []


def parse_windows(text: str) -> list[int]:
    """``20``, ``10,20,50`` or ``START:STOP:STEP`` (STOP included) as a list of windows."""
    try:
        if ":" in text:
            start, stop, *rest = (int(part) for part in text.split(":"))
            step = rest[0] if rest else 1
            if step < 1 or len(rest) > 1:
                raise ValueError(text)
            return list(range(start, stop + 1, step))
        return [int(part) for part in text.split(",")]
    except ValueError as exc:
        raise InvalidInput(f"--window: not N, N,M,… or START:STOP:STEP: {text!r}") from exc


def run_one(
    candles: list[Candle], params: ChannelParams, sizing: Sizing, fee_rate: Decimal
) -> Summary:
    """One backtest, summarised."""
    run = simulate(ChannelStrategy(params, sizing), candles, fee_rate)
    return summarise(run, capital_for(sizing, candles))


def _hold(candles: list[Candle]) -> None:
    global _candles
    _candles = candles


def _run_worker(params: ChannelParams, sizing: Sizing, fee_rate: Decimal) -> Summary:
    return run_one(_candles, params, sizing, fee_rate)


def _context() -> BaseContext:
    # fork hands the workers the parent's candles without copying or pickling them; where
    # fork is unsafe or missing (macOS, Windows), spawn pickles them once per worker
    return get_context("fork" if sys.platform == "linux" else "spawn")


def sweep(
    candles: list[Candle],
    params: list[ChannelParams],
    sizing: Sizing,
    fee_rate: Decimal,
    done: Callable[[], None] | None = None,
    workers: int | None = None,
) -> list[Summary]:
    """Summaries in the order of ``params``, computed by ``workers`` processes (all cores)."""
    count = max(1, min(workers or os.cpu_count() or 1, len(params)))
    results: dict[int, Summary] = {}
    gc.freeze()  # forked workers then leave the shared candles' pages uncopied by the GC
    with ProcessPoolExecutor(
        count, mp_context=_context(), initializer=_hold, initargs=(candles,)
    ) as pool:
        futures = {pool.submit(_run_worker, p, sizing, fee_rate): i for i, p in enumerate(params)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if done is not None:
                done()
    gc.unfreeze()
    return [results[index] for index in range(len(params))]


def with_windows(base: ChannelParams, windows: list[int]) -> list[ChannelParams]:
    """``base`` at each window (a fixed ``exit_window`` stays, a default one follows N)."""
    return [replace(base, window=window) for window in windows]
