"""The backtest agrees, to the digit, with the oracle on two months of real 2023 5m candles."""

from __future__ import annotations

from decimal import Decimal

import pytest

from criptoren.backtest.candles import load_candles, parse_bound
from criptoren.backtest.simulator import simulate
from criptoren.domain.channels import Candle
from criptoren.domain.filters import SymbolRules
from criptoren.domain.strategies import ChannelParams, ChannelStrategy, Sizing, StrategyKind
from tests.support.backtest_oracle import Row, Rules, run_oracle
from tests.support.paths import shared_data

D = Decimal
BTCUSDT = SymbolRules(
    "BTCUSDT", "TRADING", "BTC", "USDT", step_size=D("0.00001"), min_qty=D("0.00001"),
    min_notional=D(5),
)  # fmt: skip
FILTERED = {"step": D("0.00001"), "min_qty": D("0.00001"), "min_notional": D(5)}

CASES = {
    "breakout-20": Rules("channel-breakout", 20, quantity=D("0.01")),
    "breakout-55-20-quote": Rules("channel-breakout", 55, 20, quote_amount=D(1000), **FILTERED),
    "breakout-10-30-stop-take": Rules(
        "channel-breakout", 10, 30, quantity=D("0.5"), stop_loss_pct=D(1), take_profit_pct=D(3)
    ),
    "breakout-20-tight-bracket": Rules(
        "channel-breakout",
        20,
        40,
        quantity=D("0.1"),
        stop_loss_pct=D("0.3"),
        take_profit_pct=D("0.3"),
    ),
    "reversion-30": Rules("channel-reversion", 30, quantity=D("0.01")),
    "reversion-20-stop-take-quote": Rules(
        "channel-reversion",
        20,
        quote_amount=D(1000),
        stop_loss_pct=D("1.5"),
        take_profit_pct=D(2),
        **FILTERED,
    ),
    "reversion-12-skips-under-notional": Rules(
        "channel-reversion", 12, quote_amount=D("5.2"), fee_rate=D("0.00075"), **FILTERED
    ),
}


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    path = shared_data() / "binance/klines/daisybum_5m_2023/BTC_USDT-5m.csv.gz"
    candles = load_candles(
        path, parse_bound("2023-05-01", end=False), parse_bound("2023-06-30", end=True)
    )
    assert len(candles) > 17_000
    return [(c.open_time_ms, c.open, c.high, c.low, c.close) for c in candles]


@pytest.mark.parametrize("rules", CASES.values(), ids=CASES.keys())
def test_same_trades_as_the_oracle(rows: list[Row], rules: Rules) -> None:
    candles = [Candle(t, o, h, lo, c, D(0)) for t, o, h, lo, c in rows]
    filtered = rules.min_notional > 0
    sizing = Sizing.of(
        BTCUSDT if filtered else None, quantity=rules.quantity, quote_amount=rules.quote_amount
    )
    params = ChannelParams(
        StrategyKind(rules.kind), rules.window, rules.exit_window, rules.stop_loss_pct,
        rules.take_profit_pct,
    )  # fmt: skip
    run = simulate(ChannelStrategy(params, sizing), candles, rules.fee_rate)
    expected, position, skipped = run_oracle(rows, rules)
    ours = [
        (t.entry_time_ms, t.entry_price, t.exit_time_ms, t.exit_price, t.quantity, t.fees, t.pnl)
        for t in run.trades
    ]
    assert len(ours) > 20
    assert ours == expected
    held = run.open_position
    assert (
        None if held is None else (held.entry_time_ms, held.entry_price, held.quantity)
    ) == position
    assert run.skipped_entries == skipped
    if rules.quote_amount == D("5.2"):
        assert skipped > 0  # the case exists to skip entries on real prices
