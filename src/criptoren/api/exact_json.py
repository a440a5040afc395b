"""Request bodies parsed with every JSON number kept exact (``Decimal``, never ``float``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from criptoren.api.asgi import header
from criptoren.api.errors import BODY_TOO_LARGE, error_response


def _refuse_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not valid JSON", name, 0)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # {"preco_alvo": "1000", "preco_alvo": "2000"} would be 2000 here and may be 1000 to a
    # proxy or log that read the first: a body that says two things is refused
    found = dict(pairs)
    if len(found) != len(pairs):
        keys = [key for key, _ in pairs]
        twice = next(key for n, key in enumerate(keys) if key in keys[:n])
        raise json.JSONDecodeError(f"duplicate key {twice[:40]!r}", "", 0)
    return found


def loads_exact(body: bytes) -> Any:
    """``json.loads`` where 0.1 stays 0.1: floats become ``Decimal``; NaN/Infinity and a key
    given twice in one object are refused."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("body is not UTF-8", repr(body[:40]), exc.start) from None
    try:
        return json.loads(
            text, parse_float=Decimal, parse_constant=_refuse_constant, object_pairs_hook=_object
        )
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("JSON nested too deeply", "", 0) from None
    except ValueError as exc:  # an integer past Python's digit limit (4300 digits)
        raise json.JSONDecodeError(f"number too long: {exc}", "", 0) from None


class ExactJSONRequest(Request):
    """A request whose ``json()`` never goes through binary floats."""

    async def json(self) -> Any:
        """The body, parsed exactly."""
        if not hasattr(self, "_json"):
            self._json = loads_exact(await self.body())
        return self._json


class ExactJSONRoute(APIRoute):
    """Route class that hands endpoints an :class:`ExactJSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler so it parses the body exactly."""
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            return await original(ExactJSONRequest(request.scope, request.receive))

        return handler


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is a JSON 413.

    A declared ``Content-Length`` is refused before anything is read; a streamed body is
    counted chunk by chunk, so a 32 MB upload stops after ``limit`` bytes, not at the end.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse or count, then pass the request on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"the request body is larger than {self.limit} bytes"
        declared = header(scope, b"content-length")
        if declared.isdigit() and int(declared) > self.limit:
            await error_response(413, BODY_TOO_LARGE, message)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            event = await receive()
            received += len(event.get("body", b""))
            if received > self.limit:
                # raised inside the endpoint's body read: FastAPI re-raises HTTPException,
                # and the error handlers turn it into the JSON shape
                raise HTTPException(413, message)
            return event

        await self.app(scope, counted, send)
