"""The FastAPI application and its lifespan (which starts and stops the container)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from criptoren import __version__, metrics
from criptoren.api import (
    routes_admin,
    routes_alerts,
    routes_audit,
    routes_klines,
    routes_notifications,
    routes_pt,
    routes_strategies,
    routes_stream,
    routes_v1,
)
from criptoren.api.deps import ERROR_RESPONSES, ContainerDep, bearer, get_call
from criptoren.api.docs import document_bearer, install_docs, pages
from criptoren.api.errors import install_error_handlers
from criptoren.api.exact_json import BodyLimit
from criptoren.api.hot_paths import HotPaths
from criptoren.api.observability import install_metrics, metrics_route, require_admin_token
from criptoren.api.request_id import RequestId
from criptoren.bootstrap import Container, build_container
from criptoren.config import Role, Settings, get_settings
from criptoren.web.panel import install_panel, page

DESCRIPTION = """
Criptoren watches Binance spot prices and executes, for many clients, the buy and sell
orders they have positioned at target prices. Authenticate with `Authorization: Bearer
<token>`. Amounts are decimal strings (exact numbers are accepted too).
"""


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    """Build the application; ``container`` lets tests wire their own adapters."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = container or build_container(settings or get_settings())
        app.state.container = own
        await own.start()
        try:
            yield
        finally:
            await own.aclose()
            metrics.forget_this_process()

    app = FastAPI(
        title="Criptoren",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from the package (docs.pages), not from a CDN
        redoc_url=None,
    )
    install_docs(app)
    install_panel(app)
    install_error_handlers(app)
    chosen = settings or (container.settings if container is not None else get_settings())
    app.add_middleware(HotPaths, owner=app)  # innermost: the request id, metrics and limit apply
    app.add_middleware(BodyLimit, limit=chosen.max_body_bytes)
    app.add_middleware(RequestId)
    install_metrics(app)  # outermost: times every request, 413s included
    routers = [
        pages,
        page,
        metrics_route,
        routes_pt.router,
        routes_v1.router,
        routes_admin.router,
        routes_stream.router,
        routes_klines.router,
        routes_strategies.router,
        routes_audit.router,
        routes_alerts.router,
        routes_notifications.router,
        health,
    ]
    # every route as declared, built once per process: include_router would rebuild each
    # operation's fields for every application (see deps.api_router)
    for router in routers:
        app.router.routes.extend(router.routes)
    document_bearer(app, bearer, (get_call, require_admin_token), [app.router])
    return app


async def _healthz(container: ContainerDep, strict: bool = False) -> JSONResponse:
    """``ok``, or ``degraded`` with reasons; HTTP 200 either way, 503 if degraded and ``strict``."""
    report = await container.health.check()
    body = {
        "status": report.status,
        "reasons": report.reasons,
        "database": report.database,
        "mode": container.settings.mode.value,
        "venue": container.settings.venue,
        "feed": report.feed,
        "engine": {
            "waiting_orders": len(container.trigger_engine.index),
            "pending_executions": container.trigger_engine.pending(),
        },
    }
    if container.role is Role.API:  # the engine runs elsewhere: its own /healthz says
        body["role"] = container.role.value
        del body["engine"]
    return JSONResponse(body, status_code=503 if strict and report.reasons else 200)


health = APIRouter(responses=ERROR_RESPONSES, tags=["health"])
health.add_api_route("/healthz", _healthz, methods=["GET"])
