"""Accounts, executed orders and their trades, in the JSON shapes of Binance's replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

Q8 = Decimal("0.00000001")


def fmt8(value: Decimal) -> str:
    """A decimal as Binance writes money: a string with 8 decimals."""
    return f"{value.quantize(Q8):f}"


@dataclass(slots=True)
class Fill:
    """One trade of an order (the fake fills a MARKET order whole, in one trade)."""

    trade_id: int
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str

    def full(self) -> dict[str, Any]:
        """The ``fills[]`` item of a FULL order reply."""
        return {
            "price": fmt8(self.price),
            "qty": fmt8(self.qty),
            "commission": fmt8(self.commission),
            "commissionAsset": self.commission_asset,
            "tradeId": self.trade_id,
        }


@dataclass(slots=True)
class Order:
    """A MARKET order: FILLED whole, or EXPIRED without any execution."""

    symbol: str
    order_id: int
    client_order_id: str
    side: str
    qty: Decimal
    quote_qty: Decimal
    time_ms: int
    orig_quote_qty: Decimal = Decimal(0)
    fills: list[Fill] = field(default_factory=list)
    status: str = "FILLED"  # or "EXPIRED": no liquidity, nothing executed

    def _common(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
        }

    def reply(self, resp_type: str = "FULL") -> dict[str, Any]:
        """The ``POST /api/v3/order`` reply (``ACK``, ``RESULT`` or ``FULL``)."""
        body = self._common() | {"transactTime": self.time_ms}
        if resp_type == "ACK":
            return body
        body |= self._amounts()
        if resp_type == "FULL":
            body["fills"] = [f.full() for f in self.fills]
        return body

    def _amounts(self) -> dict[str, Any]:
        return {
            "price": fmt8(Decimal(0)),
            "origQty": fmt8(self.qty),
            "executedQty": fmt8(self.qty if self.status == "FILLED" else Decimal(0)),
            "cummulativeQuoteQty": fmt8(self.quote_qty),
            "status": self.status,
            "timeInForce": "GTC",
            "type": "MARKET",
            "side": self.side,
        }

    def query(self) -> dict[str, Any]:
        """The ``GET /api/v3/order`` reply."""
        return (
            self._common()
            | self._amounts()
            | {
                "stopPrice": fmt8(Decimal(0)),
                "icebergQty": fmt8(Decimal(0)),
                "time": self.time_ms,
                "updateTime": self.time_ms,
                "isWorking": True,
                "workingTime": self.time_ms,
                "origQuoteOrderQty": fmt8(self.orig_quote_qty),
                "selfTradePreventionMode": "NONE",
            }
        )

    def trades(self) -> list[dict[str, Any]]:
        """The ``GET /api/v3/myTrades`` items of this order."""
        return [
            {
                "symbol": self.symbol,
                "id": f.trade_id,
                "orderId": self.order_id,
                "orderListId": -1,
                "price": fmt8(f.price),
                "qty": fmt8(f.qty),
                "quoteQty": fmt8(f.price * f.qty),
                "commission": fmt8(f.commission),
                "commissionAsset": f.commission_asset,
                "time": self.time_ms,
                "isBuyer": self.side == "BUY",
                "isMaker": False,
                "isBestMatch": True,
            }
            for f in self.fills
        ]


@dataclass(slots=True)
class Account:
    """One API key: its secret, balances and order history."""

    api_key: str
    secret: str
    balances: dict[str, Decimal] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    by_client_id: dict[str, int] = field(default_factory=dict)
    client_ids: set[str] = field(default_factory=set)

    def balance(self, asset: str) -> Decimal:
        """The free balance of ``asset`` (0 when never funded)."""
        return self.balances.get(asset, Decimal(0))

    def find(self, symbol: str, order_id: int | None, client_id: str | None) -> Order | None:
        """An order of ``symbol`` by exchange id or client id."""
        if order_id is None and client_id is not None:
            order_id = self.by_client_id.get(client_id)
        order = self.orders.get(order_id) if order_id is not None else None
        return order if order is not None and order.symbol == symbol else None

    def record(self, order: Order) -> None:
        """Keep an executed order (its client id is never accepted again)."""
        self.orders[order.order_id] = order
        self.by_client_id[order.client_order_id] = order.order_id
        self.client_ids.add(order.client_order_id)

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        """The ``GET /api/v3/account`` reply."""
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": now_ms,
            "accountType": "SPOT",
            "balances": [
                {"asset": asset, "free": fmt8(amount), "locked": fmt8(Decimal(0))}
                for asset, amount in sorted(self.balances.items())
            ],
            "permissions": ["SPOT"],
        }
