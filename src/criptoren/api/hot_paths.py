"""The busiest routes' ordinary requests, answered without FastAPI's per-request machinery.

FastAPI routes a request through every route before it, solves dependencies, validates
and serialises with generic code: on a cached-token read that costs more than the read
(``bench/api.py``, docs/performance.md). For the routes named in :data:`HOT`, a request
needing nothing unusual is answered here with the route's own parts: its endpoint
function, its ``Call`` dependency, its body and response fields, the unit of work and the
application's exception handlers. Anything else (a query string, a body the route's
model refuses, another content type) goes on to the FastAPI route, which stays the one
definition: OpenAPI, validation errors, every other case.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from criptoren.api.asgi import header
from criptoren.api.deps import get_call, in_unit_of_work
from criptoren.api.exact_json import loads_exact

HOT = (
    ("GET", "/monitorar-par/{symbol}"),
    ("GET", "/api/v1/orders"),
    ("POST", "/posicionar-compra"),
    ("POST", "/registrar-compra"),
)
"""The routes ``bench/api.py`` measures against the bare framework."""

Handler = Callable[[Request, Any], Any]  # an exception handler: a response, or its awaitable


@dataclass(frozen=True, slots=True)
class HotRoute:
    """One route, taken apart once: how to call its endpoint and write its answer."""

    route: APIRoute
    call_name: str
    defaults: dict[str, Any]  # its query parameters' defaults (hot requests have none)
    body_name: str | None

    async def answer(self, request: Request, params: dict[str, str], body: Any) -> bytes:
        """Run the endpoint in a unit of work; its answer as the route would write it."""

        async def run() -> Any:
            values = {**self.defaults, **params, self.call_name: await get_call(request)}
            if self.body_name is not None:
                values[self.body_name] = body
            return await self.route.endpoint(**values)

        result = await in_unit_of_work(request.scope, run)
        if isinstance(result, Response):  # written by the endpoint itself
            return bytes(result.body)
        assert self.route.response_field is not None
        return self.route.response_field.serialize_json(result)


def hot_route(route: APIRoute) -> HotRoute:
    """``route`` as a :class:`HotRoute`; a route whose shape this module does not cover fails."""
    dependant: Dependant = route.dependant
    [call] = dependant.dependencies
    plain = not (dependant.header_params or dependant.cookie_params or dependant.request_param_name)
    typed = all(field.field_info.annotation is str for field in dependant.path_params)
    shape = call.call is get_call and plain and typed and len(dependant.body_params) <= 1
    if not shape or not _written_as_is(route):
        raise TypeError(f"{route.path} does not have a hot route's shape")
    assert call.name is not None
    assert route.response_field is not None
    defaults = {field.name: field.get_default() for field in dependant.query_params}
    body_name = dependant.body_params[0].name if dependant.body_params else None
    return HotRoute(route, call.name, defaults, body_name)


class HotPaths:
    """ASGI middleware answering the :data:`HOT` routes' ordinary requests itself."""

    def __init__(self, app: ASGIApp, owner: FastAPI) -> None:
        self.app = app
        self.owner = owner
        self.routes: dict[str, list[HotRoute]] | None = None  # built at the first request
        self.handlers: dict[type[Exception], Handler] = {}
        self.answered = 0  # requests answered here (the others went on)
        owner.state.hot_paths = self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a hot request, or pass it on."""
        if scope["type"] != "http" or scope["query_string"]:
            await self.app(scope, receive, send)
            return
        if self.routes is None:
            self._build()
        assert self.routes is not None
        for hot in self.routes.get(scope["method"], ()):
            if (match := hot.route.path_regex.match(scope["path"])) is not None:
                await self._serve(hot, match.groupdict(), scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _build(self) -> None:
        wanted = {(method, path) for method, path in HOT}
        routes: dict[str, list[HotRoute]] = {}
        api_routes = (r for r in self.owner.router.routes if isinstance(r, APIRoute))
        for route in api_routes:  # every route is the app's own (create_app)
            for method in route.methods or ():
                if (method, route.path) in wanted:
                    routes.setdefault(method, []).append(hot_route(route))
                    wanted.discard((method, route.path))
        if wanted:
            raise LookupError(f"hot routes not found: {sorted(wanted)}")
        handlers = self.owner.exception_handlers.items()
        # Exception itself is the server error middleware's (it logs the traceback)
        self.handlers = {k: v for k, v in handlers if isinstance(k, type) and k is not Exception}
        self.routes = routes

    async def _serve(
        self, hot: HotRoute, params: dict[str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        request = Request(scope, receive)
        raw = b""
        try:
            body = None
            if hot.body_name is not None:
                raw = await _read_body(receive)  # over the size limit: a 413 raised here
                body = _valid_body(hot, scope, raw)
            if body is not REFUSED:
                scope["route"], scope["path_params"] = hot.route, params
                content = await hot.answer(request, params, body)
        except Exception as exc:
            if (handler := self._handler(exc)) is None:
                raise
            response = handler(request, exc)
            if inspect.isawaitable(response):
                response = await response
            await response(scope, receive, send)
            return
        if body is REFUSED:  # FastAPI says what is wrong with it
            await self.app(scope, _replay(raw, receive), send)
            return
        self.answered += 1
        await _send_json(send, hot.route.status_code or 200, content)

    def _handler(self, exc: Exception) -> Handler | None:
        for kind in type(exc).__mro__:
            if (handler := self.handlers.get(kind)) is not None:
                return handler
        return None


def _written_as_is(route: APIRoute) -> bool:
    """Whether the route writes its response model whole, as JSON (what a hot answer does)."""
    trimmed = (
        route.response_model_include
        or route.response_model_exclude
        or route.response_model_exclude_unset
        or route.response_model_exclude_defaults
        or route.response_model_exclude_none
    )
    json = getattr(route.response_class, "value", route.response_class) is JSONResponse
    return json and route.response_model_by_alias and not trimmed


REFUSED = object()
"""What :func:`_valid_body` gives for a body the route's model refuses."""


def _valid_body(hot: HotRoute, scope: Scope, raw: bytes) -> Any:
    """The body as the route's model, or :data:`REFUSED` when FastAPI should explain why."""
    if not header(scope, b"content-type").startswith("application/json"):
        return REFUSED
    try:
        parsed = loads_exact(raw)
    except ValueError:
        return REFUSED
    [field] = hot.route.dependant.body_params
    value, errors = field.validate(parsed, {}, loc=("body",))
    return REFUSED if errors else value


async def _read_body(receive: Receive) -> bytes:
    """The whole body; a client gone meanwhile leaves it short (then refused, and FastAPI
    answers as for any request), where Starlette's ``Request.body`` would raise."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(raw: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body over again, then waits as before."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    return again


async def _send_json(send: Send, status: int, content: bytes) -> None:
    headers = [(b"content-length", str(len(content)).encode()), (b"content-type", JSON)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


JSON = b"application/json"
