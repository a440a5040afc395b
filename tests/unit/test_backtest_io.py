"""Candle files in, summary, JSON, charts and the sweep table out of ``criptoren backtest``."""

from __future__ import annotations

import gzip
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from criptoren.backtest.candles import load_candles, parse_bound
from criptoren.cli import app
from criptoren.domain.channels import Candle
from criptoren.errors import InvalidInput
from tests.support.paths import shared_data

KLINES = "binance/klines"
YEAR_5M = f"{KLINES}/daisybum_5m_2023/BTC_USDT-5m.csv.gz"
VISION_1M = f"{KLINES}/binance_vision_spot_BTCUSDT_1m/BTCUSDT-1m-2020-01-01.csv"
TRADE_KEYS = {
    "entry_time_ms",
    "entry_price",
    "exit_time_ms",
    "exit_price",
    "quantity",
    "fees",
    "pnl",
}


def test_reads_the_project_csv_gz_within_from_and_to() -> None:
    start, end = parse_bound("2023-01-02", end=False), parse_bound("2023-01-02", end=True)
    candles = load_candles(shared_data() / YEAR_5M, start, end)
    assert len(candles) == 288  # one UTC day of 5-minute candles, --to's day included
    assert candles[0].open_time_ms == 1_672_617_600_000
    assert candles[-1].open_time_ms == 1_672_617_600_000 + 287 * 300_000


def test_reads_binance_kline_dumps_without_header() -> None:
    candles = load_candles(shared_data() / VISION_1M)
    assert len(candles) == 1440
    assert candles[0] == Candle(
        1_577_836_800_000,
        Decimal("7195.24"),
        Decimal("7196.25"),
        Decimal("7183.14"),
        Decimal("7186.68"),
        Decimal("51.642812"),
    )


def test_reads_gzip_dumps_with_microsecond_times(tmp_path: Path) -> None:
    # data.binance.vision spot files count microseconds from 2025 on
    row = (
        "1735689600000000,93576.00,93610.93,93537.50,93610.93,8.21827,"
        "1735689659999999,768978.2,1317,4.48,419378.1,0\n"
    )
    path = tmp_path / "BTCUSDT-1m-2025-01-01.csv.gz"
    path.write_bytes(gzip.compress(row.encode()))
    (candle,) = load_candles(path)
    assert candle.open_time_ms == 1_735_689_600_000
    assert candle.close == Decimal("93610.93")


def test_refuses_a_file_that_is_not_candles(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("time,price\n1,2\n")
    with pytest.raises(InvalidInput, match="header"):
        load_candles(path)


def _backtest(*args: str) -> str:
    result = CliRunner().invoke(app, ["backtest", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_json_has_every_amount_as_an_exact_decimal_string(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    _backtest(
        "--strategy", "channel-breakout", "--candles", str(shared_data() / YEAR_5M),
        "--window", "20", "--quote-amount", "1000", "--from", "2023-01-01", "--to", "2023-01-03",
        "--json", str(out),
    )  # fmt: skip
    body = json.loads(out.read_text())
    assert set(body) == {"summary", "trades", "open_position"}
    trades = body["trades"]
    assert trades
    assert all(set(trade) == TRADE_KEYS for trade in trades)
    assert all(
        isinstance(trade[key], str)
        for trade in trades
        for key in TRADE_KEYS - {"entry_time_ms", "exit_time_ms"}
    )
    total = sum((Decimal(trade["pnl"]) for trade in trades), Decimal(0))
    assert Decimal(body["summary"]["total_pnl"]) == total
    assert body["summary"]["trades"] == len(trades)
    for trade in trades:  # fill times are candle open times, pnl is exact
        assert int(trade["entry_time_ms"]) % 300_000 == 0
        quantity = Decimal(trade["quantity"])
        gross = (Decimal(trade["exit_price"]) - Decimal(trade["entry_price"])) * quantity
        assert Decimal(trade["pnl"]) == gross - Decimal(trade["fees"])


def test_prints_a_summary_and_writes_png_and_self_contained_html(tmp_path: Path) -> None:
    png, page = tmp_path / "run.png", tmp_path / "run.html"
    output = _backtest(
        "--strategy", "channel-reversion", "--candles", str(shared_data() / VISION_1M),
        "--window", "30", "--quantity", "0.01", "--plot", str(png), "--html", str(page),
    )  # fmt: skip
    for label in (
        "trades",
        "win rate",
        "total P&L",
        "return",
        "max drawdown",
        "exposure",
        "fees",
        "buy and hold",
    ):
        assert label in output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = page.read_text()
    assert not re.search(r"(src|href)\s*=", html)  # nothing fetched: no CDN, no files
    data = re.search(r"window\.BACKTEST = (\{.*?\});</script>", html, re.S)
    assert data is not None
    series = json.loads(data.group(1))
    assert len(series["t"]) == len(series["c"]) == len(series["e"]) == 1440


def test_a_window_range_sweeps_and_prints_one_row_per_window() -> None:
    output = _backtest(
        "--strategy", "channel-breakout", "--candles", str(shared_data() / VISION_1M),
        "--window", "10:30:10", "--quantity", "0.01",
    )  # fmt: skip
    rows = [line.split() for line in output.splitlines() if re.match(r"\s+\d+\s+\d+\s+\d+", line)]
    assert [(row[0], row[1]) for row in rows] == [("10", "5"), ("20", "10"), ("30", "15")]


def test_bad_input_is_a_clear_error() -> None:
    result = CliRunner().invoke(
        app,
        ["backtest", "--strategy", "channel-breakout", "--candles", str(shared_data() / VISION_1M),
         "--window", "20", "--quantity", "1", "--quote-amount", "10"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "exactly one of quantity and quote_amount" in result.output
