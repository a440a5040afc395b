"""Donchian bands: the incremental window agrees with max/min over the last N candles."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from criptoren.backtest.report import Summary, sweep_lines
from criptoren.domain.channels import Band, Candle, Donchian, donchian_bands
from criptoren.domain.strategies import ChannelParams, StrategyKind

prices = st.decimals(min_value=1, max_value=1000, places=2)


@given(st.lists(st.tuples(prices, prices), min_size=1, max_size=60), st.integers(1, 12))
def test_bands_are_the_extremes_of_the_last_n_candles(
    pairs: list[tuple[Decimal, Decimal]], window: int
) -> None:
    candles = [
        Candle(i, lo, max(a, b), min(a, b), lo, Decimal(0))
        for i, (a, b) in enumerate(pairs)
        for lo in [min(a, b)]
    ]
    expected = [
        Band(
            max(c.high for c in candles[t - window + 1 : t + 1]),
            min(c.low for c in candles[t - window + 1 : t + 1]),
        )
        if t >= window - 1
        else None
        for t in range(len(candles))
    ]
    assert list(donchian_bands(candles, window)) == expected


@given(
    st.lists(st.tuples(prices, prices), min_size=1, max_size=60),
    st.integers(1, 12),
    st.integers(1, 12),
)
def test_upper_and_lower_windows_may_differ(
    pairs: list[tuple[Decimal, Decimal]], n: int, m: int
) -> None:
    highs = [max(pair) for pair in pairs]
    lows = [min(pair) for pair in pairs]
    bands = Donchian(n, m)
    got = [
        bands.push(Candle(i, lo, hi, lo, lo, Decimal(0)))
        for i, (hi, lo) in enumerate(zip(highs, lows, strict=True))
    ]
    expected = [
        (max(highs[t - n + 1 : t + 1]), min(lows[t - m + 1 : t + 1]))
        if t + 1 >= max(n, m)
        else None
        for t in range(len(pairs))
    ]
    assert got == expected


def test_exit_window_defaults_to_half_the_window_rounded_down_and_at_least_one() -> None:
    assert ChannelParams(StrategyKind.BREAKOUT, 21).resolved_exit_window == 10
    assert ChannelParams(StrategyKind.BREAKOUT, 2).resolved_exit_window == 1
    assert ChannelParams(StrategyKind.BREAKOUT, 20, exit_window=7).resolved_exit_window == 7


def test_only_breakout_exits_on_an_exit_window_so_only_its_sweep_rows_show_one() -> None:
    breakout = ChannelParams(StrategyKind.BREAKOUT, 20)
    reversion = ChannelParams(StrategyKind.REVERSION, 20, exit_window=7)
    assert (breakout.exit_window_used, reversion.exit_window_used) == (10, None)
    zero = Decimal(0)
    summary = Summary(0, 0, 0, zero, zero, zero, zero, zero, zero, zero, zero, 0, zero)
    rows = sweep_lines([(20, 10), (20, None)], [summary, summary])
    assert [row.split()[:2] for row in rows[1:]] == [["20", "10"], ["20", "-"]]
