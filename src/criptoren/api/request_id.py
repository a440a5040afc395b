"""Each HTTP request gets an id: a sane ``X-Request-ID`` it brought, or a fresh one.

The id is echoed in the response's ``X-Request-ID`` header and stamped on every audit row
the request writes.
"""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
KEY = "request_id"
SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
"""What a caller's id may be: 1–64 letters, digits and ``. _ : -`` (else one is generated)."""


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
        offered = Headers(scope=scope).get(HEADER, "")
        request_id = offered if SANE.fullmatch(offered) else uuid.uuid4().hex
        scope.setdefault("state", {})[KEY] = request_id

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        await self.app(scope, receive, tagged)
