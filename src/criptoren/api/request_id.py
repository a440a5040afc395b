"""Each HTTP request gets an id: a sane ``X-Request-ID`` it brought, or a fresh one.

The id is echoed in the response's ``X-Request-ID`` header and stamped on every audit row
the request writes.
"""

from __future__ import annotations

import itertools
import os
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from criptoren.api.asgi import header

HEADER = "x-request-id"
HEADER_BYTES = HEADER.encode()
KEY = "request_id"
SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
"""What a caller's id may be: 1–64 letters, digits and ``. _ : -`` (else one is generated)."""
# generated ids: this process's random prefix and a counter; unique, not secret, and
# cheaper than a uuid4 per request (a getrandom call and a UUID object each time)
_PREFIX = os.urandom(8).hex()
_SERIAL = itertools.count(1)


def _new_prefix() -> None:
    global _PREFIX, _SERIAL  # a forked child must not repeat its parent's ids
    _PREFIX, _SERIAL = os.urandom(8).hex(), itertools.count(1)


os.register_at_fork(after_in_child=_new_prefix)


def new_request_id() -> str:
    """A fresh request id, unique across processes and restarts: 32 hex digits, like a uuid4's."""
    return f"{_PREFIX}{next(_SERIAL):016x}"


def request_id_of(scope: Scope) -> str | None:
    """The id :class:`RequestId` gave this request (``None`` outside it)."""
    state = scope.get("state") or {}
    value = state.get(KEY)
    return value if isinstance(value, str) else None


class RequestId:
    """ASGI middleware: pick the request's id, keep it in the scope's state, echo it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Tag HTTP requests; anything else passes untouched."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = header(scope, HEADER_BYTES)
        request_id = offered if SANE.fullmatch(offered) else new_request_id()
        scope.setdefault("state", {})[KEY] = request_id
        tag = (HEADER_BYTES, request_id.encode())

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                others = [pair for pair in message.get("headers", ()) if pair[0] != HEADER_BYTES]
                message["headers"] = [*others, tag]
            await send(message)

        await self.app(scope, receive, tagged)
