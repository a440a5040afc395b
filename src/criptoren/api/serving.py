"""Uvicorn, configured for the push stream: keep-alive pings, and 1001 on shutdown."""

from __future__ import annotations

import gc
import logging
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from criptoren.api.access_log import log_config
from criptoren.api.bounded_http import BoundedHttpToolsProtocol
from criptoren.config import Settings
from criptoren.metrics import MULTIPROC_ENV, prepare_multiprocess_dir
from criptoren.stream.hub import GOING_AWAY

APP_FACTORY = "criptoren.api.app:create_app"  # what each worker process imports
# in-flight requests get this long; with the streams' close (≤ 2 s) and the engine's drain
# (≤ 2 s) the process exits within 10 s
SHUTDOWN_GRACE_SECONDS = 5
# uvicorn's supervisor kills a worker that does not answer its ping within this time, also
# while it starts; its 5 s default killed workers still importing on a loaded 2-core host
# (and their replacements are uvicorn's plain workers, which close streams with 1012);
# the price: a worker that really hangs is replaced after 30 s instead of 5 s
WORKER_HEALTHCHECK_SECONDS = 30
# an idle keep-alive connection is kept this long (uvicorn's default: 5 s). Clients keep
# theirs longer (requests/urllib3 for ever, httpx 5 s, load balancers 60 s): closing first
# races their next request, and a POST lost so leaves a client unsure whether its order
# was placed. Longer than the usual balancer's 60 s idle timeout, as nginx's 75 s.
KEEP_ALIVE_SECONDS = 75


# the garbage collector's first threshold: net allocations between two young collections
# (CPython's default: 700). See settle_heap.
YOUNG_COLLECTION_ALLOCATIONS = 20_000


def settle_heap() -> None:
    """Keep the cyclic garbage collector's full collections off the event loop's back.

    A full collection walks every tracked object while the loop, and every price, order
    and request, waits. In the stream benchmark (1,000 streams, 2,000 trades/s) they came
    every 20–30 s and took 130–250 ms, and the p99 of price staleness went from ≈ 25 ms
    to 150–270 ms in the stretches that held one (docs/performance.md, Stream). Called
    once the server has started:

    - the heap built at start-up (modules, the app, the SQLAlchemy metadata, the symbol
      rules: ≈ 163,000 objects), which lives as long as the process, is frozen: never
      walked again;
    - young collections come every 20,000 net allocations instead of 700, so objects that
      live a few hundred milliseconds (a message in flight, a send waiting for its
      socket) mostly die before they are promoted to the old generation; promotions are
      what make a full collection due (CPython runs one when those since the last exceed
      a quarter of the old generation). Measured in the same benchmark: no full
      collection in 80 s instead of three; a young collection takes 0.1–10 ms, and one
      of the middle generation, every 10–40 s, 50–100 ms.
    """
    gc.collect()  # what start-up left behind goes now, not frozen for ever
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS)


def lean_log_records() -> None:
    """Log records without the caller's file and line, thread and process (the logging
    HOWTO's "Optimization"): no format of a served process prints them, and it logs a line
    per request (uvicorn's access log). The caller's frame lookup alone cost ≈ 3 µs."""
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None


class SettledServer(uvicorn.Server):
    """A uvicorn server that, with ``settle``, settles the heap (:func:`settle_heap`) and
    leans its log records (:func:`lean_log_records`) once started: only in a process of its
    own (a test process runs servers without it)."""

    def __init__(self, config: uvicorn.Config, *, settle: bool = False) -> None:
        super().__init__(config)
        self.settle = settle

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's start-up (the lifespan, then listening), then the settling."""
        await super().startup(sockets)
        if self.settle:
            lean_log_records()
            settle_heap()


class StreamingServer(SettledServer):
    """Closes every push stream with 1001 (going away) before uvicorn's own shutdown.

    Left to itself, uvicorn would close open WebSockets with 1012 (service restart).
    """

    def __init__(
        self, config: uvicorn.Config, app: FastAPI | None = None, *, settle: bool = False
    ) -> None:
        super().__init__(config, settle=settle)
        self.app = app  # None in a worker process: found in the loaded app at shutdown

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        """As uvicorn, except that a SIGTERM that was drained ends the process with status 0
        (uvicorn re-raises it, so the process would die "killed by SIGTERM")."""
        with super().capture_signals():
            yield
            self._captured_signals = [s for s in self._captured_signals if s != signal.SIGTERM]

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop accepting, close the streams with 1001, then shut down as usual."""
        for server in self.servers:
            server.close()
        app = _fastapi_of(self.app or self.config.loaded_app)
        container = getattr(app.state, "container", None) if app is not None else None
        if container is not None:
            await container.streams.close_all(GOING_AWAY)
        await super().shutdown(sockets)


def _fastapi_of(app: object) -> FastAPI | None:
    """The FastAPI application inside uvicorn's wrappers (proxy headers, message logger)."""
    while app is not None and not isinstance(app, FastAPI):
        app = getattr(app, "app", None)
    return app


def server_config(
    app: FastAPI | str, settings: Settings, host: str, port: int, workers: int = 1
) -> uvicorn.Config:
    """Uvicorn settings: server pings every ``stream_ping_interval_seconds``, a peer that
    does not answer within ``stream_ping_timeout_seconds`` is dropped.

    No per-message deflate: a price is encoded once and the same bytes go to every stream;
    compressing per connection would cost CPU per message and a zlib state (tens of KiB)
    per connection, for messages of about a hundred bytes."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        log_config=log_config(),
        factory=isinstance(app, str),
        workers=workers,
        ws_ping_interval=settings.stream_ping_interval_seconds,
        ws_ping_timeout=settings.stream_ping_timeout_seconds,
        http=BoundedHttpToolsProtocol,  # httptools, with a limit on a request's head
        ws_per_message_deflate=False,
        # a stream message (auth, watch, ping: bytes to a few hundred) has the body limit of
        # a request, not uvicorn's 16 MiB, which any client could send before it authenticates
        ws_max_size=settings.max_body_bytes,
        # a request or stream that does not end by itself is cancelled, not waited for
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )


@contextmanager
def metrics_folder() -> Iterator[None]:
    """Where the workers keep their metric values: ``PROMETHEUS_MULTIPROC_DIR`` if set
    (emptied first), else a temporary folder removed afterwards."""
    chosen = os.environ.get(MULTIPROC_ENV)
    folder = Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix="criptoren-metrics-"))
    prepare_multiprocess_dir(folder)
    try:
        yield
    finally:
        if not chosen:
            shutil.rmtree(folder, ignore_errors=True)


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Run the application until SIGINT or SIGTERM (``workers`` processes when > 1)."""
    if workers > 1:
        # several processes need an import string: each builds its app from the environment
        from criptoren.api.workers import serve_workers

        config = server_config(APP_FACTORY, settings, host, port, workers)
        with metrics_folder():
            serve_workers(config)
        return
    from criptoren.api.app import create_app

    app = create_app(settings)
    StreamingServer(server_config(app, settings, host, port), app, settle=True).run()


def serve_engine(settings: Settings, host: str, port: int) -> None:
    """Run one engine process (leader or hot standby) and its health endpoints."""
    from criptoren.api.engine_app import create_engine_app

    app = create_engine_app(settings)
    SettledServer(server_config(app, settings, host, port), settle=True).run()
