"""Positions and P&L derived from a client's trades in one symbol (weighted average cost)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext

from criptoren.domain.money import plain
from criptoren.domain.orders import Side

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class TradeFact:
    """What a position needs to know of one trade."""

    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal = ZERO
    fee_in_base: bool = False

    @property
    def base_fee(self) -> Decimal:
        """The fee when the exchange took it in the base asset (it comes out of the
        holdings), else zero."""
        return self.fee if self.fee_in_base else ZERO


@dataclass(frozen=True, slots=True)
class Position:
    """Holdings of one symbol: quantity, cost basis (fees included) and realized P&L."""

    quantity: Decimal = ZERO
    cost_basis: Decimal = ZERO
    realized_pnl: Decimal = ZERO

    @property
    def average_cost(self) -> Decimal:
        """Cost per unit held, fees included (zero when flat)."""
        if self.quantity == 0:
            return ZERO
        with localcontext() as ctx:
            ctx.prec = 40
            return self.cost_basis / self.quantity

    def unrealized_pnl(self, last_price: Decimal) -> Decimal:
        """Gain or loss if the holdings were sold at ``last_price`` (no fee)."""
        return last_price * self.quantity - self.cost_basis


def apply_trade(position: Position, trade: TradeFact) -> Position:
    """The position after one more trade."""
    with localcontext() as ctx:
        ctx.prec = 40
        if trade.side is Side.BUY:
            return _buy(position, trade)
        return _sell(position, trade)


def _buy(position: Position, trade: TradeFact) -> Position:
    notional = trade.price * trade.quantity
    if trade.fee_in_base:
        # the exchange kept part of the coins: hold less, paid the same
        return Position(
            position.quantity + trade.quantity - trade.fee,
            position.cost_basis + notional,
            position.realized_pnl,
        )
    return Position(
        position.quantity + trade.quantity,
        position.cost_basis + notional + trade.fee,
        position.realized_pnl,
    )


def _sell(position: Position, trade: TradeFact) -> Position:
    sold = trade.quantity
    held = position.quantity
    released = position.cost_basis * sold / held if held else ZERO
    proceeds = trade.price * sold - (trade.fee * trade.price if trade.fee_in_base else trade.fee)
    remaining = position.quantity - sold - trade.base_fee
    return Position(
        remaining,
        position.cost_basis - released if remaining != 0 else ZERO,
        position.realized_pnl + proceeds - released,
    )


def position_from_trades(trades: Iterable[TradeFact]) -> Position:
    """Fold trades (oldest first) into a position."""
    position = Position()
    for trade in trades:
        position = apply_trade(position, trade)
    return position


def held_quantity(trades: Iterable[TradeFact]) -> Decimal:
    """Quantity held: Σ buys − Σ sells, less fees taken in the base asset."""
    total = ZERO
    for trade in trades:
        moved = trade.quantity if trade.side is Side.BUY else -trade.quantity
        total += moved - trade.base_fee
    return total


def trade_fact(
    side: Side,
    price: Decimal,
    quantity: Decimal,
    fee: Decimal,
    fee_asset: str | None,
    base_asset: str | None,
    quote_asset: str | None,
) -> TradeFact:
    """What a position needs of a stored trade in a symbol of ``base_asset``/``quote_asset``.

    A fee paid in a third asset (BNB) has no price in this symbol's quote asset: it is left
    out of the cost basis and the P&L rather than counted as if it were quote currency.
    """
    valued = fee_asset in (None, base_asset, quote_asset)
    return TradeFact(
        side,
        price,
        quantity,
        fee if valued else ZERO,
        fee_in_base=base_asset is not None and fee_asset == base_asset,
    )


def sale_shortfall(
    quantity: Decimal, held: Decimal, reserved: Decimal, asset: str, base_fee: Decimal = ZERO
) -> str | None:
    """Why selling ``quantity`` is refused, or ``None`` when the unreserved holdings cover it.

    ``reserved`` is what waiting (or triggered) sells hold back: a sale may not eat it, so
    waiting sells never exceed the holdings. A fee paid in the base asset comes out of the
    holdings too (:attr:`TradeFact.base_fee`), so the sale must cover it as well.
    """
    available = held - reserved
    if quantity + base_fee <= available:
        return None
    wanted = f"cannot sell {plain(quantity)} {asset}"
    if base_fee:
        wanted += f" and pay a fee of {plain(base_fee)} {asset}"
    if reserved <= 0:
        return f"{wanted}: holdings are {plain(max(held, ZERO))} {asset}"
    return (
        f"{wanted}: holdings are {plain(max(held, ZERO))} {asset} with {plain(reserved)} "
        f"{asset} reserved by waiting sells ({plain(max(available, ZERO))} {asset} "
        "unreserved); cancel a waiting sell first"
    )
