"""``LiveBroker``: fired orders become signed Binance ``MARKET`` orders, never sent twice."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import Any

from criptoren.binance import errors as bx
from criptoren.binance.signed import BinanceSignedRest
from criptoren.config import Mode
from criptoren.domain.filters import SymbolRules, round_down_to_step
from criptoren.domain.money import QUANTUM, plain
from criptoren.engine.broker import ExecutionRequest, Fill
from criptoren.errors import OrderRejected, OutcomeUnknown

log = logging.getLogger(__name__)

ZERO = Decimal(0)
WORKING = frozenset({"NEW", "PENDING_NEW", "PARTIALLY_FILLED"})
# Binance accepts timestamps up to 1 s ahead of its clock: add it to recvWindow.
FUTURE_TOLERANCE_MS = 1000
PRUNE_ABOVE = 1024


def common_step(first: Decimal, second: Decimal) -> Decimal:
    """The smallest step that is a multiple of both (a zero step imposes nothing)."""
    if first == 0 or second == 0:
        return first or second
    places = max(-_exponent(first), -_exponent(second), 0)
    scale = Decimal(10) ** places
    return Decimal(math.lcm(int(first * scale), int(second * scale))) / scale


def _exponent(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


def market_quantity(request: ExecutionRequest) -> Decimal:
    """The quantity to send: rounded DOWN to LOT_SIZE and MARKET_LOT_SIZE, then checked."""
    rules = request.rules
    if not rules.is_trading:
        raise OrderRejected(f"{rules.symbol} is not trading now (status {rules.status})")
    step = common_step(rules.step_size, rules.market_step_size)
    quantity = round_down_to_step(request.quantity, step)
    if quantity <= 0:
        raise OrderRejected(
            f"quantity {plain(request.quantity)} rounds down to 0 at step {plain(step)}"
        )
    _check_bounds(rules, quantity)
    notional = quantity * request.trigger_price
    if rules.min_notional and notional < rules.min_notional:
        raise OrderRejected(
            f"order value {plain(notional)} {rules.quote_asset} (quantity "
            f"{plain(quantity)} at {plain(request.trigger_price)}) is below the "
            f"minimum notional {plain(rules.min_notional)}"
        )
    return quantity


def _check_bounds(rules: SymbolRules, quantity: Decimal) -> None:
    minimum = max(rules.min_qty, rules.market_min_qty)
    if minimum and quantity < minimum:
        raise OrderRejected(f"quantity {plain(quantity)} is below the minimum {plain(minimum)}")
    for maximum in (rules.max_qty, rules.market_max_qty):
        if maximum and quantity > maximum:
            raise OrderRejected(f"quantity {plain(quantity)} is above the maximum {plain(maximum)}")


def _dec(item: Mapping[str, Any], key: str) -> Decimal:
    try:
        return Decimal(str(item[key]))
    except (KeyError, InvalidOperation):
        raise OutcomeUnknown(f"Binance reply lacks a valid {key!r}") from None


def average_price(fills: Iterable[Mapping[str, Any]]) -> Decimal:
    """Σ price × qty / Σ qty, to 8 places."""
    with localcontext() as ctx:
        ctx.prec = 40
        pairs = [(_dec(f, "price"), _dec(f, "qty")) for f in fills]
        quantity = sum((q for _, q in pairs), ZERO)
        if quantity == 0:
            raise OutcomeUnknown("fills carry no quantity")
        value = sum((p * q for p, q in pairs), ZERO)
        return (value / quantity).quantize(QUANTUM, rounding=ROUND_HALF_EVEN)


def quote_average(order: Mapping[str, Any], executed: Decimal) -> Decimal:
    """``cummulativeQuoteQty`` / ``executedQty``, to 8 places."""
    with localcontext() as ctx:
        ctx.prec = 40
        value = _dec(order, "cummulativeQuoteQty") / executed
        return value.quantize(QUANTUM, rounding=ROUND_HALF_EVEN)


def total_commission(fills: Iterable[Mapping[str, Any]], rules: SymbolRules) -> tuple[Decimal, str]:
    """The commission and its asset (see the comment below when several assets were charged)."""
    # Binance charges BNB when enabled, else the asset received (BUY: base, SELL: quote). If BNB
    # runs out mid-order the fills mix assets: the base asset wins (it changes the quantity
    # held), then the quote asset (it changes the cost); the rest is logged, not booked.
    by_asset: dict[str, Decimal] = {}
    for fill in fills:
        asset = str(fill.get("commissionAsset") or rules.quote_asset)
        by_asset[asset] = by_asset.get(asset, ZERO) + _dec(fill, "commission")
    charged = {asset: fee for asset, fee in by_asset.items() if fee != 0}
    if not charged:
        return ZERO, next(iter(by_asset), rules.quote_asset)
    if len(charged) == 1:
        ((asset, fee),) = charged.items()
        return fee, asset
    chosen = next(
        (a for a in (rules.base_asset, rules.quote_asset) if a in charged), next(iter(charged))
    )
    dropped = {a: str(f) for a, f in charged.items() if a != chosen}
    log.warning(
        "commission in several assets on %s: booking %s %s, not booking %s",
        rules.symbol,
        charged[chosen],
        chosen,
        dropped,
    )
    return charged[chosen], chosen


class LiveBroker:
    """Executes fired orders as signed Binance ``MARKET`` orders; outcomes may be unknown."""

    mode = Mode.LIVE
    atomic = False

    def __init__(
        self,
        client: BinanceSignedRest,
        *,
        clock: Callable[[], float] = time.monotonic,
        clock_margin_ms: int = 1000,
    ) -> None:
        self.client = client
        self.clock = clock
        self.clock_margin_ms = clock_margin_ms
        self._born = clock()
        self._sent_before: dict[str, float] = {}
        self._in_flight: set[str] = set()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client={self.client!r})"

    @property
    def settle_seconds(self) -> float:
        """After this long from its signing, an order can no longer be accepted by Binance."""
        return (self.client.recv_window_ms + FUTURE_TOLERANCE_MS + self.clock_margin_ms) / 1000

    async def execute(self, request: ExecutionRequest) -> Fill:
        """Send one MARKET order and report its fill (``OrderRejected``/``OutcomeUnknown``)."""
        quantity = market_quantity(request)
        reply = await self._place(request, quantity)
        return await self._fill(request, reply, reply.get("fills") or None)

    async def lookup(self, request: ExecutionRequest) -> Fill | None:
        """What became of ``request`` at Binance; ``None`` if it can no longer arrive there."""
        try:
            order = await self.client.get_order(request.rules.symbol, request.client_order_id)
        except bx.UnknownOrder:
            self._check_settled(request)
            return None
        except bx.BinanceError as exc:
            raise OutcomeUnknown(f"{request.client_order_id}: {exc.message}") from None
        return await self._fill(request, order, None)

    def _check_settled(self, request: ExecutionRequest) -> None:
        """``-2013`` is final only once the order's recvWindow has certainly passed."""
        if request.client_order_id in self._in_flight:
            raise OutcomeUnknown(f"{request.client_order_id} is being sent right now")
        signed_before = self._sent_before.get(request.client_order_id, self._born)
        wait = self.settle_seconds - (self.clock() - signed_before)
        if wait > 0:
            raise OutcomeUnknown(
                f"{request.client_order_id} is unknown to Binance but may still arrive; "
                f"ask again in {wait:.3f} s"
            )

    async def _place(self, request: ExecutionRequest, quantity: Decimal) -> dict[str, Any]:
        """Send the order; after a 429/418 or one -1021 (refused, not executed) send it again."""
        timestamp_retried = False
        while True:
            await self.client.http.gate.wait()
            try:
                return await self._send(request, quantity)
            except bx.RateLimited as exc:
                log.warning(
                    "%s refused (%s); resending after the wait", request.client_order_id, exc.msg
                )
            except bx.InvalidTimestamp as exc:
                if timestamp_retried:
                    raise OrderRejected(f"Binance refused the timestamp: {exc.msg}") from None
                timestamp_retried = True
            except bx.BinanceError as exc:
                raise _broker_error(request, exc) from None

    async def _send(self, request: ExecutionRequest, quantity: Decimal) -> dict[str, Any]:
        self._in_flight.add(request.client_order_id)
        try:
            return await self.client.new_order(
                request.rules.symbol,
                request.side.value.upper(),
                "MARKET",
                quantity,
                request.client_order_id,
                resp_type="FULL",
            )
        finally:
            self._in_flight.discard(request.client_order_id)
            self._remember(request.client_order_id)

    def _remember(self, client_order_id: str) -> None:
        """Note that the order was signed before now (an upper bound, for ``lookup``)."""
        now = self.clock()
        if len(self._sent_before) > PRUNE_ABOVE:
            # a settled entry is no younger than ``_born``'s fallback would say: drop it
            horizon = now - self.settle_seconds
            self._sent_before = {k: t for k, t in self._sent_before.items() if t > horizon}
        self._sent_before[client_order_id] = now

    async def _fill(
        self,
        request: ExecutionRequest,
        order: Mapping[str, Any],
        fills: list[dict[str, Any]] | None,
    ) -> Fill:
        """A ``Fill`` from an order (its FULL ``fills``, else its trades from ``myTrades``)."""
        executed = _executed(request, order)
        order_id = order.get("orderId")
        if fills:
            price = average_price(fills)
        else:
            price = quote_average(order, executed)
            fills = await self._trades(request, order_id)
        fee, fee_asset = total_commission(fills, request.rules)
        return Fill(price, executed, fee, fee_asset, str(order_id), Mode.LIVE)

    async def _trades(self, request: ExecutionRequest, order_id: Any) -> list[dict[str, Any]]:
        try:
            trades = await self.client.my_trades(request.rules.symbol, str(order_id))
        except bx.BinanceError as exc:
            raise OutcomeUnknown(f"{request.client_order_id}: no trades: {exc.message}") from None
        if not trades:
            raise OutcomeUnknown(f"{request.client_order_id}: executed, trades not visible yet")
        return trades


def _executed(request: ExecutionRequest, order: Mapping[str, Any]) -> Decimal:
    """The executed quantity of a final order; raise when it is still working or did nothing."""
    status = str(order.get("status", ""))
    if status in WORKING:
        raise OutcomeUnknown(f"{request.client_order_id} is still {status} at Binance")
    executed = _dec(order, "executedQty")
    if executed == 0:
        raise OrderRejected(f"Binance order {status or 'ended'} without any execution")
    if status != "FILLED":
        log.warning("%s %s after a partial fill of %s", request.client_order_id, status, executed)
    return executed


def _broker_error(request: ExecutionRequest, exc: bx.BinanceError) -> Exception:
    """The broker-level meaning of a refused or failed ``POST /order``."""
    coid = request.client_order_id
    if isinstance(exc, bx.TemporaryError):
        return OutcomeUnknown(f"{coid}: {exc.message}")
    if "duplicate" in exc.msg.lower():
        # the client order id is live at Binance: it exists, so look it up, never fail it
        return OutcomeUnknown(f"{coid}: {exc.msg}")
    if isinstance(exc, bx.AuthenticationFailed):
        return OrderRejected(f"Binance refused our credentials ({exc.binance_code}): {exc.msg}")
    if isinstance(exc, bx.OrderRejectedByExchange) or 400 <= exc.status < 500:
        return OrderRejected(f"{exc.msg} (Binance {exc.binance_code})")
    return OutcomeUnknown(f"{coid}: {exc.message}")
