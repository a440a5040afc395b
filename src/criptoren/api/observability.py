"""``GET /metrics`` (admin token) and the ASGI middleware timing every HTTP request."""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from criptoren import metrics
from criptoren.api.deps import bearer_token
from criptoren.errors import Unauthorized

UNMATCHED = "unmatched"  # 404s of scanners must not mint one label per probed path


class RequestMetrics:
    """Pure ASGI middleware: one histogram observation per HTTP request, labelled by method,
    route template (``/api/v1/orders/{order_id}``, never the concrete path) and status."""

    def __init__(self, app: ASGIApp, histogram: Histogram = metrics.HTTP_DURATION) -> None:
        self.app = app
        self.histogram = histogram
        self._children: dict[tuple[str, str, int], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request from its first byte read to its last byte handed to the server
        (observed before that last send: a client that has its answer sees it counted)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif not message.get("more_body", False):
                self._child(scope, status).observe(time.perf_counter() - started)
                status = -1  # observed
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if status != -1:  # no complete answer: the server answers 500 or drops it
                self._child(scope, status or 500).observe(time.perf_counter() - started)

    def _child(self, scope: Scope, status: int) -> Histogram:
        route = scope.get("route")
        template = getattr(route, "path", UNMATCHED)
        key = (scope["method"], template, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.histogram.labels(*map(str, key))
        return child


async def require_admin_token(request: Request) -> None:
    """The admin token, checked without the database (metrics stay readable in an outage)."""
    admin = request.app.state.container.settings.admin_token
    given = bearer_token(request.headers) or ""
    if admin is None or not hmac.compare_digest(given.encode(), admin.get_secret_value().encode()):
        raise Unauthorized("GET /metrics needs the admin token (CRIPTOREN_ADMIN_TOKEN)")


async def get_metrics(request: Request) -> Response:
    """Prometheus text exposition of every metric (all workers merged)."""
    request.app.state.container.sampler.sample()
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)


def install_metrics(app: FastAPI) -> None:
    """Add the timing middleware (``GET /metrics`` is :data:`metrics_route`)."""
    app.add_middleware(RequestMetrics)


metrics_route = APIRouter(include_in_schema=False, dependencies=[Depends(require_admin_token)])
"""``GET /metrics``, undocumented in OpenAPI."""
metrics_route.add_api_route("/metrics", get_metrics, methods=["GET"])
