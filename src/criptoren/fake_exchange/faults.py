"""Scripted failures of requests (per endpoint), and the record of every signed request."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.responses import Response

from criptoren.fake_exchange.errors import json_response

FaultKind = Literal["429", "418", "timeout", "5xx", "drop", "slow"]
KINDS: tuple[str, ...] = ("429", "418", "timeout", "5xx", "drop", "slow")
MAX_HOLD = 30.0
ORDER_ENDPOINT = ("POST", "/api/v3/order")
Endpoint = tuple[str, str]  # (method, path)


@dataclass(frozen=True, slots=True)
class Fault:
    """What happens to one request instead of a normal answer."""

    kind: FaultKind
    retry_after: int = 1  # seconds, for 429 and 418
    status: int = 503  # for 5xx
    body: str | None = None  # for 5xx: sent as is (e.g. a proxy's HTML page) instead of -1001
    # seconds a "timeout" keeps the request open (default 30, the most), a "drop" keeps
    # the already executed order's reply before cutting the connection (default 0), or a
    # "slow" request waits before it is answered normally (default 0)
    hold: float | None = None


@dataclass(slots=True)
class OrderRequest:
    """One request to a signed trading endpoint, as the fake received and answered it."""

    seq: int
    method: str
    path: str
    params: dict[str, str]
    api_key: str | None
    received: float = field(default_factory=time.time)  # epoch seconds
    monotonic: float = field(default_factory=time.monotonic)
    outcome: str = "pending"  # "FILLED", "ok", "error <code>", "fault <status>", "timeout", ...
    status: int = 0  # the HTTP status answered; 0 while pending or when no reply was sent

    def to_json(self) -> dict[str, Any]:
        """A JSON-able copy (for ``/_control/order_requests``)."""
        return {
            "seq": self.seq,
            "method": self.method,
            "path": self.path,
            "params": dict(self.params),
            "api_key": self.api_key,
            "received": self.received,
            "monotonic": self.monotonic,
            "outcome": self.outcome,
            "status": self.status,
        }


class FaultQueue:
    """Faults for the next requests of each endpoint, in order, and the release of holds."""

    def __init__(self) -> None:
        self.pending: defaultdict[Endpoint, deque[Fault]] = defaultdict(deque)
        self._release = asyncio.Event()
        self.holding = 0  # requests held open right now
        self._held = asyncio.Event()

    def add(self, fault: Fault, count: int = 1, endpoint: Endpoint = ORDER_ENDPOINT) -> None:
        """Apply ``fault`` to the next ``count`` requests of ``endpoint`` (after those queued)."""
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        if fault.kind == "5xx" and not 500 <= fault.status <= 599:
            raise ValueError(f"not a 5XX status: {fault.status}")
        self.pending[endpoint].extend([fault] * count)

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for the request of ``method path`` arriving now, if any."""
        queue = self.pending.get((method, path))
        return queue.popleft() if queue else None

    def clear(self) -> None:
        """Forget the faults not yet applied."""
        self.pending.clear()

    async def hold(self, seconds: float) -> None:
        """Keep a request open for ``seconds`` (at most 30), or until :meth:`release_all`."""
        if seconds <= 0:
            return
        self.holding += 1
        self._held.set()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), min(seconds, MAX_HOLD))
        finally:
            self.holding -= 1

    async def wait_holding(self, within: float = 10.0) -> None:
        """Wait until some request is being held open (a test's cue that it is in flight)."""
        async with asyncio.timeout(within):
            while not self.holding:
                self._held.clear()
                await self._held.wait()

    def release_all(self) -> None:
        """End every current hold now (the fake is stopping); later holds wait again."""
        released, self._release = self._release, asyncio.Event()
        released.set()


def fault_response(fault: Fault) -> Response:
    """The answer of a 429, 418 or 5XX fault (nothing executed)."""
    if fault.kind == "5xx":
        if fault.body is not None:
            return Response(fault.body, fault.status, media_type="text/html")
        msg = "Internal error; unable to process your request. Please try again."
        return json_response({"code": -1001, "msg": msg}, fault.status)
    headers = {"Retry-After": str(fault.retry_after)}
    if fault.kind == "418":
        until = int(time.time() * 1000) + fault.retry_after * 1000
        msg = f"Way too many requests; IP(127.0.0.1) banned until {until}."
        return json_response({"code": -1003, "msg": msg}, 418, headers)
    msg = (
        "Too many requests; current limit of IP(127.0.0.1) request weight per 1 MINUTE is "
        "6000. Please use WebSocket Streams for live updates to avoid polling the API."
    )
    return json_response({"code": -1003, "msg": msg}, 429, headers)
