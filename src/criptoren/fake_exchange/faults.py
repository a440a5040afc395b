"""Scripted failures of order requests, and the record of every order request received."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal["429", "418", "timeout", "5xx", "drop"]
KINDS: tuple[str, ...] = ("429", "418", "timeout", "5xx", "drop")
MAX_HOLD = 30.0


@dataclass(frozen=True, slots=True)
class Fault:
    """What happens to one order request instead of a normal answer."""

    kind: FaultKind
    retry_after: int = 1  # seconds, for 429 and 418
    status: int = 503  # for 5xx
    # seconds a "timeout" keeps the request open (default 30, the most), or a "drop" keeps
    # the already executed order's reply before cutting the connection (default 0)
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
    """Faults for the next order requests, in order, and the release of held requests."""

    def __init__(self) -> None:
        self.pending: deque[Fault] = deque()
        self._release = asyncio.Event()

    def add(self, fault: Fault, count: int = 1) -> None:
        """Apply ``fault`` to the next ``count`` order requests (after those already queued)."""
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        if fault.kind == "5xx" and not 500 <= fault.status <= 599:
            raise ValueError(f"not a 5XX status: {fault.status}")
        self.pending.extend([fault] * count)

    def take(self) -> Fault | None:
        """The fault for the request arriving now, if any."""
        return self.pending.popleft() if self.pending else None

    def clear(self) -> None:
        """Forget the faults not yet applied."""
        self.pending.clear()

    async def hold(self, seconds: float) -> None:
        """Keep a request open for ``seconds`` (at most 30), or until :meth:`release_all`."""
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._release.wait(), min(seconds, MAX_HOLD))

    def release_all(self) -> None:
        """End every current hold now (the fake is stopping); later holds wait again."""
        released, self._release = self._release, asyncio.Event()
        released.set()
