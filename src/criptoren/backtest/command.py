"""``criptoren backtest``: options in, summary (or sweep table) and files out."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import typer

from criptoren.backtest.candles import load_candles, parse_bound
from criptoren.backtest.chart_data import chart_data
from criptoren.backtest.report import capital_for, summarise, summary_lines, sweep_lines, to_json
from criptoren.backtest.simulator import simulate
from criptoren.backtest.sweep import parse_windows, sweep, with_windows
from criptoren.backtest.symbols import NoDatabase, read_symbol_rules
from criptoren.domain.channels import Candle
from criptoren.domain.filters import SymbolRules
from criptoren.domain.money import AmountError, parse_decimal
from criptoren.domain.strategies import ChannelParams, ChannelStrategy, Sizing, StrategyKind
from criptoren.errors import InvalidInput

LONG_RUN = 20_000
"""Candles from which a single run shows a progress bar."""


@dataclass(frozen=True, slots=True)
class BacktestOptions:
    """The command's flags, as typed."""

    kind: StrategyKind
    candles: Path
    window: str
    exit_window: int | None
    quantity: str | None
    quote_amount: str | None
    fee_rate: str
    stop_loss_pct: str | None
    take_profit_pct: str | None
    symbol: str | None
    start: str | None
    end: str | None
    json_out: Path | None
    plot: Path | None
    html: Path | None


def _decimal(value: str | None, flag: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return parse_decimal(value)
    except AmountError as exc:
        raise InvalidInput(f"{flag}: {exc}") from exc


def _rules(symbol: str | None, database_url: str) -> SymbolRules | None:
    if symbol is None:
        return None
    try:
        return read_symbol_rules(database_url, symbol)
    except NoDatabase as exc:
        typer.echo(f"warning: no exchange filters for {symbol} ({exc})", err=True)
        return None


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    if total < LONG_RUN:
        yield None
        return
    with typer.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


def run_backtest(options: BacktestOptions, database_url: str) -> None:
    """Run the backtest (or the sweep) the options describe and report it."""
    fee_rate = _decimal(options.fee_rate, "--fee-rate")
    if fee_rate is None or not Decimal(0) <= fee_rate < 1:
        raise InvalidInput("--fee-rate must be at least 0 and below 1")
    sizing = Sizing.of(
        _rules(options.symbol, database_url),
        quantity=_decimal(options.quantity, "--quantity"),
        quote_amount=_decimal(options.quote_amount, "--quote-amount"),
    )
    windows = parse_windows(options.window)
    params = with_windows(
        ChannelParams(
            options.kind,
            windows[0],
            options.exit_window,
            _decimal(options.stop_loss_pct, "--stop-loss-pct"),
            _decimal(options.take_profit_pct, "--take-profit-pct"),
        ),
        windows,
    )
    if not options.candles.is_file():
        raise InvalidInput(f"--candles: no such file {options.candles}")
    if len(params) > 1 and (options.json_out or options.plot or options.html):
        raise InvalidInput("--json, --plot and --html need a single --window")
    candles = load_candles(
        options.candles,
        parse_bound(options.start, end=False) if options.start else None,
        parse_bound(options.end, end=True) if options.end else None,
    )
    if not candles:
        raise InvalidInput("no candles in the file within --from/--to")
    if len(params) > 1:
        _sweep(candles, params, sizing, fee_rate)
    else:
        _single(options, candles, params[0], sizing, fee_rate)


def _sweep(
    candles: list[Candle], params: list[ChannelParams], sizing: Sizing, fee_rate: Decimal
) -> None:
    with typer.progressbar(length=len(params), label="sweep", file=sys.stderr) as bar:
        summaries = sweep(candles, params, sizing, fee_rate, done=lambda: bar.update(1))
    pairs = [(p.window, p.exit_window_used) for p in params]
    for line in sweep_lines(pairs, summaries):
        typer.echo(line)


def _single(
    options: BacktestOptions,
    candles: list[Candle],
    params: ChannelParams,
    sizing: Sizing,
    fee_rate: Decimal,
) -> None:
    with _progress(len(candles), "backtest") as progress:
        run = simulate(ChannelStrategy(params, sizing), candles, fee_rate, progress)
    capital = capital_for(sizing, candles)
    summary = summarise(run, capital)
    lines = summary_lines(summary)
    for line in lines:
        typer.echo(line)
    if options.json_out:
        options.json_out.write_text(json.dumps(to_json(run, summary), indent=2) + "\n")
    if options.plot or options.html:
        exit_window = "" if params.exit_window_used is None else f" M={params.exit_window_used}"
        title = f"{params.kind} N={params.window}{exit_window} · {options.candles.name}"
        data = chart_data(run, params, capital, title)
        if options.plot:
            from criptoren.backtest.plot import write_png

            write_png(data, options.plot)
        if options.html:
            from criptoren.backtest.html import write_html

            write_html(data, lines, options.html)
