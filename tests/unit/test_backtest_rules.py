"""The channel strategies' rules on hand-made candles, through the backtest simulator."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from criptoren.backtest.simulator import ClosedTrade, Run, simulate
from criptoren.domain.channels import Candle
from criptoren.domain.filters import SymbolRules
from criptoren.domain.strategies import ChannelParams, ChannelStrategy, Sizing, StrategyKind
from criptoren.errors import InvalidInput

D = Decimal
BREAKOUT = StrategyKind.BREAKOUT
REVERSION = StrategyKind.REVERSION
NO_FEE = D(0)


def candles(*rows: tuple[str, str, str, str]) -> list[Candle]:
    """Candles (open, high, low, close) one minute apart, from t = 0."""
    return [
        Candle(i * 60_000, D(o), D(h), D(low), D(c), D(1)) for i, (o, h, low, c) in enumerate(rows)
    ]


def backtest(
    rows: list[Candle],
    kind: StrategyKind = BREAKOUT,
    window: int = 2,
    exit_window: int | None = 1,
    sizing: Sizing | None = None,
    fee_rate: Decimal = NO_FEE,
    **levels: Decimal,
) -> Run:
    params = ChannelParams(kind, window, exit_window, **levels)
    strategy = ChannelStrategy(params, sizing or Sizing.of(None, quantity=D(1)))
    return simulate(strategy, rows, fee_rate)


WARM_UP = [("10", "11", "9", "10"), ("10", "12", "9", "11")]  # upper_2 = 12 at the close of t1


def test_a_gap_through_the_level_fills_at_the_open_on_both_sides() -> None:
    run = backtest(
        candles(
            *WARM_UP,
            ("13", "14", "12.5", "13.5"),  # opens above the buy at 12: bought at 13
            ("12", "12.2", "11", "11.5"),  # opens below the sell at lower_1 = 12.5: sold at 12
        )
    )
    assert run.trades == [ClosedTrade(120_000, D(13), 180_000, D(12), D(1), D(0), D(-1))]


def test_a_level_reached_inside_the_candle_fills_at_the_level() -> None:
    run = backtest(
        candles(*WARM_UP, ("11.5", "12.5", "11.2", "12.4"), ("12.3", "12.3", "11", "11"))
    )
    assert [(t.entry_price, t.exit_price) for t in run.trades] == [(D(12), D("11.2"))]


def test_an_order_fires_only_from_the_candle_after_it_was_placed() -> None:
    # t1's high of 12 is above t0's band, but the first order exists only after t1's close
    run = backtest(candles(("10", "11", "9", "10"), ("10", "12", "9", "11")))
    assert run.trades == []
    assert run.open_position is None


def test_one_fill_per_candle_the_exit_waits_for_the_next_close() -> None:
    # t2 buys at 12 and then trades at 9, far below any exit level, yet it cannot also sell
    run = backtest(candles(*WARM_UP, ("11.5", "12.5", "9", "10")))
    assert run.trades == []
    assert run.open_position is not None
    assert (run.open_position.entry_time_ms, run.open_position.entry_price) == (120_000, D(12))


def test_reversion_buys_at_the_lower_band_and_sells_at_the_upper_band() -> None:
    run = backtest(
        candles(
            *WARM_UP,  # lower_2 = 9, upper_2 = 12
            ("9.5", "13", "8.5", "12"),  # buys at 9 only; the 13 does not sell in this candle
            ("12", "12.5", "11", "12"),  # upper_2 = 13 now: no sell
            ("12.5", "13.2", "12", "13"),  # sells at 13
        ),
        kind=REVERSION,
        exit_window=None,
    )
    assert [(t.entry_time_ms, t.entry_price, t.exit_time_ms, t.exit_price) for t in run.trades] == [
        (120_000, D(9), 240_000, D(13))
    ]


def test_fee_and_pnl_are_exact() -> None:
    run = backtest(
        candles(*WARM_UP, ("11.5", "12.5", "11.2", "12.4"), ("12.3", "12.3", "11", "11")),
        sizing=Sizing.of(None, quantity=D("0.3")),
        fee_rate=D("0.001"),
    )
    (trade,) = run.trades
    fees = D("0.001") * D(12) * D("0.3") + D("0.001") * D("11.2") * D("0.3")
    assert trade.fees == fees == D("0.00696")
    assert trade.pnl == (D("11.2") - D(12)) * D("0.3") - fees == D("-0.24696")


RULES = SymbolRules(
    "BTCUSDT", "TRADING", "BTC", "USDT", step_size=D("0.001"), min_qty=D("0.01"), min_notional=D(10)
)


NO_NOTIONAL = replace(RULES, min_notional=D(0))


def test_quote_amount_buys_the_fill_price_quantity_rounded_down_to_the_step() -> None:
    run = backtest(
        candles(*WARM_UP, ("13", "14", "12.5", "13.5")),
        sizing=Sizing.of(RULES, quote_amount=D(100)),
    )
    assert run.open_position is not None
    # 100 / 13 = 7.6923…: rounded down, never up, and sized at the gap's fill price
    assert run.open_position.quantity == D("7.692")


@pytest.mark.parametrize(
    "sizing",
    [
        Sizing.of(RULES, quote_amount=D("9.99")),  # whatever the price: under NOTIONAL 10
        Sizing.of(RULES, quantity=D("0.5")),  # 0.5 × 13 = 6.5 < 10
        Sizing.of(NO_NOTIONAL, quote_amount=D("0.12")),  # 0.009 at 13: under minQty 0.01
    ],
    ids=["quote-under-notional", "quantity-under-notional", "under-min-qty"],
)
def test_an_entry_under_the_filters_is_skipped(sizing: Sizing) -> None:
    run = backtest(
        candles(*WARM_UP, ("13", "14", "12.5", "13.5"), ("14.5", "15", "14", "14.5")), sizing=sizing
    )
    assert run.trades == []
    assert run.open_position is None
    assert run.skipped_entries == 2  # t2 reaches 12, t3 reaches 14: neither entry is placed


def test_a_fixed_quantity_off_the_step_is_refused() -> None:
    with pytest.raises(InvalidInput):
        Sizing.of(RULES, quantity=D("1.0005"))


def _bracket(third: tuple[str, str, str, str], exit_window: int = 2) -> Run:
    """Breakout N=2, bought at 101 in t2; stop 5 % = 95.95, take-profit 5 % = 106.05.

    With M = 2 the channel exit (lower_2 = 80) is below the stop, so the stop is the lte exit.
    """
    warm_up = [("100", "101", "80", "100"), ("100", "101", "80", "100")]
    return backtest(
        candles(*warm_up, ("101", "101", "101", "101"), third),
        exit_window=exit_window,
        stop_loss_pct=D(5),
        take_profit_pct=D(5),
    )


@pytest.mark.parametrize(
    ("third", "exit_price"),
    [
        (("101", "107", "90", "100"), "95.95"),  # both inside the candle: the stop first
        (("107", "108", "90", "95"), "107"),  # the open is past the take-profit: it, at the open
        (("94", "108", "90", "95"), "94"),  # the open is past the stop: it, at the open
        (("102", "106.5", "101.5", "106"), "106.05"),  # only the take-profit
        (("100", "100", "95", "96"), "95.95"),  # only the stop
    ],
    ids=["inside-stop-first", "open-past-take", "open-past-stop", "take-only", "stop-only"],
)
def test_stop_and_take_profit_tie_rule(third: tuple[str, str, str, str], exit_price: str) -> None:
    run = _bracket(third)
    assert [(t.entry_price, t.exit_price) for t in run.trades] == [(D(101), D(exit_price))]


def test_the_nearer_of_the_channel_exit_and_the_stop_is_kept() -> None:
    run = _bracket(("102", "103", "100", "100"), exit_window=1)  # lower_1 = 101 above 95.95
    assert [t.exit_price for t in run.trades] == [D(101)]
