"""The summary of a run, its text form and its ``--json`` form (every amount a decimal string)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from criptoren.backtest.simulator import Run
from criptoren.domain.channels import Candle
from criptoren.domain.strategies import Sizing

ZERO = Decimal(0)
RATIO = Decimal("0.00000001")


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    if denominator == 0:
        return ZERO
    return (numerator / denominator).quantize(RATIO, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True, slots=True)
class Summary:
    """Figures of one run. Ratios (win rate, return, drawdown, exposure) to 8 places.

    ``capital`` is ``quote_amount``, or ``quantity`` × the first candle's open: the base of
    ``return`` and of the drawdown ratio. ``buy_and_hold_return`` is last close ÷ first open − 1.
    """

    candles: int
    trades: int
    wins: int
    win_rate: Decimal
    total_pnl: Decimal
    capital: Decimal
    return_: Decimal
    max_drawdown: Decimal
    max_drawdown_quote: Decimal
    exposure: Decimal
    fees: Decimal
    skipped_entries: int
    buy_and_hold_return: Decimal


def _max_drawdown(curve: list[Decimal], capital: Decimal) -> tuple[Decimal, Decimal]:
    """Largest fall of equity (capital + P&L) from a peak: as a ratio of the peak, and in quote."""
    peak = ZERO
    fall = ZERO  # the deepest fall since the current peak
    worst = ZERO
    worst_ratio = ZERO
    for pnl in curve:
        if pnl > peak:
            if fall:  # settle the fall against its own peak before the peak moves
                worst, worst_ratio = max(worst, fall), max(worst_ratio, fall / (capital + peak))
            peak, fall = pnl, ZERO
        elif peak - pnl > fall:
            fall = peak - pnl
    if fall:
        worst, worst_ratio = max(worst, fall), max(worst_ratio, fall / (capital + peak))
    return worst_ratio.quantize(RATIO, rounding=ROUND_HALF_EVEN), worst


def capital_for(sizing: Sizing, candles: list[Candle]) -> Decimal:
    """The base of ``return``: ``quote_amount``, else ``quantity`` at the first open."""
    if sizing.quote_amount is not None:
        return sizing.quote_amount
    assert sizing.quantity is not None
    return sizing.quantity * candles[0].open if candles else ZERO


def summarise(run: Run, capital: Decimal) -> Summary:
    """Summary of ``run`` measured against ``capital``."""
    total = sum((trade.pnl for trade in run.trades), ZERO)
    wins = sum(1 for trade in run.trades if trade.pnl > 0)
    drawdown, drawdown_quote = _max_drawdown(run.pnl_curve, capital)
    first, last = (run.candles[0], run.candles[-1]) if run.candles else (None, None)
    hold = _ratio(last.close - first.open, first.open) if first and last else ZERO
    return Summary(
        candles=len(run.candles),
        trades=len(run.trades),
        wins=wins,
        win_rate=_ratio(Decimal(wins), Decimal(len(run.trades))),
        total_pnl=total,
        capital=capital,
        return_=_ratio(total, capital),
        max_drawdown=drawdown,
        max_drawdown_quote=drawdown_quote,
        exposure=_ratio(Decimal(run.candles_in_position), Decimal(len(run.candles))),
        fees=run.fees,
        skipped_entries=run.skipped_entries,
        buy_and_hold_return=hold,
    )


def _plain(value: object) -> Any:
    # exact, without exponent or trailing zeros: Decimal("1.50") -> "1.5"
    return format(value.normalize(), "f") if isinstance(value, Decimal) else value


def summary_dict(summary: Summary) -> dict[str, Any]:
    """The summary as JSON-ready values (``return_`` spelled ``return``)."""
    return {key.rstrip("_"): _plain(value) for key, value in asdict(summary).items()}


def to_json(run: Run, summary: Summary) -> dict[str, Any]:
    """The ``--json`` document: summary, closed trades and the open position."""
    keys = ("entry_time_ms", "entry_price", "exit_time_ms", "exit_price", "quantity", "fees", "pnl")
    trades = [{key: _plain(getattr(trade, key)) for key in keys} for trade in run.trades]
    held = run.open_position
    position = (
        None
        if held is None
        else {
            "entry_time_ms": held.entry_time_ms,
            "entry_price": _plain(held.entry_price),
            "quantity": _plain(held.quantity),
        }
    )
    return {"summary": summary_dict(summary), "trades": trades, "open_position": position}


def _percent(ratio: Decimal) -> str:
    return f"{(ratio * 100).quantize(Decimal('0.01'))} %"


def summary_lines(summary: Summary) -> list[str]:
    """The human summary printed by the command."""
    return [
        f"candles            {summary.candles}",
        f"trades             {summary.trades} ({summary.wins} won)",
        f"win rate           {_percent(summary.win_rate)}",
        f"total P&L          {summary.total_pnl.normalize():f}",
        f"return             {_percent(summary.return_)} of {summary.capital.normalize():f}",
        f"max drawdown       {_percent(summary.max_drawdown)} "
        f"({summary.max_drawdown_quote.normalize():f})",
        f"exposure           {_percent(summary.exposure)} of candles",
        f"fees               {summary.fees.normalize():f}",
        f"skipped entries    {summary.skipped_entries}",
        f"buy and hold       {_percent(summary.buy_and_hold_return)}",
    ]


def sweep_lines(windows: list[tuple[int, int | None]], summaries: list[Summary]) -> list[str]:
    """One row per swept (window, exit window; ``-`` for a strategy without one)."""
    header = (
        f"{'window':>6} {'exit':>5} {'trades':>7} {'win rate':>9} {'total P&L':>16} "
        f"{'return':>10} {'max dd':>9} {'exposure':>9} {'fees':>14}"
    )
    rows = [header]
    for (window, exit_window), s in zip(windows, summaries, strict=True):
        rows.append(
            f"{window:>6} {exit_window or '-':>5} {s.trades:>7} {_percent(s.win_rate):>9} "
            f"{s.total_pnl.quantize(Decimal('0.01')):>16} {_percent(s.return_):>10} "
            f"{_percent(s.max_drawdown):>9} {_percent(s.exposure):>9} "
            f"{s.fees.quantize(Decimal('0.01')):>14}"
        )
    return rows
