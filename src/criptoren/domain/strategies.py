"""Channel strategies: which positioned orders to keep waiting after each closed candle.

A strategy never sees how its orders fill: a runner tells it (:meth:`Strategy.on_fill`),
live through the trigger engine, in a backtest through the candle-level fill model. Orders
are replaced only at candle closes, so an order chosen at the close of candle t can fire
from candle t+1 on. Long-only, one position at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple, Protocol

from criptoren.domain.channels import Candle, Donchian
from criptoren.domain.filters import SymbolRules, check_quantity
from criptoren.domain.money import QUANTUM
from criptoren.domain.orders import Condition, Side
from criptoren.errors import InvalidInput

ZERO = Decimal(0)
HUNDRED = Decimal(100)
MIN_WINDOW = 2
MAX_WINDOW = 1000


class StrategyKind(StrEnum):
    """The channel strategies."""

    BREAKOUT = "channel-breakout"
    REVERSION = "channel-reversion"


@dataclass(frozen=True, slots=True)
class ChannelParams:
    """What a client chooses; ``exit_window`` defaults to ``window // 2`` (at least 1)."""

    kind: StrategyKind
    window: int
    exit_window: int | None = None
    stop_loss_pct: Decimal | None = None
    take_profit_pct: Decimal | None = None

    def __post_init__(self) -> None:
        if not MIN_WINDOW <= self.window <= MAX_WINDOW:
            raise InvalidInput(f"window must be between {MIN_WINDOW} and {MAX_WINDOW}")
        if self.exit_window is not None and not 1 <= self.exit_window <= MAX_WINDOW:
            raise InvalidInput(f"exit_window must be between 1 and {MAX_WINDOW}")
        if self.stop_loss_pct is not None and not ZERO < self.stop_loss_pct < HUNDRED:
            raise InvalidInput("stop_loss_pct must be above 0 and below 100")
        if self.take_profit_pct is not None and self.take_profit_pct <= ZERO:
            raise InvalidInput("take_profit_pct must be above 0")

    @property
    def resolved_exit_window(self) -> int:
        """M: the given exit window, else N // 2 rounded down, at least 1."""
        return self.exit_window if self.exit_window is not None else max(1, self.window // 2)

    @property
    def exit_window_used(self) -> int | None:
        """M where the strategy exits on it (breakout); reversion exits on ``upper_N``."""
        return self.resolved_exit_window if self.kind is StrategyKind.BREAKOUT else None


@dataclass(frozen=True, slots=True)
class Sizing:
    """How much an entry buys: a fixed base ``quantity`` or ``quote_amount`` at the fill price."""

    quantity: Decimal | None = None
    quote_amount: Decimal | None = None
    step_size: Decimal = QUANTUM
    min_qty: Decimal = ZERO
    min_notional: Decimal = ZERO

    @classmethod
    def of(
        cls,
        rules: SymbolRules | None,
        *,
        quantity: Decimal | None = None,
        quote_amount: Decimal | None = None,
    ) -> Sizing:
        """Sizing under a symbol's ``LOT_SIZE``/``NOTIONAL`` (no rules: 8-decimal steps)."""
        if (quantity is None) == (quote_amount is None):
            raise InvalidInput("give exactly one of quantity and quote_amount")
        if (quantity if quantity is not None else quote_amount or ZERO) <= ZERO:
            raise InvalidInput("quantity and quote_amount must be above 0")
        if rules is None:
            return cls(quantity, quote_amount)
        if quantity is not None:
            check_quantity(rules, quantity)
        step = rules.step_size or QUANTUM
        return cls(quantity, quote_amount, step, rules.min_qty, rules.min_notional)

    def at(self, price: Decimal) -> Decimal | None:
        """The entry quantity at fill ``price``, or ``None`` when under ``minQty``/``NOTIONAL``."""
        if self.quantity is not None:
            quantity = self.quantity
        else:
            assert self.quote_amount is not None
            # exact floor(A / price / step) * step: no rounded division on the way
            quantity = (self.quote_amount // (price * self.step_size)) * self.step_size
        if quantity <= ZERO or quantity < self.min_qty or quantity * price < self.min_notional:
            return None
        return quantity


class WantedOrder(NamedTuple):
    """One positioned order a strategy wants waiting until the next close.

    ``quantity`` is ``None`` for an entry sized by ``quote_amount``: the runner asks
    :meth:`Strategy.entry_quantity` with the price it fills at.
    """

    side: Side
    price: Decimal
    condition: Condition
    quantity: Decimal | None


@dataclass(frozen=True, slots=True)
class Holding:
    """The strategy's open position and its protective levels."""

    entry_time_ms: int
    entry_price: Decimal
    quantity: Decimal
    stop_price: Decimal | None
    take_price: Decimal | None


class Strategy(Protocol):
    """Reacts to closed candles with the positioned orders it wants waiting until the next."""

    @property
    def position(self) -> Holding | None:
        """The open position, if any."""

    def on_close(self, candle: Candle) -> tuple[WantedOrder, ...]:
        """Take candle t; the orders replacing the waiting ones, able to fire from t+1."""

    def wanted(self) -> tuple[WantedOrder, ...]:
        """The orders for the last close and the current position (after a late fill)."""

    def entry_quantity(self, price: Decimal) -> Decimal | None:
        """The quantity an entry filled at ``price`` buys (``None``: skip the entry)."""

    def on_fill(self, side: Side, price: Decimal, quantity: Decimal, time_ms: int) -> None:
        """One of its orders filled."""


class ChannelStrategy:
    """``channel-breakout`` and ``channel-reversion`` (see the module and README).

    Flat: one buy (breakout: ``gte`` at ``upper_N``; reversion: ``lte`` at ``lower_N``).
    Long: sells of the whole position, at most one per condition, the first to fire
    cancelling the other. Breakout exits ``lte`` at ``lower_M``, reversion ``gte`` at
    ``upper_N``; a stop-loss (``lte``) or take-profit (``gte``) level on the entry price
    merges with the channel exit of the same condition, keeping the nearer level.
    """

    __slots__ = (
        "_bands",
        "_breakout",
        "_closed",
        "_entry_condition",
        "_level",
        "_level_holding",
        "_orders",
        "_position",
        "params",
        "sizing",
    )

    def __init__(self, params: ChannelParams, sizing: Sizing) -> None:
        self.params = params
        self.sizing = sizing
        self._breakout = params.kind is StrategyKind.BREAKOUT
        # breakout enters at upper_N (highs) and exits at lower_M (lows); reversion enters
        # at lower_N (lows) and exits at upper_N (highs)
        low_window = params.resolved_exit_window if self._breakout else params.window
        self._bands = Donchian(params.window, low_window)
        self._entry_condition = Condition.GTE if self._breakout else Condition.LTE
        self._position: Holding | None = None
        self._level: Decimal | None = None
        self._level_holding: Holding | None = None
        self._closed: tuple[Decimal, Decimal] | None = None
        self._orders: tuple[WantedOrder, ...] = ()

    @property
    def position(self) -> Holding | None:
        """The open position, if any."""
        return self._position

    def on_close(self, candle: Candle) -> tuple[WantedOrder, ...]:
        """Take candle t; the orders to keep waiting from t+1 (none until the bands exist)."""
        bands = self._bands.push(candle)
        if bands is None:
            return ()
        self._closed = bands
        return self.wanted()

    def wanted(self) -> tuple[WantedOrder, ...]:
        """The orders for the last close and the current position (a live runner asks again
        when a fill reached it only after the close)."""
        if self._closed is None:
            return ()
        upper, lower = self._closed
        entry, exit_ = (upper, lower) if self._breakout else (lower, upper)
        held = self._position
        level = entry if held is None else exit_
        # the rolling extremes hand back the same object while the band stands still, so
        # the orders are rebuilt only when the band or the position changed
        if level is not self._level or held is not self._level_holding:
            self._level, self._level_holding = level, held
            if held is None:
                order = WantedOrder(Side.BUY, level, self._entry_condition, self.sizing.quantity)
                self._orders = (order,)
            else:
                self._orders = self._exits(held, level)
        return self._orders

    def _exits(self, held: Holding, channel: Decimal) -> tuple[WantedOrder, ...]:
        lte, gte = (channel, None) if self._breakout else (None, channel)
        if held.stop_price is not None:
            lte = held.stop_price if lte is None else max(lte, held.stop_price)
        if held.take_price is not None:
            gte = held.take_price if gte is None else min(gte, held.take_price)
        orders = []
        if lte is not None:
            orders.append(WantedOrder(Side.SELL, lte, Condition.LTE, held.quantity))
        if gte is not None:
            orders.append(WantedOrder(Side.SELL, gte, Condition.GTE, held.quantity))
        return tuple(orders)

    def entry_quantity(self, price: Decimal) -> Decimal | None:
        """The quantity an entry filled at ``price`` buys (``None``: skip the entry)."""
        return self.sizing.at(price)

    def on_fill(self, side: Side, price: Decimal, quantity: Decimal, time_ms: int) -> None:
        """A buy opens the position (with its stop/take levels); a sell closes it."""
        if side is Side.SELL:
            self._position = None
            return
        stop = self.params.stop_loss_pct
        take = self.params.take_profit_pct
        self._position = Holding(
            time_ms,
            price,
            quantity,
            None if stop is None else price * (HUNDRED - stop) / HUNDRED,
            None if take is None else price * (HUNDRED + take) / HUNDRED,
        )
