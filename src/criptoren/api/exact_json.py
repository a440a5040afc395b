"""Request bodies parsed with every JSON number kept exact (``Decimal``, never ``float``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def _refuse_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not valid JSON", name, 0)


def loads_exact(body: bytes) -> Any:
    """``json.loads`` where 0.1 stays 0.1: floats become ``Decimal``; NaN/Infinity are refused."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("body is not UTF-8", repr(body[:40]), exc.start) from None
    return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)


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
