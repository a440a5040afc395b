"""What the PNG and the HTML page draw: price, channel bands, fills and equity per candle."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from criptoren.backtest.simulator import Run
from criptoren.domain.channels import donchian_bands
from criptoren.domain.strategies import ChannelParams, StrategyKind


@dataclass(frozen=True, slots=True)
class ChartData:
    """Series aligned on the candles; bands are ``None`` during the warm-up."""

    title: str
    times_ms: list[int]
    closes: list[Decimal]
    upper: list[Decimal | None]
    lower: list[Decimal | None]
    exit_lower: list[Decimal | None] | None
    entries: list[tuple[int, Decimal]]
    exits: list[tuple[int, Decimal]]
    equity: list[Decimal]


def chart_data(run: Run, params: ChannelParams, capital: Decimal, title: str) -> ChartData:
    """The series of one run (the exit band only when breakout's M differs from N)."""
    candles = run.candles
    bands = list(donchian_bands(candles, params.window))
    exit_window = params.resolved_exit_window
    exit_lower = None
    if params.kind is StrategyKind.BREAKOUT and exit_window != params.window:
        exit_lower = [b.lower if b else None for b in donchian_bands(candles, exit_window)]
    entries = [(t.entry_time_ms, t.entry_price) for t in run.trades]
    if run.open_position is not None:
        entries.append((run.open_position.entry_time_ms, run.open_position.entry_price))
    return ChartData(
        title=title,
        times_ms=[c.open_time_ms for c in candles],
        closes=[c.close for c in candles],
        upper=[b.upper if b else None for b in bands],
        lower=[b.lower if b else None for b in bands],
        exit_lower=exit_lower,
        entries=entries,
        exits=[(t.exit_time_ms, t.exit_price) for t in run.trades],
        equity=[capital + pnl for pnl in run.pnl_curve],
    )
