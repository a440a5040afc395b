"""Binance errors as exceptions: only ``TemporaryError`` is ever retried (and only for reads).

```
ExchangeError
└── BinanceError(code, msg, status)         any refusal or failure reported by Binance
    ├── TemporaryError                       retryable for idempotent reads (also 503 Unavailable)
    │   ├── ExchangeUnreachable              could not connect: nothing was sent
    │   └── OutcomeUnknownAtExchange         timeout, dropped reply, 5XX, -1007: query, never resend
    ├── RateLimited(retry_after)             429 / -1003: nothing may be sent before it expires
    │   └── IpBanned(retry_after)            418
    ├── InvalidTimestamp                     -1021 (the clock offset is re-learnt)
    ├── AuthenticationFailed                 -2014, -2015: bad API key, IP or permissions
    │   └── InvalidSignature                 -1022
    ├── OrderRejectedByExchange              -2010, -2011, -1013: refused, will never execute
    └── UnknownOrder                         -2013 "Order does not exist."
```

``OutcomeUnknownAtExchange`` is also the project's one ``OutcomeUnknown``, and
``OrderRejectedByExchange`` its one ``OrderRejected`` (``criptoren.errors``); ``TemporaryError``
and ``RateLimited`` are ``ExchangeUnavailable``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from criptoren.errors import ExchangeError, ExchangeUnavailable, OrderRejected, OutcomeUnknown

NO_CODE = 0


class BinanceError(ExchangeError):
    """A failure reported by (or while talking to) Binance: ``code``, ``msg``, HTTP ``status``."""

    def __init__(self, code: int, msg: str, status: int = 0) -> None:
        super().__init__(f"Binance error {code} (HTTP {status}): {msg}")
        self.binance_code = code
        self.msg = msg
        self.status = status

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(code={self.binance_code}, msg={self.msg!r}, status={self.status})"


class TemporaryError(BinanceError, ExchangeUnavailable):
    """Worth trying again later; a client retries it only for idempotent reads."""

    status_code = 503
    code = "exchange_unavailable"


class ExchangeUnreachable(TemporaryError):
    """The connection could not be opened: the request was certainly not sent."""


class OutcomeUnknownAtExchange(TemporaryError, OutcomeUnknown):
    """The request may or may not have been processed (timeout, dropped reply, 5XX, -1007)."""


class RateLimited(BinanceError, ExchangeUnavailable):
    """HTTP 429: no request at all may be sent for ``retry_after`` seconds."""

    status_code = 503
    code = "exchange_rate_limited"

    def __init__(self, retry_after: float, msg: str = "Too many requests.", status: int = 429):
        super().__init__(-1003, f"{msg} Retry after {retry_after:.3f} s.", status)
        self.retry_after = retry_after


class IpBanned(RateLimited):
    """HTTP 418: the IP is banned (ignored 429s) for ``retry_after`` seconds."""

    def __init__(self, retry_after: float, msg: str = "IP banned.", status: int = 418):
        super().__init__(retry_after, msg, status)


class InvalidTimestamp(BinanceError):
    """-1021: the timestamp is outside ``recvWindow`` (or more than 1 s ahead)."""


class AuthenticationFailed(BinanceError):
    """The API key, its IP whitelist or its permissions were refused."""


class InvalidSignature(AuthenticationFailed):
    """-1022: the signature does not match (wrong secret, or the payload was altered)."""


class OrderRejectedByExchange(BinanceError, OrderRejected):
    """The exchange refused the order (-2010, -2011, -1013 filter failure); it never executes."""

    status_code = 422
    code = "order_rejected"


class UnknownOrder(BinanceError):
    """-2013: the exchange does not know this order."""

    status_code = 404
    code = "unknown_order"


_BY_CODE: dict[int, type[BinanceError]] = {
    -1001: OutcomeUnknownAtExchange,  # internal error, disconnected: execution status unknown
    -1006: OutcomeUnknownAtExchange,  # unexpected response from the message bus: status unknown
    -1007: OutcomeUnknownAtExchange,  # timeout waiting for the backend: status unknown
    -1008: TemporaryError,  # server overloaded, request rejected
    -1013: OrderRejectedByExchange,
    -1021: InvalidTimestamp,
    -1022: InvalidSignature,
    -2010: OrderRejectedByExchange,
    -2011: OrderRejectedByExchange,
    -2013: UnknownOrder,
    -2014: AuthenticationFailed,
    -2015: AuthenticationFailed,
}

DEFAULT_RETRY_AFTER = {429: 10.0, 418: 120.0}


def parse_retry_after(raw: str | None, status: int) -> float:
    """Seconds from a ``Retry-After`` header; a missing or bad one gets a cautious default."""
    try:
        value = float(raw) if raw is not None else -1.0
    except ValueError:
        value = -1.0
    return value if value >= 0 else DEFAULT_RETRY_AFTER.get(status, 10.0)


def error_from_reply(status: int, body: Any, retry_after: str | None) -> BinanceError:
    """The exception for a non-2XX reply (its status, ``{"code","msg"}`` body and headers)."""
    code, msg = _code_and_msg(body)
    if status == 418:
        return IpBanned(parse_retry_after(retry_after, status), msg or "IP banned.")
    if status == 429 or code == -1003:
        return RateLimited(parse_retry_after(retry_after, 429), msg or "Too many requests.", status)
    if status >= 500:
        msg = msg or f"server error {status}: outcome unknown"
        return OutcomeUnknownAtExchange(code, msg, status)
    return _BY_CODE.get(code, BinanceError)(code, msg or f"HTTP {status}", status)


def _code_and_msg(body: Any) -> tuple[int, str]:
    if isinstance(body, Mapping):
        code, msg = body.get("code"), body.get("msg")
        return (int(code) if isinstance(code, int) else NO_CODE), str(msg or "")
    return NO_CODE, ""
