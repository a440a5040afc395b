"""The project's exception hierarchy: each error carries an HTTP status and a stable code."""

from __future__ import annotations

import math


class CriptorenError(Exception):
    """Base of every error the service reports to a user."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers (``Retry-After`` on a 429)."""
        return {}


class Unauthorized(CriptorenError):
    """No valid credentials."""

    status_code = 401
    code = "unauthorized"


class Forbidden(CriptorenError):
    """Valid credentials that may not act on this resource."""

    status_code = 403
    code = "forbidden"


class NotFound(CriptorenError):
    """The resource does not exist, or belongs to someone else."""

    status_code = 404
    code = "not_found"


class Conflict(CriptorenError):
    """The resource is in a state that forbids the request."""

    status_code = 409
    code = "conflict"


class InvalidInput(CriptorenError):
    """The request is well-formed but breaks a business or exchange rule."""

    status_code = 422
    code = "invalid_input"


class Unavailable(CriptorenError):
    """A dependency (database, exchange) cannot be reached; try again later."""

    status_code = 503
    code = "unavailable"


class RateLimited(CriptorenError):
    """429: this client's token is over its request rate."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(
            f"too many requests for this token; retry after {self.retry_after} s",
        )

    @property
    def headers(self) -> dict[str, str]:
        """``Retry-After`` in whole seconds (at least 1)."""
        return {"Retry-After": str(self.retry_after)}


class ExchangeUnavailable(Unavailable):
    """The exchange did not answer in time or answered with a server error."""

    code = "exchange_unavailable"


class ExchangeError(CriptorenError):
    """The exchange answered, but refused the request or answered nonsense."""

    status_code = 502
    code = "exchange_error"


class OrderRejected(CriptorenError):
    """The venue refused the order; it will never execute."""

    status_code = 422
    code = "order_rejected"


class OutcomeUnknown(CriptorenError):
    """The order may or may not exist at the venue: ask later, never resend blindly."""

    status_code = 503
    code = "outcome_unknown"
