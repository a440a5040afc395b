"""``criptoren engine``'s own small HTTP app: ``/healthz`` (leader or standby) and ``/metrics``.

The engine process runs an :class:`EngineNode`: each time it takes the leader lock it
builds a fresh engine container (feed, trigger index, execution, strategy runner), and
halts it the moment the lock's connection is lost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from criptoren import __version__, metrics
from criptoren.bootstrap import Container, build_container
from criptoren.config import Role, Settings
from criptoren.db.notify import asyncpg_dsn
from criptoren.engine.leader import EngineNode, LeaderLock

LEADER = metrics.ENGINE_LEADER


def create_engine_app(settings: Settings) -> FastAPI:
    """The engine process: leader election, and the HTTP endpoints that report on it."""
    engine_settings = settings.model_copy(update={"role": Role.ENGINE})
    lock = LeaderLock(asyncpg_dsn(settings.database_url), settings.leader_poll_seconds)
    node = EngineNode(lock, lambda: build_container(engine_settings), LEADER.set)
    LEADER.set(0)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.node = node
        node.start()
        try:
            yield
        finally:
            await node.stop()

    app = FastAPI(title="Criptoren engine", version=__version__, lifespan=lifespan)
    app.add_api_route("/healthz", _healthz, methods=["GET"], tags=["health"])
    app.add_api_route("/metrics", _metrics, methods=["GET"], tags=["health"])
    return app


async def _healthz(request: Request) -> JSONResponse:
    """Whether this engine leads, and (when it does) its feed and index."""
    node: EngineNode = request.app.state.node
    body: dict[str, Any] = {"status": "ok", "role": "engine", "leader": node.leader}
    term = node.term
    if node.leader and isinstance(term, Container):
        body["feed"] = term.feed.health()
        body["engine"] = {
            "waiting_orders": len(term.trigger_engine.index),
            "pending_executions": term.trigger_engine.pending(),
        }
    return JSONResponse(body)


async def _metrics() -> Response:
    """Prometheus exposition (``criptoren_engine_leader`` and the engine's own metrics)."""
    return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)
