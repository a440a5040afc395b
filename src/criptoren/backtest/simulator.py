"""Drive a strategy over closed candles, filling its orders with the candle-level model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from criptoren.backtest.fills import first_fill
from criptoren.domain.channels import Candle
from criptoren.domain.orders import Side
from criptoren.domain.strategies import Strategy, WantedOrder

ZERO = Decimal(0)
DEFAULT_FEE_RATE = Decimal("0.001")
PROGRESS_EVERY = 4096


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """An entry and its exit; ``pnl = (exit − entry) × quantity − fees`` (both fills' fees)."""

    entry_time_ms: int
    entry_price: Decimal
    exit_time_ms: int
    exit_price: Decimal
    quantity: Decimal
    fees: Decimal
    pnl: Decimal


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """An entry not yet exited when the candles ran out."""

    entry_time_ms: int
    entry_price: Decimal
    quantity: Decimal
    fee: Decimal


@dataclass(slots=True)
class Run:
    """Everything a backtest produced; ``pnl_curve`` is realised + marked P&L at each close."""

    candles: Sequence[Candle]
    fee_rate: Decimal
    trades: list[ClosedTrade] = field(default_factory=list)
    open_position: OpenPosition | None = None
    skipped_entries: int = 0
    candles_in_position: int = 0
    pnl_curve: list[Decimal] = field(default_factory=list)
    realised: Decimal = ZERO
    waiting: tuple[WantedOrder, ...] = ()

    @property
    def fees(self) -> Decimal:
        """Every fee paid, including an open position's entry."""
        paid = sum((trade.fees for trade in self.trades), ZERO)
        return paid + (self.open_position.fee if self.open_position else ZERO)

    def fill(self, strategy: Strategy, order: WantedOrder, price: Decimal, time_ms: int) -> None:
        """Book one fill and tell the strategy (an entry under the filters is skipped)."""
        if order.side is Side.BUY:
            quantity = strategy.entry_quantity(price)
            if quantity is None:
                self.skipped_entries += 1
                return
            fee = self.fee_rate * price * quantity
            self.open_position = OpenPosition(time_ms, price, quantity, fee)
        else:
            entry = self.open_position
            assert entry is not None, "a strategy sold without a position"
            quantity = entry.quantity
            fees = entry.fee + self.fee_rate * price * quantity
            pnl = (price - entry.entry_price) * quantity - fees
            self.realised += pnl
            self.trades.append(
                ClosedTrade(
                    entry.entry_time_ms, entry.entry_price, time_ms, price, quantity, fees, pnl
                )
            )
            self.open_position = None
        strategy.on_fill(order.side, price, quantity, time_ms)


def simulate(
    strategy: Strategy,
    candles: Sequence[Candle],
    fee_rate: Decimal = DEFAULT_FEE_RATE,
    progress: Callable[[int], None] | None = None,
) -> Run:
    """Run ``strategy`` over ``candles`` in order; ``progress`` gets candles done, now and then."""
    run = Run(candles, fee_rate)
    for start in range(0, len(candles), PROGRESS_EVERY):
        _stretch(run, strategy, candles[start : start + PROGRESS_EVERY])
        if progress is not None:
            progress(min(PROGRESS_EVERY, len(candles) - start))
    return run


def _base(realised: Decimal, held: OpenPosition) -> Decimal:
    return realised - held.entry_price * held.quantity - held.fee


def _stretch(run: Run, strategy: Strategy, candles: Sequence[Candle]) -> None:
    """The hot loop over a stretch of candles (locals only: it runs once per candle)."""
    curve = run.pnl_curve
    realised = run.realised
    orders = run.waiting
    held = run.open_position
    in_position = 0
    # marked P&L while held = base + close × quantity
    base = ZERO if held is None else _base(run.realised, held)
    for candle in candles:
        if orders:
            hit = first_fill(orders, candle)
            if hit is not None:
                run.fill(strategy, hit[0], hit[1], candle.open_time_ms)
                held, realised = run.open_position, run.realised
                base = ZERO if held is None else _base(realised, held)
        orders = strategy.on_close(candle)
        if held is None:
            curve.append(realised)
        else:
            in_position += 1
            curve.append(base + candle.close * held.quantity)
    run.waiting = orders
    run.candles_in_position += in_position
