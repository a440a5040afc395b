"""The ASGI layer in front of the fake's REST app: used-weight header, lost replies."""

from __future__ import annotations

import asyncio
import time
from collections import deque

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from criptoren.fake_exchange.faults import MAX_HOLD, Fault, FaultQueue, fault_response

TRANSPORT_KEY = "criptoren.transport"
WEIGHT_HEADER = b"x-mbx-used-weight-1m"
WEIGHTS = {
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/account"): 20,
    ("GET", "/api/v3/myTrades"): 20,
    ("GET", "/api/v3/order"): 4,
    ("GET", "/api/v3/aggTrades"): 4,
    ("GET", "/api/v3/klines"): 2,
    ("GET", "/api/v3/ticker/price"): 2,
}


class UsedWeight:
    """Request weight used in the current minute (Binance's ``X-MBX-USED-WEIGHT-1M``)."""

    def __init__(self) -> None:
        self.minute = 0
        self.used = 0

    def add(self, method: str, path: str) -> int:
        """Count one request and return the minute's total."""
        minute = int(time.time() // 60)
        if minute != self.minute:
            self.minute, self.used = minute, 0
        self.used += WEIGHTS.get((method, path), 1)
        return self.used


class Gateway:
    """Wraps the REST app: weight header, scripted 429s, a log of market-data requests."""

    def __init__(self, app: ASGIApp, faults: FaultQueue) -> None:
        self.app = app
        self.faults = faults  # market-data endpoints' share of the fake's scripted faults
        self.weight = UsedWeight()
        self.rate_limits: deque[int] = deque()  # Retry-After of the next limited GETs
        self.market_requests: list[tuple[str, float, int]] = []  # path, monotonic, status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request."""
        if scope["type"] != "http" or not str(scope["path"]).startswith("/api/"):
            await self.app(scope, receive, send)
            return
        # uvicorn's ``send`` is a method of the request cycle, which holds the transport
        scope[TRANSPORT_KEY] = getattr(getattr(send, "__self__", None), "transport", None)
        used = str(self.weight.add(scope["method"], scope["path"])).encode()
        market = scope["method"] == "GET" and scope["path"] in MARKET_DATA_PATHS
        if market and self.rate_limits:
            self.market_requests.append((scope["path"], time.monotonic(), 429))
            await rate_limited(self.rate_limits.popleft())(scope, receive, send)
            return
        fault = self.faults.take(scope["method"], scope["path"]) if market else None
        if fault is not None:
            await self._fault(fault, scope, receive, send)
            return

        async def send_weighted(message: Message) -> None:
            if message["type"] == "http.response.start":
                if market:
                    self.market_requests.append(
                        (scope["path"], time.monotonic(), message["status"])
                    )
                headers = [*message.get("headers", []), (WEIGHT_HEADER, used)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_weighted)

    async def _fault(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        """A market-data request meets a scripted fault: an error reply, or none at all."""
        if fault.kind in ("timeout", "drop"):
            self.market_requests.append((scope["path"], time.monotonic(), 0))
            default = MAX_HOLD if fault.kind == "timeout" else 0.0
            await self.faults.hold(default if fault.hold is None else fault.hold)
            await DroppedReply()(scope, receive, send)
            return
        response = fault_response(fault)
        self.market_requests.append((scope["path"], time.monotonic(), response.status_code))
        await response(scope, receive, send)


MARKET_DATA_PATHS = frozenset(
    {
        "/api/v3/exchangeInfo",
        "/api/v3/aggTrades",
        "/api/v3/klines",
        "/api/v3/ticker/price",
        "/api/v3/time",
    }
)


def rate_limited(retry_after: int) -> Response:
    """Binance's 429 reply."""
    body = b'{"code":-1003,"msg":"Too many requests; please use the websocket for live updates."}'
    return Response(
        body,
        status_code=429,
        headers={"Retry-After": str(retry_after)},
        media_type="application/json",
    )


class DroppedReply(Response):
    """No reply at all: the connection is cut, as when a reply is lost on the way."""

    def __init__(self) -> None:
        super().__init__(b"")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Abort the connection instead of answering."""
        transport = scope.get(TRANSPORT_KEY)
        if transport is None:
            raise RuntimeError("cannot drop the reply: the server's transport is unknown")
        transport.abort()
        for _ in range(3):  # let the server see the connection lost before it would reply
            await asyncio.sleep(0)
