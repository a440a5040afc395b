"""The ASGI layer in front of the fake's REST app: request weight (header, 429), lost replies."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from criptoren.binance.pacing import WeightLimit, request_weight
from criptoren.fake_exchange.faults import MAX_HOLD, Fault, FaultQueue, fault_response

TRANSPORT_KEY = "criptoren.transport"


class UsedWeight:
    """Request weight used in the current window (Binance's ``X-MBX-USED-WEIGHT-1M``).

    Enforced as Binance does: a request that would take the window past its limit is
    refused (429 with ``Retry-After``, the seconds until the window ends) and not counted.
    """

    def __init__(self, limit: WeightLimit, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.clock = clock
        self.window = 0
        self.used = 0
        self.refused: list[tuple[str, str, float]] = []  # method, path, monotonic time

    @property
    def header(self) -> bytes:
        """The used-weight header's name, lower case."""
        return self.limit.header.lower().encode()

    def add(self, method: str, path: str) -> int | None:
        """Count one request and return the window's total; ``None``: refused, over the limit."""
        now = self.clock()
        window = int(now // self.limit.seconds)
        if window != self.window:
            self.window, self.used = window, 0
        weight = request_weight(method, path)
        if self.used + weight > self.limit.limit:
            self.refused.append((method, path, time.monotonic()))
            return None
        self.used += weight
        return self.used

    def retry_after(self) -> int:
        """Whole seconds until the current window ends."""
        end = (self.window + 1) * self.limit.seconds
        return max(1, math.ceil(end - self.clock()))


class Gateway:
    """Wraps the REST app: weight header, scripted 429s, a log of market-data requests."""

    def __init__(self, app: ASGIApp, faults: FaultQueue, weight_limit: WeightLimit) -> None:
        self.app = app
        self.faults = faults  # market-data endpoints' share of the fake's scripted faults
        self.weight = UsedWeight(weight_limit)
        self.rate_limits: deque[int] = deque()  # Retry-After of the next limited GETs
        self.market_requests: list[tuple[str, float, int]] = []  # path, monotonic, status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request."""
        if scope["type"] != "http" or not str(scope["path"]).startswith("/api/"):
            await self.app(scope, receive, send)
            return
        # uvicorn's ``send`` is a method of the request cycle, which holds the transport
        scope[TRANSPORT_KEY] = getattr(getattr(send, "__self__", None), "transport", None)
        counted = self.weight.add(scope["method"], scope["path"])
        market = scope["method"] == "GET" and scope["path"] in MARKET_DATA_PATHS
        if counted is None:
            if market:
                self.market_requests.append((scope["path"], time.monotonic(), 429))
            await weight_exceeded(self.weight)(scope, receive, send)
            return
        used = (self.weight.header, str(counted).encode())
        if market and self.rate_limits:
            self.market_requests.append((scope["path"], time.monotonic(), 429))
            await rate_limited(self.rate_limits.popleft())(scope, receive, send)
            return
        fault = self.faults.take(scope["method"], scope["path"]) if market else None
        if fault is not None and fault.kind == "slow":
            await self.faults.hold(fault.hold or 0.0)  # then answered as usual
        elif fault is not None:
            await self._fault(fault, scope, receive, send)
            return

        async def send_weighted(message: Message) -> None:
            if message["type"] == "http.response.start":
                if market:
                    self.market_requests.append(
                        (scope["path"], time.monotonic(), message["status"])
                    )
                headers = [*message.get("headers", []), used]
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


def weight_exceeded(weight: UsedWeight) -> Response:
    """Binance's 429 once the window's request weight is spent."""
    limit = weight.limit
    body = (
        f'{{"code":-1003,"msg":"Too much request weight used; current limit is {limit.limit} '
        f"request weight per {limit.interval_num} {limit.interval}. Please use WebSocket "
        'Streams for live updates to avoid polling the API."}'
    )
    headers = {"Retry-After": str(weight.retry_after()), limit.header: str(weight.used)}
    return Response(body, status_code=429, headers=headers, media_type="application/json")


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
