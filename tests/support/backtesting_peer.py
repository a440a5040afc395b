"""The channel strategies written in backtesting.py (AGPL, dev-only: never imported by src/).

Bridges between backtesting.py and our rules, each checked by the peer test:

- orders are chosen in ``next()`` at bar i's close and processed from bar i+1 on
  (``trade_on_close=False``); every waiting entry is cancelled and placed again at each
  close, as our strategy replaces its orders;
- ``gte`` buy = stop order (fires when ``high >= P``, fills at ``max(P, open)``), ``lte``
  buy = limit order (``low <= P``, fills at ``min(P, open)``); the exits are the trade's
  contingent ``sl`` (``lte``: stop) and ``tp`` (``gte``: limit), which close the whole trade
  and cancel each other — backtesting.py processes the ``sl`` first when both are hit in a
  bar, as our tie rule does when the open reaches neither;
- the bands are precomputed arrays read by bar index rather than ``self.I`` indicators,
  because backtesting.py starts calling ``next()`` one bar after the first bar where every
  indicator is defined, which would delay the first order by a candle;
- sizes are whole units (backtesting.py reads a size below 1 as a fraction of equity), so
  the peer trades a fixed quantity of 1; ``commission`` is our fee rate on each fill;
- prices are floats: the levels are maxima/minima of the same parsed values, so they come
  back exactly (``repr`` round-trips them); only P&L, float arithmetic, needs a tolerance.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from backtesting import Backtest, Strategy

Row = tuple[int, Decimal, Decimal, Decimal, Decimal]


class ChannelPeer(Strategy):  # type: ignore[misc]
    """``channel-breakout`` / ``channel-reversion`` on backtesting.py's broker."""

    kind = "channel-breakout"
    window = 20
    exit_window = 10
    stop_loss_pct = 0.0
    take_profit_pct = 0.0

    def init(self) -> None:
        high = pd.Series(self.data.High)
        low = pd.Series(self.data.Low)
        self.upper_n = high.rolling(self.window).max().to_numpy()
        self.lower_n = low.rolling(self.window).min().to_numpy()
        self.lower_m = low.rolling(self.exit_window).min().to_numpy()
        self.breakout = self.kind == "channel-breakout"
        self.start = max(self.window, self.exit_window) if self.breakout else self.window

    def next(self) -> None:
        i = len(self.data) - 1
        for order in self.orders:
            if not order.is_contingent:
                order.cancel()
        if i + 1 < self.start:
            return
        if not self.position:
            if self.breakout:
                self.buy(size=1, stop=self.upper_n[i])
            else:
                self.buy(size=1, limit=self.lower_n[i])
            return
        trade = self.trades[-1]
        entry = trade.entry_price
        lte = self.lower_m[i] if self.breakout else None
        gte = None if self.breakout else self.upper_n[i]
        if self.stop_loss_pct:
            stop = entry * (100 - self.stop_loss_pct) / 100
            lte = stop if lte is None else max(lte, stop)
        if self.take_profit_pct:
            take = entry * (100 + self.take_profit_pct) / 100
            gte = take if gte is None else min(gte, take)
        if lte is not None:
            trade.sl = lte
        if gte is not None:
            trade.tp = gte


def frame(rows: Sequence[Row]) -> pd.DataFrame:
    """backtesting.py's OHLC frame (floats) of our candles."""
    table = np.array([[float(v) for v in row[1:5]] for row in rows])
    index = pd.to_datetime([row[0] for row in rows], unit="ms")
    return pd.DataFrame(table, index=index, columns=["Open", "High", "Low", "Close"])


def peer_trades(data: pd.DataFrame, fee_rate: float, **params: Any) -> pd.DataFrame:
    """Closed trades of backtesting.py's run (``EntryTime``, ``EntryPrice``, …, ``PnL``)."""
    test = Backtest(
        data,
        ChannelPeer,
        cash=1e12,
        commission=fee_rate,
        trade_on_close=False,
        finalize_trades=False,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*remain open at the end.*")
        # backtesting.py 0.6 still calls pandas APIs that pandas 3.1 deprecates
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        stats = test.run(**params)
    trades: pd.DataFrame = stats._trades
    return trades
