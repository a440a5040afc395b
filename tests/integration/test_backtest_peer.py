"""Peer check: backtesting.py, on the same candles and rules, makes the same trades.

The bridges between the two libraries are listed in ``tests/support/backtesting_peer.py``.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from criptoren.backtest.candles import load_candles, parse_bound
from criptoren.backtest.simulator import Run, simulate
from criptoren.domain.channels import Candle
from criptoren.domain.strategies import ChannelParams, ChannelStrategy, Sizing, StrategyKind
from tests.support.backtesting_peer import frame, peer_trades
from tests.support.paths import shared_data

FEE = Decimal("0.001")
CASES = {
    "breakout-20": (StrategyKind.BREAKOUT, 20, None, None, None),
    "breakout-40-12": (StrategyKind.BREAKOUT, 40, 12, None, None),
    "reversion-20": (StrategyKind.REVERSION, 20, None, None, None),
    "breakout-20-40-bracket": (StrategyKind.BREAKOUT, 20, 40, Decimal("0.3"), Decimal("0.3")),
    "reversion-30-bracket": (StrategyKind.REVERSION, 30, None, Decimal(1), Decimal("0.5")),
}


@pytest.fixture(scope="module")
def candles() -> list[Candle]:
    path = shared_data() / "binance/klines/daisybum_5m_2023/BTC_USDT-5m.csv.gz"
    return load_candles(
        path, parse_bound("2023-02-01", end=False), parse_bound("2023-03-15", end=True)
    )


def ours(candles: list[Candle], params: ChannelParams) -> Run:
    return simulate(ChannelStrategy(params, Sizing.of(None, quantity=Decimal(1))), candles, FEE)


def _ms(moment: pd.Timestamp) -> int:
    return int(moment.value // 1_000_000)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_same_trade_list_as_backtesting_py(candles: list[Candle], case: tuple) -> None:
    kind, window, exit_window, stop, take = case
    params = ChannelParams(kind, window, exit_window, stop, take)
    run = ours(candles, params)
    peer = peer_trades(
        frame([c[:5] for c in candles]),
        float(FEE),
        kind=str(kind),
        window=window,
        exit_window=params.resolved_exit_window,
        stop_loss_pct=float(stop or 0),
        take_profit_pct=float(take or 0),
    )
    theirs = [
        (
            _ms(row.EntryTime),
            Decimal(repr(row.EntryPrice)),
            _ms(row.ExitTime),
            Decimal(repr(row.ExitPrice)),
        )
        for row in peer.itertuples()
    ]
    mine = [(t.entry_time_ms, t.entry_price, t.exit_time_ms, t.exit_price) for t in run.trades]
    assert len(mine) > 50
    assert [(m[0], m[2]) for m in mine] == [(t[0], t[2]) for t in theirs]
    # band levels are maxima/minima of the same parsed prices: exactly equal; a stop or
    # take-profit level is entry × (100 ± pct) / 100, which floats round at ~1e-16
    tolerance = Decimal("1e-12") if stop or take else Decimal(0)
    opens = {c.open_time_ms: c for c in candles}
    bridged = set()
    for index, (m, t) in enumerate(zip(mine, theirs, strict=True)):
        assert abs(m[1] - t[1]) <= m[1] * tolerance
        if abs(m[3] - t[3]) > m[3] * tolerance:
            # The one semantic difference: a candle that opens past the take-profit and
            # later trades down to the stop. The open is its first trade, so we fill the
            # take-profit at the open; backtesting.py always takes the stop first.
            exit_candle = opens[m[2]]
            assert m[3] == exit_candle.open > t[3] >= exit_candle.low
            bridged.add(index)
    # rare, and the trades after it line up again: both are flat after the same candle
    assert len(bridged) <= len(mine) // 100
    # P&L is float arithmetic on their side: equal to a millionth of a dollar
    for index, (trade, pnl) in enumerate(zip(run.trades, peer.PnL, strict=True)):
        if index not in bridged:
            assert abs(float(trade.pnl) - pnl) < 1e-6
