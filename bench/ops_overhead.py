"""What the operations layer costs per request: the metrics middleware and the rate limiter.

Run: ``.venv/bin/python bench/ops_overhead.py`` (≈ 30 s; needs PostgreSQL on 127.0.0.1:5432
for the lease figure, skipped without it).

In-process, no sockets: a FastAPI app with one templated GET route is called through ASGI
directly, with and without :class:`RequestMetrics` around it, in alternating rounds (the
best round of each counts: the machine is shared), once with prometheus-client in
single-process mode and once, in a child process, in multiprocess mode (values in mmap
files, as under ``criptoren serve --workers N``). The rate limiter is timed on its hot
path (a token from the local lease) and on the in-memory store (SQLite deployments), and
one PostgreSQL lease round trip is timed on a scratch database (amortised over the 5
requests a lease serves at the default 20 requests/s). Figures are CPU-free wall times
per call in µs; the middleware's is the difference against the bare app in the same run.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROUNDS, CALLS = 7, 5_000
MULTIPROC_FLAG = "--multiprocess-child"


def _app() -> Callable[..., Awaitable[None]]:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/api/v1/orders/{order_id}")
    async def order(order_id: int) -> dict[str, int]:
        return {"id": order_id}

    return app


async def _per_call(call: Callable[[], Awaitable[None]], calls: int = CALLS) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await call()
    return (time.perf_counter() - started) / calls * 1e6


def _request(app: Callable[..., Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/api/v1/orders/7", "raw_path": b"/api/v1/orders/7",
        "root_path": "", "query_string": b"", "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: dict[str, object]) -> None:
        return None

    async def call() -> None:
        await app(dict(scope), receive, send)

    return call


class _Route:
    path = "/api/v1/orders/{order_id}"


async def _noop(scope: dict[str, object], _receive: object, send: Any) -> None:
    """An ASGI app that answers at once (as routing, it names the matched route)."""
    scope["route"] = _Route
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def middleware_costs() -> tuple[float, float, float, float]:
    """Best per-request µs: the FastAPI app bare and inside RequestMetrics, then an app
    that does nothing bare and inside it (that difference is the middleware alone)."""
    from criptoren.api.observability import RequestMetrics

    apps: list[Any] = [_app(), _noop]
    best = []
    for app in apps:
        timed = RequestMetrics(app)
        await _request(app)()  # the router is built lazily: one warm-up call each
        await _request(timed)()
        best_bare, best_timed = float("inf"), float("inf")
        for _ in range(ROUNDS):
            best_bare = min(best_bare, await _per_call(_request(app)))
            best_timed = min(best_timed, await _per_call(_request(timed)))
        best += [best_bare, best_timed]
    return best[0], best[1], best[2], best[3]


async def limiter_costs() -> tuple[float, float]:
    """Best µs of ``admit`` from a local lease, and against the in-memory store."""
    from criptoren.services.rate_limit import MemoryBuckets, RateLimiter

    huge = 10.0**12
    leased = RateLimiter(MemoryBuckets(), huge, int(huge), lease_size=10**9)
    memory = RateLimiter(MemoryBuckets(), huge, int(huge), lease_size=1)  # a lease per call
    best_leased, best_memory = float("inf"), float("inf")
    for _ in range(ROUNDS):
        best_leased = min(best_leased, await _per_call(lambda: leased.admit(1)))
        best_memory = min(best_memory, await _per_call(lambda: memory.admit(1)))
    return best_leased, best_memory


async def lease_round_trip() -> float | None:
    """µs of one lease from PostgreSQL (median of 500), or None without a server."""
    from criptoren.db.rate_buckets import DatabaseBuckets
    from criptoren.db.session import create_engine
    from scratch_db import PostgresUnreachable, scratch_postgres

    try:
        async with scratch_postgres("criptoren_bench_ops") as (url, _where):
            engine = create_engine(url)
            store = DatabaseBuckets(engine)
            timings = []
            try:
                for _ in range(500):
                    started = time.perf_counter()
                    await store.lease(1, 5, 20.0, 40.0)
                    timings.append((time.perf_counter() - started) * 1e6)
            finally:
                await store.aclose()
                await engine.dispose()
            return sorted(timings)[len(timings) // 2]
    except PostgresUnreachable:
        return None


def multiprocess_figures() -> list[float]:
    """The middleware figures in a child with ``PROMETHEUS_MULTIPROC_DIR`` set."""
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": folder}
        done = subprocess.run(
            [sys.executable, __file__, MULTIPROC_FLAG],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
    return [float(x) for x in done.stdout.split()]


def main() -> None:
    """Print the figures (or, as the child, the multiprocess middleware pair)."""
    sys.path.insert(0, str(Path(__file__).parent))
    if MULTIPROC_FLAG in sys.argv:
        print(*asyncio.run(middleware_costs()))
        return
    bare, timed, noop, noop_timed = asyncio.run(middleware_costs())
    _, _, mp_noop, mp_noop_timed = multiprocess_figures()
    leased, memory = asyncio.run(limiter_costs())
    lease = asyncio.run(lease_round_trip())
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = [
        ("FastAPI GET /api/v1/orders/{id}, ASGI", bare, timed),
        ("no-op ASGI app, one process", noop, noop_timed),
        ("no-op ASGI app, multiprocess (mmap)", mp_noop, mp_noop_timed),
    ]
    print(f"{'request metrics middleware':42} {'bare µs':>8} {'+metrics':>9} {'cost µs':>8}")
    for label, without, with_ in rows:
        print(f"{label:42} {without:8.1f} {with_:9.1f} {with_ - without:8.1f}")
    print(f"rate limiter, token from the local lease  {leased:8.2f} µs/request")
    print(f"rate limiter, a lease from memory (SQLite) {memory:7.2f} µs/lease")
    if lease is None:
        print("PostgreSQL lease: skipped (no server on 127.0.0.1:5432)")
    else:
        print(
            f"PostgreSQL lease round trip (median)      {lease:8.1f} µs "
            f"= {lease / 5:.1f} µs/request amortised over a 5-token lease"
        )


if __name__ == "__main__":
    main()
