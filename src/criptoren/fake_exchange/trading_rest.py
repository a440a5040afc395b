"""Signed trading endpoints of the fake: order, order/test, account, myTrades."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from criptoren.fake_exchange.errors import (
    BinanceError,
    error_response,
    illegal,
    json_response,
    mandatory,
)
from criptoren.fake_exchange.faults import MAX_HOLD, OrderRequest, fault_response
from criptoren.fake_exchange.gateway import DroppedReply
from criptoren.fake_exchange.orders import Account
from criptoren.fake_exchange.signing import signed_payload, verify

if TYPE_CHECKING:
    from criptoren.fake_exchange.server import FakeExchange
    from criptoren.fake_exchange.trading import Trading

MAX_RECV_WINDOW = 60_000
FORM = "application/x-www-form-urlencoded"
Action = Callable[[Account, Mapping[str, str]], Any]


def _pairs(raw: bytes) -> list[tuple[str, str]]:
    return parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)


def check_duplicates(query: bytes, body: bytes) -> None:
    """``-1101`` when a parameter is repeated within the query string or within the body."""
    for raw in (query, body):
        names = [k for k, _ in _pairs(raw)]
        if len(set(names)) != len(names):
            raise BinanceError(-1101, "Duplicate values for a parameter detected.")


async def read_params(request: Request) -> tuple[dict[str, str], bytes, bytes]:
    """Parameters (query string over form body), and both exactly as received."""
    query: bytes = request.scope["query_string"]
    body = await request.body()
    content_type = request.headers.get("content-type", FORM)
    params = dict(_pairs(body)) if body and content_type.startswith(FORM) else {}
    params.update(_pairs(query))
    params.pop("signature", None)
    return params, query, body


def check_timestamp(params: Mapping[str, str], now_ms: int) -> None:
    """``-1021`` unless ``now - recvWindow <= timestamp < now + 1000``."""
    raw = params.get("timestamp")
    if not raw:
        raise mandatory("timestamp")
    raw_window = params.get("recvWindow") or "5000"
    if not raw.isdigit():
        raise illegal("timestamp")
    if not raw_window.isdigit():
        raise illegal("recvWindow")
    if int(raw_window) > MAX_RECV_WINDOW:
        raise BinanceError(-1131, f"recvWindow must be less than {MAX_RECV_WINDOW}")
    timestamp = int(raw)
    if not (timestamp < now_ms + 1000 and now_ms - timestamp <= int(raw_window)):
        raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")


def authenticate(
    trading: Trading, api_key: str | None, params: Mapping[str, str], query: bytes, body: bytes
) -> Account:
    """The account of a correctly signed, timely request; Binance's error otherwise."""
    account = trading.account(api_key)
    check_duplicates(query, body)
    check_timestamp(params, trading.now_ms())
    payload, signature = signed_payload(query, body)
    if not signature:
        raise mandatory("signature")
    if not verify(account.secret, payload, signature):
        raise BinanceError(-1022, "Signature for this request is not valid.")
    return account


class TradingApi:
    """Request handlers over one fake exchange's trading engine."""

    def __init__(self, fake: FakeExchange) -> None:
        self.trading = fake.trading

    async def order(self, request: Request) -> Response:
        """POST /api/v3/order and GET /api/v3/order."""
        if request.method == "GET":
            return await self._serve(request, self.trading.query)
        return await self._serve(request, self.trading.place, executes=True)

    async def order_test(self, request: Request) -> Response:
        """POST /api/v3/order/test: validate everything, execute nothing, answer ``{}``."""
        return await self._serve(request, lambda a, p: self.trading.place(a, p, test=True))

    async def account(self, request: Request) -> Response:
        """GET /api/v3/account."""
        now = self.trading.now_ms
        return await self._serve(request, lambda account, _: account.snapshot(now()))

    async def my_trades(self, request: Request) -> Response:
        """GET /api/v3/myTrades."""
        return await self._serve(request, self.trading.my_trades)

    async def _serve(self, request: Request, action: Action, *, executes: bool = False) -> Response:
        """Answer, or apply the endpoint's next scripted fault ("drop": done, reply lost)."""
        fault = self.trading.faults.take(request.method, request.url.path)
        if fault is not None and fault.kind == "slow":
            await self.trading.faults.hold(fault.hold or 0.0)
            fault = None  # then answered as usual
        if fault is None or fault.kind == "drop":
            response, entry = await self._signed(request, action, executes=executes)
            if fault is None:
                return response
            await self.trading.faults.hold(fault.hold or 0.0)  # done; the reply is late
            return self._dropped(entry)
        entry = self._record(request, await read_params(request))
        if fault.kind != "timeout":
            response = fault_response(fault)
            entry.outcome, entry.status = f"fault {response.status_code}", response.status_code
            return response
        entry.outcome = "timeout"
        await self.trading.faults.hold(MAX_HOLD if fault.hold is None else fault.hold)
        return DroppedReply()

    def _record(self, request: Request, read: tuple[dict[str, str], bytes, bytes]) -> OrderRequest:
        api_key = request.headers.get("x-mbx-apikey")
        return self.trading.record(request.method, request.url.path, read[0], api_key)

    @staticmethod
    def _dropped(entry: OrderRequest) -> Response:
        entry.outcome, entry.status = f"{entry.outcome} (reply dropped)", 0
        return DroppedReply()

    async def _signed(
        self, request: Request, action: Action, *, executes: bool = False
    ) -> tuple[Response, OrderRequest]:
        read = await read_params(request)
        entry = self._record(request, read)
        try:
            account = authenticate(self.trading, entry.api_key, *read)
            response = json_response(action(account, read[0]))
            entry.outcome = "FILLED" if executes else "ok"
        except BinanceError as exc:
            response = error_response(exc)
            entry.outcome = f"error {exc.code}"
        entry.status = response.status_code
        return response, entry


def trading_routes(fake: FakeExchange) -> list[Route]:
    """The signed trading routes of ``fake``."""
    api = TradingApi(fake)
    return [
        Route("/api/v3/order", api.order, methods=["GET", "POST"]),
        Route("/api/v3/order/test", api.order_test, methods=["POST"]),
        Route("/api/v3/account", api.account, methods=["GET"]),
        Route("/api/v3/myTrades", api.my_trades, methods=["GET"]),
    ]
