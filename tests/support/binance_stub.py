"""A tiny signed-trading Binance stub on loopback (uvicorn + Starlette requests/responses).

It checks the API key, the HMAC signature (recomputed with the known secret, ``-1022``) and
the timestamp against ``recvWindow`` (``-1021``) the way Binance does, fills MARKET orders
against scripted price levels, and can be told to answer the next request of an endpoint
with a status (429 + ``Retry-After``, 418, 5XX, ``-2010``), to hang (the client times out)
or to drop the connection mid-reply, optionally after executing the order.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import socket
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any
from urllib.parse import parse_qsl

import orjson
import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

Q8 = Decimal("0.00000001")
WEIGHTS = {"/api/v3/order": 1, "/api/v3/myTrades": 20, "/api/v3/account": 20}


class StubError(Exception):
    """A Binance error reply."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


@dataclass
class Fault:
    """What to do with the next request of one endpoint instead of answering normally."""

    kind: str  # "status" | "timeout" | "drop"
    status: int = 500
    body: Any = None
    retry_after: float | None = None
    execute: bool = False  # for timeout/drop: process the request first, then lose the reply


@dataclass
class Arrival:
    """One request as the stub saw it."""

    at: float  # time.monotonic() on arrival
    method: str
    path: str
    params: dict[str, str]
    api_key: str | None


@dataclass
class Venue:
    """Scripted market and account state."""

    levels: dict[str, list[tuple[Decimal, Decimal]]] = field(default_factory=dict)
    assets: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {"BTCUSDT": ("BTC", "USDT"), "ETHBTC": ("ETH", "BTC")}
    )
    commission_rate: Decimal = Decimal("0.001")
    commission_asset: str | None = None  # None: the asset received (BUY: base, SELL: quote)
    bnb_per_fill: Decimal = Decimal("0.00010000")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _q8(value: Decimal) -> str:
    return str(value.quantize(Q8, rounding=ROUND_DOWN))


class BinanceStub:
    """Signed REST endpoints of Binance spot, scripted for tests."""

    def __init__(self, api_key: str, api_secret: str, *, skew_ms: int = 0) -> None:
        self.api_key, self.api_secret = api_key, api_secret
        self.skew_ms = skew_ms
        self.venue = Venue()
        self.arrivals: list[Arrival] = []
        self.orders: dict[str, dict[str, Any]] = {}
        self.trades: dict[int, list[dict[str, Any]]] = {}
        self.faults: dict[tuple[str, str], deque[Fault]] = defaultdict(deque)
        self.used_weight = 0
        self._ids = itertools.count(1000)
        self._release = asyncio.Event()
        self._arrived = asyncio.Event()
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    @property
    def rest_url(self) -> str:
        """``http://127.0.0.1:port``."""
        return f"http://127.0.0.1:{self.port}"

    def now_ms(self) -> int:
        """The stub's clock (local time plus the configured skew)."""
        return round(time.time() * 1000) + self.skew_ms

    def fail_next(self, method: str, path: str, fault: Fault) -> None:
        """Apply ``fault`` to the next ``method path`` request."""
        self.faults[(method, path)].append(fault)

    def seen(self, method: str, path: str) -> list[Arrival]:
        """The requests that reached ``method path``."""
        return [a for a in self.arrivals if a.method == method and a.path == path]

    async def wait_seen(self, method: str, path: str, count: int = 1) -> None:
        """Return once ``count`` requests reached ``method path``."""
        while len(self.seen(method, path)) < count:
            self._arrived.clear()
            await self._arrived.wait()

    # --- server ------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on a free loopback port."""
        # IPPROTO_TCP so asyncio sets TCP_NODELAY; listening before uvicorn starts means a
        # client can connect at once (the backlog holds it), so nothing needs awaiting here
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self, lifespan="off", log_config=None, log_level="critical")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))

    async def stop(self) -> None:
        """Release hung requests and stop."""
        self._release.set()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task

    async def __aenter__(self) -> BinanceStub:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = (await request.body()).decode()
        query = scope["query_string"].decode()
        params = dict(parse_qsl(query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        method, path = request.method, request.url.path
        key = request.headers.get("x-mbx-apikey")
        self.arrivals.append(Arrival(time.monotonic(), method, path, params, key))
        self._arrived.set()
        fault = self.faults[(method, path)].popleft() if self.faults[(method, path)] else None
        if fault is not None and fault.kind == "status":
            await self._fault_reply(fault)(scope, receive, send)
            return
        if fault is None:
            await (await self._answer(method, path, query, body, params, key))(scope, receive, send)
            return
        if fault.execute:
            await self._answer(method, path, query, body, params, key)  # the reply is lost
        if fault.kind == "timeout":
            await self._release.wait()
        else:  # drop: promise a body, send a piece of it, and go away
            headers = [(b"content-type", b"application/json"), (b"content-length", b"1000")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b'{"sym', "more_body": True})

    def _fault_reply(self, fault: Fault) -> Response:
        headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
        body = fault.body if fault.body is not None else {"code": -1000, "msg": "scripted"}
        return _json(body, fault.status, headers)

    async def _answer(
        self, method: str, path: str, query: str, body: str, params: dict[str, str], key: str | None
    ) -> Response:
        self.used_weight += WEIGHTS.get(path, 1)
        headers = {"X-MBX-USED-WEIGHT-1M": str(self.used_weight)}
        try:
            if path == "/api/v3/time":
                return _json({"serverTime": self.now_ms()}, headers=headers)
            self._authenticate(query, body, params, key)
            return _json(self._route(method, path, params), headers=headers)
        except StubError as exc:
            return _json({"code": exc.code, "msg": exc.msg}, exc.status, headers)

    # --- Binance's checks --------------------------------------------------------------

    def _authenticate(self, query: str, body: str, params: dict[str, str], key: str | None) -> None:
        if key != self.api_key:
            raise StubError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        head, sep, sig = query.rpartition("&signature=")
        if not sep:
            raise StubError(-1102, "Mandatory parameter 'signature' was not sent.")
        expected = hmac.new(
            self.api_secret.encode(), (head + body).encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, sig):
            raise StubError(-1022, "Signature for this request is not valid.")
        timestamp = int(params.get("timestamp", "0"))
        window = int(params.get("recvWindow", "5000"))
        now = self.now_ms()
        if timestamp > now + 1000:
            raise StubError(
                -1021, "Timestamp for this request was 1000ms ahead of the server's time."
            )
        if now - timestamp > window:
            raise StubError(-1021, "Timestamp for this request is outside of the recvWindow.")

    def _route(self, method: str, path: str, params: dict[str, str]) -> Any:
        if method == "POST" and path == "/api/v3/order/test":
            self._validate_order(params)
            return {}
        if method == "POST" and path == "/api/v3/order":
            return self._new_order(params)
        if method == "GET" and path == "/api/v3/order":
            return self._get_order(params)
        if method == "GET" and path == "/api/v3/myTrades":
            return self.trades.get(int(params["orderId"]), [])
        if method == "GET" and path == "/api/v3/account":
            return {
                "canTrade": True,
                "balances": [{"asset": "USDT", "free": "1000", "locked": "0"}],
            }
        raise StubError(-1000, f"no route {method} {path}", 404)

    # --- orders ------------------------------------------------------------------------

    def _validate_order(self, params: dict[str, str]) -> tuple[str, str, Decimal]:
        for name in ("symbol", "side", "type", "quantity"):
            if name not in params:
                raise StubError(-1102, f"Mandatory parameter '{name}' was not sent.")
        if params["symbol"] not in self.venue.assets:
            raise StubError(-1121, "Invalid symbol.")
        if params["type"] != "MARKET":
            raise StubError(-1116, "Invalid orderType.")
        return params["symbol"], params["side"], Decimal(params["quantity"])

    def _new_order(self, params: dict[str, str]) -> dict[str, Any]:
        symbol, side, quantity = self._validate_order(params)
        client_id = params.get("newClientOrderId") or f"stub-{next(self._ids)}"
        if client_id in self.orders:
            raise StubError(-2010, "Duplicate order sent.")
        order_id = next(self._ids)
        fills = self._fills(symbol, side, quantity)
        quote = sum((Decimal(f["price"]) * Decimal(f["qty"]) for f in fills), Decimal(0))
        order = {
            "symbol": symbol,
            "orderId": order_id,
            "orderListId": -1,
            "clientOrderId": client_id,
            "transactTime": self.now_ms(),
            "price": "0.00000000",
            "origQty": _q8(quantity),
            "executedQty": _q8(quantity),
            "cummulativeQuoteQty": _q8(quote),
            "status": "FILLED",
            "timeInForce": "GTC",
            "type": "MARKET",
            "side": side,
        }
        self.orders[client_id] = order
        self.trades[order_id] = [self._trade(symbol, side, order_id, f) for f in fills]
        return {**order, "fills": fills} if params.get("newOrderRespType") == "FULL" else order

    def _fills(self, symbol: str, side: str, quantity: Decimal) -> list[dict[str, Any]]:
        levels = self.venue.levels.get(symbol) or [(Decimal("100"), quantity)]
        fills, left = [], quantity
        for index, (price, available) in enumerate(levels):
            take = left if index == len(levels) - 1 else min(left, available)
            if take > 0:
                fills.append(self._fill(symbol, side, price, take))
            left -= take
        return fills

    def _fill(self, symbol: str, side: str, price: Decimal, qty: Decimal) -> dict[str, Any]:
        base, quote = self.venue.assets[symbol]
        asset = self.venue.commission_asset or (base if side == "BUY" else quote)
        if asset == "BNB":
            commission = self.venue.bnb_per_fill
        elif asset == base:
            commission = qty * self.venue.commission_rate
        else:
            commission = price * qty * self.venue.commission_rate
        return {
            "price": _q8(price),
            "qty": _q8(qty),
            "commission": _q8(commission),
            "commissionAsset": asset,
            "tradeId": next(self._ids),
        }

    def _trade(self, symbol: str, side: str, order_id: int, fill: dict[str, Any]) -> dict[str, Any]:
        quote = Decimal(fill["price"]) * Decimal(fill["qty"])
        return {
            "symbol": symbol,
            "id": fill["tradeId"],
            "orderId": order_id,
            "orderListId": -1,
            "price": fill["price"],
            "qty": fill["qty"],
            "quoteQty": _q8(quote),
            "commission": fill["commission"],
            "commissionAsset": fill["commissionAsset"],
            "time": self.now_ms(),
            "isBuyer": side == "BUY",
            "isMaker": False,
            "isBestMatch": True,
        }

    def _get_order(self, params: dict[str, str]) -> dict[str, Any]:
        order = self.orders.get(params.get("origClientOrderId", ""))
        if order is None or order["symbol"] != params.get("symbol"):
            raise StubError(-2013, "Order does not exist.")
        return order
