"""The backtest oracle: the channel strategies' trades, read straight from issue 12's rules.

A plain loop written apart from ``criptoren.backtest`` and ``criptoren.domain`` on purpose:
it imports nothing from the package. Bands are recomputed by brute force over each window;
the order of the trades inside a candle is modelled as the path open → low → high → close,
so a level the open already passes fills at the open, a falling leg comes before a rising
one (the stop before the take-profit), and the first level met on the path fills, at the
level. At most one fill per candle; orders are chosen at a close and live one candle.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext

Row = tuple[int, Decimal, Decimal, Decimal, Decimal]  # open time, open, high, low, close


@dataclass(frozen=True)
class Rules:
    """What the strategy was told: kind, windows, sizing, filters, fee, stop and target."""

    kind: str  # "channel-breakout" | "channel-reversion"
    window: int
    exit_window: int | None = None
    quantity: Decimal | None = None
    quote_amount: Decimal | None = None
    step: Decimal = Decimal("0.00000001")
    min_qty: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)
    fee_rate: Decimal = Decimal("0.001")
    stop_loss_pct: Decimal | None = None
    take_profit_pct: Decimal | None = None


def _size(rules: Rules, price: Decimal) -> Decimal | None:
    if rules.quantity is not None:
        qty = rules.quantity
    else:
        assert rules.quote_amount is not None
        with localcontext() as ctx:
            ctx.prec = 80
            qty = (rules.quote_amount / price).quantize(rules.step, rounding=ROUND_DOWN)
    if qty == 0 or qty < rules.min_qty or qty * price < rules.min_notional:
        return None
    return qty


def _first_on_path(orders: list[tuple[str, Decimal]], o: Decimal, h: Decimal, lo: Decimal):
    """(condition, fill price) of the first order met on open → low → high, or None."""
    for cond, level in orders:  # the open is the first trade
        if (cond == "lte" and o <= level) or (cond == "gte" and o >= level):
            return cond, o
    falling = [level for cond, level in orders if cond == "lte" and lo <= level]
    if falling:
        return "lte", max(falling)
    rising = [level for cond, level in orders if cond == "gte" and h >= level]
    if rising:
        return "gte", min(rising)
    return None


def run_oracle(rows: list[Row], rules: Rules):
    """(closed trades, open position, entries skipped) for ``rows`` under ``rules``.

    A trade is (entry time, entry price, exit time, exit price, quantity, fees, pnl).
    """
    n = rules.window
    m = rules.exit_window if rules.exit_window is not None else max(1, n // 2)
    breakout = rules.kind == "channel-breakout"
    start = max(n, m) if breakout else n  # no order before every band it uses exists
    trades, skipped = [], 0
    held = None  # (time, price, qty, fee)
    orders: list[tuple[str, Decimal]] = []
    for k, (t, o, h, lo, c) in enumerate(rows):
        hit = _first_on_path(orders, o, h, lo) if orders else None
        if hit is not None and held is None:
            qty = _size(rules, hit[1])
            if qty is None:
                skipped += 1
            else:
                held = (t, hit[1], qty, rules.fee_rate * hit[1] * qty)
        elif hit is not None:
            entry_t, entry_p, qty, entry_fee = held
            fees = entry_fee + rules.fee_rate * hit[1] * qty
            trades.append((entry_t, entry_p, t, hit[1], qty, fees, (hit[1] - entry_p) * qty - fees))
            held = None
        orders = []
        if k + 1 < start:
            continue
        highs_n = [row[2] for row in rows[k - n + 1 : k + 1]]
        lows_n = [row[3] for row in rows[k - n + 1 : k + 1]]
        lows_m = [row[3] for row in rows[k - m + 1 : k + 1]]
        if held is None:
            orders = [("gte", max(highs_n))] if breakout else [("lte", min(lows_n))]
            continue
        orders = [("lte", min(lows_m))] if breakout else [("gte", max(highs_n))]
        entry = held[1]
        if rules.stop_loss_pct is not None:
            orders.append(("lte", entry - entry * rules.stop_loss_pct / 100))
        if rules.take_profit_pct is not None:
            orders.append(("gte", entry + entry * rules.take_profit_pct / 100))
    position = None if held is None else held[:3]
    return trades, position, skipped
