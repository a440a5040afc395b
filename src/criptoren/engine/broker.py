"""The ``Broker`` port and its paper adapter."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Protocol, runtime_checkable

from criptoren.config import Mode
from criptoren.db.ledger import ClaimedOrder
from criptoren.domain.filters import SymbolRules
from criptoren.domain.money import QUANTUM
from criptoren.domain.orders import Side
from criptoren.errors import OrderRejected as OrderRejected
from criptoren.errors import OutcomeUnknown as OutcomeUnknown

BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class ExecutionRequest:
    """A fired order, ready to be filled."""

    order_id: int
    client_order_id: str
    rules: SymbolRules
    side: Side
    quantity: Decimal
    trigger_price: Decimal
    trigger_time_ms: int


@dataclass(frozen=True, slots=True)
class Fill:
    """What the venue did: price, quantity, fee and its asset."""

    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    exchange_order_id: str | None
    mode: Mode


class Broker(Protocol):
    """Executes fired orders on a venue (paper, or Binance)."""

    mode: Mode
    # True when execute() never leaves an outcome unknown (it can run inside the claim's
    # transaction); False when the claim must be committed before execute() is called.
    atomic: bool

    async def execute(self, request: ExecutionRequest) -> Fill:
        """Fill ``request`` or raise ``OrderRejected`` (or ``OutcomeUnknown``)."""
        ...

    async def lookup(self, request: ExecutionRequest) -> Fill | None:
        """The venue's word on an earlier ``execute``: its fill, ``None`` if it never arrived."""
        ...


@runtime_checkable
class AtomicBroker(Protocol):
    """A broker that fills without I/O, so the fill can happen inside the claiming transaction."""

    def fill(self, request: ExecutionRequest) -> Fill:
        """Fill ``request`` now, or raise ``OrderRejected``."""
        ...


def paper_fill_price(side: Side, trigger_price: Decimal, slippage_bps: Decimal) -> Decimal:
    """The trigger price moved against the client by the slippage."""
    factor = (BPS + slippage_bps) / BPS if side is Side.BUY else (BPS - slippage_bps) / BPS
    return (trigger_price * factor).quantize(QUANTUM, rounding=ROUND_HALF_EVEN)


def paper_fee(price: Decimal, quantity: Decimal, rate: Decimal) -> Decimal:
    """Rate × notional, in the quote asset, to 8 places."""
    return (price * quantity * rate).quantize(QUANTUM, rounding=ROUND_HALF_EVEN)


class PaperBroker:
    """Fills at once and whole at the triggering trade's price (plus slippage); no I/O."""

    mode = Mode.PAPER
    atomic = True

    def __init__(self, fee_rate: Decimal, slippage_bps: Decimal) -> None:
        self.fee_rate = fee_rate
        self.slippage_bps = slippage_bps

    async def execute(self, request: ExecutionRequest) -> Fill:
        """A simulated fill."""
        return self.fill(request)

    def fill(self, request: ExecutionRequest) -> Fill:
        """The same fill, synchronously (it needs no I/O)."""
        price = paper_fill_price(request.side, request.trigger_price, self.slippage_bps)
        return Fill(
            price=price,
            quantity=request.quantity,
            fee=paper_fee(price, request.quantity, self.fee_rate),
            fee_asset=request.rules.quote_asset,
            exchange_order_id=None,
            mode=Mode.PAPER,
        )

    async def lookup(self, request: ExecutionRequest) -> Fill | None:
        """Paper fills are atomic with their trade row: nothing is ever left pending."""
        return None


def execution_request(
    order: ClaimedOrder, rules: SymbolRules, price: Decimal, time_ms: int
) -> ExecutionRequest:
    """What the broker needs to fill a claimed order."""
    return ExecutionRequest(
        order_id=order.id,
        client_order_id=order.client_order_id or str(order.id),
        rules=rules,
        side=order.type,
        quantity=order.quantity,
        trigger_price=price,
        trigger_time_ms=time_ms,
    )
