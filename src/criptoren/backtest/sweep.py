"""Parameter sweep: one backtest per window, spread over a process pool (all cores)."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from decimal import Decimal
from multiprocessing import get_context
from pathlib import Path

from criptoren.backtest.candles import load_candles
from criptoren.backtest.report import Summary, capital_for, summarise
from criptoren.backtest.simulator import simulate
from criptoren.domain.channels import Candle
from criptoren.domain.strategies import ChannelParams, ChannelStrategy, Sizing
from criptoren.errors import InvalidInput

_candles: list[Candle] = []


@dataclass(frozen=True, slots=True)
class CandleFile:
    """Where a worker reads its candles from (each process loads them once)."""

    path: Path
    start_ms: int | None = None
    end_ms: int | None = None

    def load(self) -> list[Candle]:
        """The candles of the file within the bounds."""
        return load_candles(self.path, self.start_ms, self.end_ms)


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


def _load_worker(source: CandleFile) -> None:
    global _candles
    _candles = source.load()


def _run_worker(params: ChannelParams, sizing: Sizing, fee_rate: Decimal) -> Summary:
    return run_one(_candles, params, sizing, fee_rate)


def sweep(
    source: CandleFile,
    params: list[ChannelParams],
    sizing: Sizing,
    fee_rate: Decimal,
    done: Callable[[], None] | None = None,
    workers: int | None = None,
) -> list[Summary]:
    """Summaries in the order of ``params``, computed by ``workers`` processes (all cores)."""
    count = max(1, min(workers or os.cpu_count() or 1, len(params)))
    results: dict[int, Summary] = {}
    with ProcessPoolExecutor(
        count, mp_context=get_context("spawn"), initializer=_load_worker, initargs=(source,)
    ) as pool:
        futures = {pool.submit(_run_worker, p, sizing, fee_rate): i for i, p in enumerate(params)}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if done is not None:
                done()
    return [results[index] for index in range(len(params))]


def with_windows(base: ChannelParams, windows: list[int]) -> list[ChannelParams]:
    """``base`` at each window (a fixed ``exit_window`` stays, a default one follows N)."""
    return [replace(base, window=window) for window in windows]
