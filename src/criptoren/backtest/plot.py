"""``--plot``: a PNG with price, channel bands and fills above, the equity curve below."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from criptoren.backtest.chart_data import ChartData


def _floats(values: list[Decimal | None]) -> list[float]:
    # drawing only: the figures themselves stay Decimal
    return [float("nan") if v is None else float(v) for v in values]


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def write_png(data: ChartData, path: Path) -> None:
    """Draw ``data`` into ``path`` (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    times = [_time(ms) for ms in data.times_ms]
    figure, (prices, equity) = pyplot.subplots(
        2, 1, figsize=(14, 8), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    prices.plot(times, _floats(list(data.closes)), color="#444", linewidth=0.6, label="close")
    prices.plot(times, _floats(data.upper), color="#2a7", linewidth=0.6, label="upper N")
    prices.plot(times, _floats(data.lower), color="#c44", linewidth=0.6, label="lower N")
    if data.exit_lower is not None:
        prices.plot(times, _floats(data.exit_lower), color="#c84", linewidth=0.5, label="lower M")
    for points, marker, colour, label in (
        (data.entries, "^", "#080", "entry"),
        (data.exits, "v", "#b00", "exit"),
    ):
        prices.scatter(
            [_time(ms) for ms, _ in points],
            [float(price) for _, price in points],
            marker=marker,
            color=colour,
            s=18,
            zorder=3,
            label=label,
        )
    prices.set_title(data.title)
    prices.legend(loc="upper left", fontsize="small")
    prices.grid(alpha=0.3)
    equity.plot(times, _floats(list(data.equity)), color="#236", linewidth=0.8)
    equity.set_ylabel("equity")
    equity.grid(alpha=0.3)
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
