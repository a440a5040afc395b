"""The fake exchange's matching engine: accounts, MARKET orders at the last price, trades."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from criptoren.fake_exchange.errors import BinanceError, illegal, mandatory
from criptoren.fake_exchange.faults import FaultQueue, OrderRequest
from criptoren.fake_exchange.filters import check_market, qty_for_quote
from criptoren.fake_exchange.market import Market
from criptoren.fake_exchange.orders import Q8, Account, Fill, Order

# "quote": every fill pays in the quote asset; "base": BUYs pay in the base asset (what they
# receive); any other name (e.g. "BNB"): a fixed ``fee_per_fill`` of that asset
CommissionAsset = str
CLIENT_ID_RE = re.compile(r"^[a-zA-Z0-9\-_]{1,36}$")
NUMBER_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
RESP_TYPES = ("ACK", "RESULT", "FULL")
NOT_FOR_MARKET = ("price", "timeInForce", "stopPrice", "icebergQty")
INSUFFICIENT = "Account has insufficient balance for requested action."


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """A validated ``POST /api/v3/order`` request."""

    symbol: str
    info: dict[str, Any]
    side: str
    qty: Decimal | None
    quote: Decimal | None
    client_id: str
    resp_type: str


def decimal_param(params: Mapping[str, str], name: str) -> Decimal | None:
    """A positive-looking decimal parameter, or None when absent."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not NUMBER_RE.match(raw):
        raise illegal(name)
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise illegal(name) from None
    if value != value.quantize(Q8):
        raise BinanceError(-1111, f"Parameter '{name}' has too much precision.")
    return value


class Trading:
    """Accounts and MARKET orders filled whole at the symbol's last emitted price."""

    def __init__(
        self,
        market: Market,
        symbol_info: Callable[[str], dict[str, Any] | None],
        commission_rate: Decimal = Decimal("0.001"),
        commission_asset: CommissionAsset = "quote",
    ) -> None:
        self.market = market
        self.symbol_info = symbol_info
        self.commission_rate = commission_rate
        self.commission_asset: CommissionAsset = commission_asset
        self.fee_per_fill = Decimal("0.0001")
        # symbol -> (price, quantity) levels a MARKET order walks (the last takes the rest);
        # without levels an order fills whole at the last trade price
        self.depth: dict[str, list[tuple[Decimal, Decimal]]] = {}
        self.expire_next = 0  # the next orders find no liquidity: EXPIRED, nothing executed
        self.clock_skew_ms = 0
        self.accounts: dict[str, Account] = {}
        self.faults = FaultQueue()
        self.requests: list[OrderRequest] = []
        self._order_ids = itertools.count(1)
        self._trade_ids: dict[str, int] = {}

    def now_ms(self) -> int:
        """The exchange's clock as signed requests see it (``clock_skew_ms`` ahead of ours)."""
        return self.market.now_ms() + self.clock_skew_ms

    # --- accounts and records ---------------------------------------------------------

    def add_account(
        self, api_key: str, secret: str, balances: Mapping[str, Decimal] | None = None
    ) -> Account:
        """Register an API key (replacing any account of that key)."""
        account = Account(api_key, secret, {k: Decimal(v) for k, v in (balances or {}).items()})
        self.accounts[api_key] = account
        return account

    def account(self, api_key: str | None) -> Account:
        """The account of ``api_key``; ``-2014``/``-2015`` (HTTP 401) otherwise."""
        if not api_key:
            raise BinanceError(-2014, "API-key format invalid.", 401)
        account = self.accounts.get(api_key)
        if account is None:
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        return account

    def record(
        self, method: str, path: str, params: dict[str, str], api_key: str | None
    ) -> OrderRequest:
        """Note a request to a trading endpoint as it arrives."""
        entry = OrderRequest(len(self.requests) + 1, method, path, params, api_key)
        self.requests.append(entry)
        self.market.notify()
        return entry

    # --- orders -----------------------------------------------------------------------

    def place(self, account: Account, params: Mapping[str, str], *, test: bool = False) -> Any:
        """``POST /api/v3/order`` (or ``/order/test``: validate only, answer ``{}``)."""
        spec = self._parse(params)
        price = self._price(spec.symbol)
        qty = spec.qty if spec.qty is not None else self._quote_qty(spec, price)
        check_market(spec.info, qty, price)
        if spec.client_id in account.client_ids:
            raise BinanceError(-2010, "Duplicate order sent.")
        order = self._order(spec, qty, price)
        moves = self._moves(spec, order)
        for asset, delta in moves.items():
            if account.balance(asset) + delta < 0:
                raise BinanceError(-2010, INSUFFICIENT)
        if test:
            return {}
        if self.expire_next > 0:
            self.expire_next -= 1
            order.status, order.fills, order.quote_qty = "EXPIRED", [], Decimal(0)
            self._commit(account, order)
            return order.reply(spec.resp_type)
        for asset, delta in moves.items():
            account.balances[asset] = account.balance(asset) + delta
        self._commit(account, order)
        return order.reply(spec.resp_type)

    def _commit(self, account: Account, order: Order) -> None:
        order.order_id = next(self._order_ids)
        for fill in order.fills:
            fill.trade_id = self._trade_ids[order.symbol] = self._trade_ids.get(order.symbol, 0) + 1
        account.record(order)

    def _parse(self, params: Mapping[str, str]) -> OrderSpec:
        symbol, info = self._symbol(params)
        side = params.get("side") or ""
        if side not in ("BUY", "SELL"):
            raise mandatory("side") if not side else BinanceError(-1117, "Invalid side.")
        kind = params.get("type") or ""
        if kind != "MARKET":  # the fake trades MARKET orders only
            raise mandatory("type") if not kind else BinanceError(-1116, "Invalid orderType.")
        for name in NOT_FOR_MARKET:
            if params.get(name):
                raise BinanceError(-1106, f"Parameter '{name}' sent when not required.")
        qty, quote = decimal_param(params, "quantity"), decimal_param(params, "quoteOrderQty")
        if qty is None and quote is None:
            msg = "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
            raise BinanceError(-1102, msg)
        if qty is not None and quote is not None:
            raise BinanceError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
        return OrderSpec(symbol, info, side, qty, quote, *self._client_options(params))

    def _client_options(self, params: Mapping[str, str]) -> tuple[str, str]:
        client_id = params.get("newClientOrderId") or uuid.uuid4().hex[:22]
        if not CLIENT_ID_RE.match(client_id):
            raise illegal("newClientOrderId")
        resp_type = params.get("newOrderRespType") or "FULL"
        if resp_type not in RESP_TYPES:
            raise illegal("newOrderRespType")
        return client_id, resp_type

    def _symbol(self, params: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
        symbol = params.get("symbol") or ""
        if not symbol:
            raise mandatory("symbol")
        info = self.symbol_info(symbol)
        if info is None:
            raise BinanceError(-1121, "Invalid symbol.")
        return symbol, info

    def _price(self, symbol: str) -> Decimal:
        info = self.symbol_info(symbol) or {}
        tape = self.market.tapes.get(symbol)
        if info.get("status", "TRADING") != "TRADING" or tape is None or tape.last is None:
            raise BinanceError(-2010, "Market is closed.")
        return Decimal(tape.last.p)

    def _quote_qty(self, spec: OrderSpec, price: Decimal) -> Decimal:
        assert spec.quote is not None
        return qty_for_quote(spec.info, spec.quote, price)

    def _order(self, spec: OrderSpec, qty: Decimal, price: Decimal) -> Order:
        order = Order(
            spec.symbol, 0, spec.client_id, spec.side, qty, Decimal(0),
            self.now_ms(), spec.quote or Decimal(0),
        )  # fmt: skip
        for level_price, level_qty in self._levels(spec.symbol, qty, price):
            order.fills.append(self._fill(spec, level_price, level_qty))  # ids set on commit
        quote_qty = sum((f.price * f.qty for f in order.fills), Decimal(0))
        order.quote_qty = quote_qty.quantize(Q8, ROUND_DOWN)
        return order

    def _levels(self, symbol: str, qty: Decimal, price: Decimal) -> list[tuple[Decimal, Decimal]]:
        """The (price, quantity) slices a MARKET order of ``qty`` fills at."""
        levels = self.depth.get(symbol) or [(price, qty)]
        slices, left = [], qty
        for index, (level_price, available) in enumerate(levels):
            take = left if index == len(levels) - 1 else min(left, available)
            if take > 0:
                slices.append((level_price, take))
            left -= take
        return slices

    def _fill(self, spec: OrderSpec, price: Decimal, qty: Decimal) -> Fill:
        base, quote = spec.info["baseAsset"], spec.info["quoteAsset"]
        asset = {"quote": quote, "base": base if spec.side == "BUY" else quote}.get(
            self.commission_asset, self.commission_asset
        )
        if asset == base:
            commission = qty * self.commission_rate
        elif asset == quote:
            commission = (qty * price).quantize(Q8, ROUND_DOWN) * self.commission_rate
        else:
            commission = self.fee_per_fill
        return Fill(0, price, qty, commission.quantize(Q8, ROUND_HALF_UP), asset)

    def _moves(self, spec: OrderSpec, order: Order) -> dict[str, Decimal]:
        """Balance changes per asset (negative: paid) of executing ``order``."""
        base, quote = spec.info["baseAsset"], spec.info["quoteAsset"]
        moves = {base: Decimal(0), quote: Decimal(0)}
        sign = 1 if order.side == "BUY" else -1
        moves[base] += sign * order.qty
        moves[quote] -= sign * order.quote_qty
        for fill in order.fills:
            moves[fill.commission_asset] = moves.get(fill.commission_asset, 0) - fill.commission
        return moves

    # --- queries ----------------------------------------------------------------------

    def query(self, account: Account, params: Mapping[str, str]) -> dict[str, Any]:
        """``GET /api/v3/order`` by ``orderId`` or ``origClientOrderId``."""
        symbol, _ = self._symbol(params)
        raw_id, client_id = params.get("orderId"), params.get("origClientOrderId")
        if not raw_id and not client_id:
            msg = "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            raise BinanceError(-1102, msg)
        if raw_id and not raw_id.isdigit():
            raise illegal("orderId")
        order = account.find(symbol, int(raw_id) if raw_id else None, client_id)
        if order is None:
            raise BinanceError(-2013, "Order does not exist.")
        return order.query()

    def my_trades(self, account: Account, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET /api/v3/myTrades`` of one symbol (optionally one ``orderId``)."""
        symbol, _ = self._symbol(params)
        raw_id = params.get("orderId")
        if raw_id and not raw_id.isdigit():
            raise illegal("orderId")
        raw_limit = params.get("limit") or "500"
        if not raw_limit.isdigit():
            raise illegal("limit")
        limit = int(raw_limit)
        trades = [
            trade
            for order in account.orders.values()
            if order.symbol == symbol and (not raw_id or order.order_id == int(raw_id))
            for trade in order.trades()
        ]
        return sorted(trades, key=lambda t: int(t["id"]))[: max(1, min(limit, 1000))]
