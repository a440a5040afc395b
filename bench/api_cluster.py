"""bench/api.py's scaled-out mode: one ``criptoren engine`` + ``criptoren api --workers N``.

Run: ``.venv/bin/python bench/api.py --workers 1,2`` (a list of two or more counts selects
this mode; ``--quick`` for 3 s per endpoint). PostgreSQL only (a scratch database).

Per worker count N, on loopback: the fake exchange (as in bench/api.py), one
``criptoren engine`` (the leader: feed, index, execution; its own port), ``criptoren api
--workers N`` (N uvicorn worker processes on one socket, the rate limiter on the shared
PostgreSQL store) and the bare app with N uvicorn workers, measured right before (the
baseline, same run). The same endpoints, clients and wrk driving as bench/api.py; CPU per
request counts the API processes and the engine (writes are announced to it by NOTIFY).
Bars: as bench/api.py per worker count, and reads with the largest N ≥ 1.6× with 1.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from api import (
    VENV_BIN,
    Run,
    Server,
    Target,
    _own_cpu,
    bare_command,
    bare_endpoints,
    free_port,
    measure_rounds,
    prepare,
    process,
    report_run,
    report_scaling,
    service_endpoints,
    service_env,
    serving,
)
from scratch_db import PostgresUnreachable, scratch_postgres

CRIPTOREN = str(VENV_BIN / "criptoren")
ACCESS = re.compile(r'"[A-Z]+ (\S+) HTTP/1.1" (\d{3})')
STARTED = "Application startup complete."  # uvicorn logs it once per worker process


@dataclass(frozen=True)
class Cluster(Server):
    """``criptoren api`` (its pid) and the engine beside it: CPU time of both."""

    engine_pid: int = 0

    def cpu_seconds(self) -> float:
        """The API processes' CPU time plus the engine's."""
        return super().cpu_seconds() + _own_cpu(self.engine_pid)


@asynccontextmanager
async def engine_leading(env: dict[str, str], log: Path) -> AsyncIterator[int]:
    """A ``criptoren engine`` for the block, once its ``/healthz`` says leader; its pid."""
    base = f"http://127.0.0.1:{free_port()}"
    command = [CRIPTOREN, "engine", "--port", base.rsplit(":", 1)[1]]
    with process(command, log, env) as proc:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(timeout=2) as http:
            while not await _leads(http, base):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"the engine did not lead; see its log {log}")
                await asyncio.sleep(0.1)
        yield proc.pid


async def _leads(http: httpx.AsyncClient, base: str) -> bool:
    try:
        return bool((await http.get(f"{base}/healthz")).json()["leader"])
    except (httpx.TransportError, ValueError, KeyError):
        return False


async def all_started(log: Path, workers: int) -> None:
    """Wait until each of the ``workers`` worker processes has started (one answering is not
    enough), and fail if the supervisor replaced one."""
    deadline = time.monotonic() + 60
    while (text := await asyncio.to_thread(log.read_text)).count(STARTED) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{workers} workers did not start; see {log}")
        await asyncio.sleep(0.1)
    if "died" in text:
        raise RuntimeError(f"a worker died while starting; see {log}")


async def measure_count(
    workers: int, env: dict[str, str], engine_pid: int, args: argparse.Namespace, runs: list[Run]
) -> None:
    """The bare app and ``criptoren api`` with ``workers`` workers; appends the run."""
    title = f"PostgreSQL, engine + api --workers {workers}"
    run = Run(title, workers, runs[0] if runs else None)
    print(f"\n{title}", flush=True)
    bare_log = args.tmp / f"bare-{workers}.log"
    command = [CRIPTOREN, "api", "--workers", str(workers)]
    log = args.tmp / f"api-{workers}.log"
    async with serving(bare_command(workers), bare_log, None) as bare:
        await all_started(bare_log, workers)
        async with serving(command, log, env) as api:
            await all_started(log, workers)
            if not hasattr(args, "tokens"):
                args.tokens = await prepare(api.base)
            reader, writer_id, writer = args.tokens
            server = Cluster(api.base, api.pid, engine_pid)
            targets = [Target(bare, e, None) for e in bare_endpoints()]
            for e in service_endpoints(writer_id):
                targets.append(Target(server, e, writer if e.kind == "write" else reader))
            await measure_rounds(targets, args, run)
    await check_log(log, run)
    runs.append(run)


async def check_log(log: Path, run: Run) -> None:
    """Mark the run not valid if a worker died; print the non-2xx answers by route and status
    (wrk counts them without their status; the access log has it)."""
    text = await asyncio.to_thread(log.read_text)
    if "died" in text:
        run.note = f"not valid: a worker died during the measurement; see {log}"
    answers = ((m.group(1), m.group(2)) for m in ACCESS.finditer(text))
    refused = Counter(answer for answer in answers if not answer[1].startswith("2"))
    if refused:
        print(f"  non-2xx answers in the access log (route, status): {dict(refused)}")
    errors = Counter(line.split(" ", 3)[-1] for line in text.splitlines() if " ERROR " in line)
    for line, count in errors.most_common(3):
        print(f"  {count} × {line[:200]}")


async def run_cluster(args: argparse.Namespace, urls: tuple[str, str]) -> list[Run]:
    """Every worker count against one scratch database and one engine."""
    try:
        async with scratch_postgres("criptoren_bench_api_cluster") as (url, detail):
            print(f"database: {detail}")
            env = service_env(url, *urls)
            runs: list[Run] = []
            async with engine_leading(env, args.tmp / "engine.log") as engine_pid:
                for workers in args.counts:
                    await measure_count(workers, env, engine_pid, args, runs)
            return runs
    except PostgresUnreachable as exc:
        return [Run("PostgreSQL", note=f"not measured: {exc}")]


def report_cluster(runs: list[Run], counts: list[int]) -> bool:
    """One table per worker count, then the scaling of each count against the first."""
    ok = all([report_run(run) for run in runs])
    for workers in counts[1:]:
        ok = report_scaling([r for r in runs if r.workers == workers], workers) and ok
    return ok
