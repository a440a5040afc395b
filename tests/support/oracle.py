"""The oracle: which orders must fire, on which trade, at what price and fee.

A plain loop over the trades, written apart from the engine on purpose: it shares no code
with ``criptoren.engine`` or the trigger index, only the rules of the design (§2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

EIGHT = Decimal("0.00000001")


@dataclass(frozen=True)
class OracleTrade:
    """One aggregate trade as the exchange emitted it."""

    agg_id: int
    price: Decimal
    time_ms: int


@dataclass(frozen=True)
class OracleOrder:
    """One positioned order as stored."""

    id: int
    side: str  # "buy" | "sell"
    condition: str  # "lte" | "gte"
    target: Decimal
    quantity: Decimal
    created_ms: int
    cancelled: bool = False


@dataclass(frozen=True)
class OracleFill:
    """What the ledger must show for a fired order."""

    order_id: int
    agg_id: int
    price: Decimal
    quantity: Decimal
    fee: Decimal


def expected_fills(
    trades: Sequence[OracleTrade],
    orders: Sequence[OracleOrder],
    fee_rate: Decimal = Decimal("0.001"),
    slippage_bps: Decimal = Decimal(0),
) -> dict[int, OracleFill]:
    """Every order that must execute (cancelled ones never do), keyed by order id."""
    fills = {}
    ordered = sorted(trades, key=lambda t: t.agg_id)
    for order in orders:
        if order.cancelled:
            continue
        for trade in ordered:
            if trade.time_ms <= order.created_ms:
                continue
            crossed = (
                trade.price <= order.target
                if order.condition == "lte"
                else trade.price >= order.target
            )
            if crossed:
                sign = 1 if order.side == "buy" else -1
                price = trade.price * (1 + sign * slippage_bps / 10_000)
                price = price.quantize(EIGHT, rounding=ROUND_HALF_EVEN)
                fee = (price * order.quantity * fee_rate).quantize(EIGHT, rounding=ROUND_HALF_EVEN)
                fills[order.id] = OracleFill(order.id, trade.agg_id, price, order.quantity, fee)
                break
    return fills
