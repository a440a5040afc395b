"""API throughput: Criptoren's authenticated routes against a bare FastAPI app, same run.

Install the load generator once (Debian): ``apt-get update && apt-get install -y wrk``
Run: ``.venv/bin/python bench/api.py`` (≈ 4 min; ``--quick`` ≈ 1 min; ``--workers 2`` also
measures the reads with two uvicorn workers; ``--databases sqlite`` for one database).
``--workers 1,2`` (a list) measures the scaled-out shape instead, on PostgreSQL: one
``criptoren engine`` and ``criptoren api --workers N`` per count (bench/api_cluster.py).

Processes, all on loopback: the fake exchange (``python -m criptoren.fake_exchange``, a
random walk on BTCUSDT, 4 trades/s), the service as a user runs it (``criptoren serve``, one
uvicorn worker, settings from the environment, on a migrated temporary SQLite file and then
on a scratch PostgreSQL database, dropped at the end), and the baseline
(``uvicorn bare_app:app``: a bare FastAPI app, one GET and one POST with a pydantic body, no
database). ``wrk`` drives each endpoint with 32 keep-alive connections from one thread
(request bodies and headers from a small lua script written into a temporary directory).
Each database's table is measured in rounds (3 of 4 s; ``--quick``: 1 of 3 s): every
endpoint, the bare app's included, once per round, so each ratio divides figures taken
seconds apart; a table shows the median round's req/s, latencies and CPU, the worst round's
p99 beside it, and the median of the rounds' ratios (this 2-core machine is shared: the same
loop of Python runs 1.7× slower in one second than in the next). Reads use a client with 5
orders and 1 trade; writes use a second client, so the listings keep their size while the
writes pile up.
The buy target (1,000 USDT, price ≈ 60,000) never fires. Every response must be a 2xx.

Bars (design §5): authenticated reads ≥ 50 % of bare GET, writes ≥ 25 % of bare POST, on
both databases; p99 ≤ 50 ms at 32 connections; with ``--workers 2`` reads scale ≥ 1.6×.
Exits 1 if a measured bar fails, 2 if ``wrk`` is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

import exchange_process
from criptoren.db.migrate import upgrade
from scratch_db import PostgresUnreachable, scratch_postgres

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"
CONNECTIONS = 32
READ_BAR, WRITE_BAR, P99_BAR_MS, SCALE_BAR = 0.50, 0.25, 50.0, 1.6
BASELINE_OF = {"read": "bare GET /", "write": "bare POST /orders"}  # the bare route a kind divides
WRK_MISSING = "wrk is not installed: run `apt-get update && apt-get install -y wrk` (Debian)"
LUA_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  local socket = e.connect + e.read + e.write + e.timeout
  io.write(string.format("RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status, socket))
end
"""


@dataclass(frozen=True)
class Endpoint:
    """One measured request: its label, kind (read/write/bare/info), method, path and body."""

    label: str
    kind: str
    method: str
    path: str
    body: dict[str, object] | None = None


@dataclass
class Figure:
    """What wrk measured for one endpoint."""

    kind: str
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int  # connect, read, write errors and timeouts (2 s)
    cpu_us: float = 0.0  # server CPU time per request (steadier than req/s on a busy machine)
    p99_max_ms: float = 0.0  # the worst round's p99 (the median round's is p99_ms)


@dataclass
class Run:
    """One table: a database (or the scaling run) and its figures."""

    title: str
    workers: int = 1
    baseline: Run | None = None  # the 1-worker run a scaled run compares with
    figures: dict[str, Figure] = field(default_factory=dict)
    rounds: dict[str, list[Figure]] = field(default_factory=dict)  # each round's, when several
    note: str = ""


def bare_endpoints() -> list[Endpoint]:
    """The baseline's two routes."""
    body = {"cliente_id": 1, "symbol": "BTCUSDT", "preco_alvo": "1000", "quantidade": "0.01"}
    return [
        Endpoint("bare GET /", "bare", "GET", "/"),
        Endpoint("bare POST /orders", "bare", "POST", "/orders", body),
    ]


def service_endpoints(writer_id: int) -> list[Endpoint]:
    """Criptoren's measured routes; writes act for the writer client."""
    common = {"cliente_id": writer_id, "symbol": "BTCUSDT", "quantidade": "0.01"}
    order = {**common, "preco_alvo": "1000"}
    trade = {**common, "preco_executado": "60000"}
    return [
        Endpoint("GET / (no auth, info)", "info", "GET", "/"),
        Endpoint("GET /monitorar-par/BTCUSDT", "read", "GET", "/monitorar-par/BTCUSDT"),
        Endpoint("GET /api/v1/orders", "read", "GET", "/api/v1/orders"),
        Endpoint("POST /posicionar-compra", "write", "POST", "/posicionar-compra", order),
        Endpoint("POST /registrar-compra", "write", "POST", "/registrar-compra", trade),
    ]


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    """A server process under test: its base URL and process id."""

    base: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time used so far by the process and its live children (uvicorn's workers)."""
        pids = [self.pid]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # exited meanwhile
            if int(fields[1]) == self.pid:
                pids.append(int(stat.parent.name))
        return sum(_own_cpu(pid) for pid in pids)


def _own_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def process(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` (output to ``log``) for the block; SIGTERM and wait at the end."""
    with log.open("ab") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=out, cwd=ROOT, env=env)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def wait_ready(base: str, log: Path) -> None:
    """Poll ``GET /`` until the server answers (start-up is not part of the measurement)."""
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base, timeout=2) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get("/")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    tail = (await asyncio.to_thread(log.read_text, errors="replace"))[-3000:]
    raise RuntimeError(f"server at {base} did not start; its log ends with:\n{tail}")


def service_env(database_url: str, ws_url: str, rest_url: str) -> dict[str, str]:
    """``criptoren serve``'s settings, from the environment as a user would give them."""
    return {
        **os.environ,
        "CRIPTOREN_DATABASE_URL": database_url,
        "CRIPTOREN_BINANCE_WS_URL": ws_url,
        "CRIPTOREN_BINANCE_REST_URL": rest_url,
        "CRIPTOREN_ADMIN_TOKEN": ADMIN_TOKEN,
        # the rate limiter runs on every authenticated request but never refuses one: one
        # token sends thousands a second here (its leases are then 250,000 tokens)
        "CRIPTOREN_RATE_LIMIT_PER_SECOND": "1000000",
        "CRIPTOREN_RATE_LIMIT_BURST": "1000000",
    }


@asynccontextmanager
async def serving(
    command: list[str], log: Path, env: dict[str, str] | None
) -> AsyncIterator[Server]:
    """Start a server on a free port; yield it once it answers."""
    port = free_port()
    with process([*command, "--port", str(port)], log, env) as proc:
        base = f"http://127.0.0.1:{port}"
        await wait_ready(base, log)
        yield Server(base, proc.pid)


def serve_command(workers: int) -> list[str]:
    """The service, as ``criptoren serve``."""
    return [str(VENV_BIN / "criptoren"), "serve", "--workers", str(workers)]


def floor_endpoints(writer_id: int) -> list[Endpoint]:
    """The floor's two routes (``bench/floor_app.py``): the least work of a read and a write."""
    body = {
        "cliente_id": writer_id,
        "symbol": "BTCUSDT",
        "preco_alvo": "1000",
        "quantidade": "0.01",
    }
    return [
        Endpoint("floor GET /orders", "floor read", "GET", "/orders"),
        Endpoint("floor POST /orders", "floor write", "POST", "/orders", body),
    ]


def floor_env(database_url: str) -> dict[str, str]:
    """The floor app's one setting: the service's database, as a driver-level target."""
    target = database_url.replace("postgresql+asyncpg://", "postgresql://")
    target = target.replace("sqlite+aiosqlite:///", "")
    return {**os.environ, "FLOOR_DATABASE": target}


def bare_command(workers: int, module: str = "bare_app") -> list[str]:
    """The baseline, as ``uvicorn module:app`` (same uvicorn defaults as the service)."""
    app_dir = str(ROOT / "bench")
    base = [sys.executable, "-m", "uvicorn", f"{module}:app", "--app-dir", app_dir]
    return [*base, "--workers", str(workers)]


# --- load -----------------------------------------------------------------------------------


def lua_script(tmp: Path, endpoint: Endpoint, token: str | None) -> Path:
    """The wrk script: method, headers, body and the machine-readable summary line."""
    lines = [f'wrk.method = "{endpoint.method}"']
    if token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    if endpoint.body is not None:
        lines.append('wrk.headers["Content-Type"] = "application/json"')
        lines.append(f"wrk.body = '{orjson.dumps(endpoint.body).decode()}'")
    handle, name = tempfile.mkstemp(suffix=".lua", dir=tmp)
    with os.fdopen(handle, "w") as script:
        script.write("\n".join(lines) + LUA_DONE)
    return Path(name)


def wrk(base: str, endpoint: Endpoint, token: str | None, seconds: int, tmp: Path) -> Figure:
    """Drive one endpoint with ``CONNECTIONS`` connections for ``seconds``."""
    script = lua_script(tmp, endpoint, token)
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", str(script)]
    out = subprocess.run(
        [*command, base + endpoint.path], capture_output=True, text=True, check=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    requests, duration_us, p50, p99, status, errors = (int(x) for x in line.split()[1:])
    rps = requests / (duration_us / 1e6)
    return Figure(endpoint.kind, rps, p50 / 1000, p99 / 1000, status, errors)


async def check_once(base: str, endpoint: Endpoint, token: str | None) -> None:
    """One request before the load: a non-2xx answer stops the benchmark with its body."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        reply = await http.request(
            endpoint.method, endpoint.path, json=endpoint.body, headers=headers
        )
    checked(reply)


@dataclass(frozen=True)
class Target:
    """One endpoint, the server that answers it and the token it sends."""

    server: Server
    endpoint: Endpoint
    token: str | None


async def warm_up(target: Target, args: argparse.Namespace) -> None:
    """One checked request, then a second of load."""
    base, endpoint = target.server.base, target.endpoint
    await check_once(base, endpoint, target.token)
    await asyncio.to_thread(wrk, base, endpoint, target.token, 1, args.tmp)


async def measure_once(target: Target, args: argparse.Namespace, prefix: str = "") -> Figure:
    """One measurement of ``args.seconds``, with the server's CPU time per request."""
    server, endpoint = target.server, target.endpoint
    cpu = server.cpu_seconds()
    figure = await asyncio.to_thread(
        wrk, server.base, endpoint, target.token, args.seconds, args.tmp
    )
    requests = figure.rps * args.seconds
    figure.cpu_us = (server.cpu_seconds() - cpu) / max(requests, 1) * 1e6
    figure.p99_max_ms = figure.p99_ms
    label = f"{prefix}{endpoint.label}"
    print(f"  {label:<38} {figure.rps:>9,.0f} req/s {figure.cpu_us:>6,.0f} µs CPU/req", flush=True)
    return figure


async def measure_rounds(targets: list[Target], args: argparse.Namespace, run: Run) -> None:
    """Every target once per round, ``args.rounds`` rounds: each ratio compares figures taken
    seconds apart, and a slow spell of a shared machine spoils one round, not a whole row."""
    for target in targets:
        await warm_up(target, args)
    for n in range(args.rounds):
        prefix = f"round {n + 1}: " if args.rounds > 1 else ""
        for target in targets:
            figure = await measure_once(target, args, prefix)
            run.rounds.setdefault(target.endpoint.label, []).append(figure)
    for label, figures in run.rounds.items():
        run.figures[label] = combined(figures)


def combined(figures: list[Figure]) -> Figure:
    """The median round's req/s, latencies and CPU; the worst p99; every error counted."""
    return Figure(
        figures[0].kind,
        statistics.median(f.rps for f in figures),
        statistics.median(f.p50_ms for f in figures),
        statistics.median(f.p99_ms for f in figures),
        sum(f.non_2xx for f in figures),
        sum(f.socket_errors for f in figures),
        statistics.median(f.cpu_us for f in figures),
        max(f.p99_ms for f in figures),
    )


# --- the service ----------------------------------------------------------------------------


def checked(reply: httpx.Response) -> httpx.Response:
    """``reply`` if it is a 2xx; otherwise stop with its status and body."""
    if not reply.is_success:
        raise RuntimeError(f"{reply.request.url}: {reply.status_code} {reply.text[:300]}")
    return reply


async def new_client(http: httpx.AsyncClient, name: str) -> tuple[int, str]:
    """A client created through the admin API: its id and token."""
    reply = checked(await http.post("/api/v1/clients", json={"name": name}))
    return reply.json()["id"], reply.json()["token"]


async def prepare(base: str) -> tuple[str, int, str]:
    """Reader (5 orders, 1 trade, BTCUSDT monitored) and writer clients; both tokens."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=base, headers=admin, timeout=10) as http:
        reader_id, reader = await new_client(http, "bench-reader")
        writer_id, writer = await new_client(http, "bench-writer")
        auth = {"Authorization": f"Bearer {reader}"}
        checked(await http.get("/monitorar-par/BTCUSDT", headers=auth))
        common = {"cliente_id": reader_id, "symbol": "BTCUSDT", "quantidade": "0.01"}
        trade = {**common, "preco_executado": "60000"}
        checked(await http.post("/registrar-compra", json=trade, headers=auth))
        for i in range(5):
            order = {**common, "preco_alvo": str(1000 + i)}
            checked(await http.post("/posicionar-compra", json=order, headers=auth))
    return reader, writer_id, writer


async def measure_service(
    url: str, title: str, urls: tuple[str, str], args: argparse.Namespace, bare: Server
) -> list[Run]:
    """Bare endpoints, then the service's routes with 1 worker (and N for the reads)."""
    run = Run(title)
    print(f"\n{title}", flush=True)
    env = service_env(url, *urls)
    log = args.tmp / "service.log"
    async with AsyncExitStack() as stack:
        server = await stack.enter_async_context(serving(serve_command(1), log, env))
        reader, writer_id, writer = await prepare(server.base)
        endpoints = service_endpoints(writer_id)
        targets = [Target(bare, e, None) for e in bare_endpoints()]
        targets += [Target(server, e, writer if e.kind == "write" else reader) for e in endpoints]
        if args.floor:
            floor_command = bare_command(1, "floor_app")
            floor = await stack.enter_async_context(serving(floor_command, log, floor_env(url)))
            read, write = floor_endpoints(writer_id)
            targets += [Target(floor, read, reader), Target(floor, write, writer)]
        await measure_rounds(targets, args, run)
    runs = [run]
    if args.workers > 1:
        scaled = Run(f"{title.split()[0]}, {args.workers} workers", args.workers, run)
        print(f"\n{scaled.title}", flush=True)
        async with serving(serve_command(args.workers), log, env) as server:
            reads = [Target(server, e, reader) for e in endpoints if e.kind == "read"]
            await measure_rounds(reads, args, scaled)
        runs.append(scaled)
    return runs


async def run_all(args: argparse.Namespace) -> list[Run]:
    """Every table, against one exchange process and one bare app per worker count."""
    exchange = [sys.executable, "-m", "criptoren.fake_exchange", "--ws-port", "0"]
    exchange += ["--rest-port", "0", "--generate", "BTCUSDT"]
    proc, ws_url, rest_url = exchange_process.start_exchange(exchange)
    runs: list[Run] = []
    try:
        if args.counts:
            from api_cluster import run_cluster  # imports this module: not at the top

            return await run_cluster(args, (ws_url, rest_url))
        bare_log = args.tmp / "bare.log"
        async with serving(bare_command(1), bare_log, None) as bare:
            if "sqlite" in args.databases:
                url = f"sqlite+aiosqlite:///{args.tmp / 'api.db'}"
                await upgrade(url)
                runs += await measure_service(url, "SQLite", (ws_url, rest_url), args, bare)
            if "postgres" in args.databases:
                runs += await measure_postgres(args, (ws_url, rest_url), bare)
        if args.workers > 1:
            scaled = Run(
                f"bare app, {args.workers} workers", args.workers, runs[0] if runs else None
            )
            print(f"\n{scaled.title}", flush=True)
            async with serving(bare_command(args.workers), bare_log, None) as bare:
                await measure_rounds([Target(bare, bare_endpoints()[0], None)], args, scaled)
            runs.append(scaled)
    finally:
        proc.terminate()
        proc.wait(10)
    return runs


async def measure_postgres(
    args: argparse.Namespace, urls: tuple[str, str], bare: Server
) -> list[Run]:
    """The same on a scratch PostgreSQL database (a table saying why when unreachable)."""
    try:
        async with scratch_postgres("criptoren_bench_api") as (url, detail):
            return await measure_service(url, f"PostgreSQL {detail}", urls, args, bare)
    except PostgresUnreachable as exc:
        return [Run("PostgreSQL", note=f"not measured: {exc}")]


# --- report ---------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def report_run(run: Run) -> bool:
    """One table; True when its bars pass."""
    print(f"\n{run.title}")
    if run.note:
        print(f"  {run.note}")
        return False
    print(
        f"  {'endpoint':<30} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'p99 max':>7}"
        f" {'µs CPU':>7} {'ratio':>6}  bar"
    )
    ok = True
    for label, f in run.figures.items():
        base = BASELINE_OF.get(f.kind.removeprefix("floor "))
        line = f"  {label:<30} {f.rps:>9,.0f} {f.p50_ms:>7.2f} {f.p99_ms:>7.2f}"
        line += f" {f.p99_max_ms:>7.2f} {f.cpu_us:>7,.0f}"
        passed = f.non_2xx == 0 and f.socket_errors == 0
        if base is not None and base in run.figures:
            bar = READ_BAR if f.kind.endswith("read") else WRITE_BAR
            ratio = ratio_of(run, label, base)
            met = ratio >= bar and f.p99_ms <= P99_BAR_MS
            if f.kind.startswith("floor"):  # a lower bound shown beside the bars, not judged
                line += f" {ratio:>5.0%}  (a floor: {'meets' if met else 'misses'} the bar)"
            else:
                passed = passed and met
                line += f" {ratio:>5.0%}  ≥ {bar:.0%}, p99 ≤ {P99_BAR_MS:g} ms {verdict(passed)}"
        if f.non_2xx or f.socket_errors:
            line += f"  ({f.non_2xx} non-2xx, {f.socket_errors} socket errors/timeouts)"
        ok = ok and passed
        print(line)
    return ok


def ratio_of(run: Run, label: str, base: str) -> float:
    """``label``'s req/s over ``base``'s: the median of the rounds' ratios, each round's
    figures taken seconds apart (one round: the plain ratio)."""
    rounds, base_rounds = run.rounds.get(label, []), run.rounds.get(base, [])
    if len(rounds) > 1 and len(rounds) == len(base_rounds):
        return statistics.median(f.rps / b.rps for f, b in zip(rounds, base_rounds, strict=True))
    return run.figures[label].rps / run.figures[base].rps


def report_scaling(runs: list[Run], workers: int) -> bool:
    """Reads with N workers against 1 worker, with the bare app's own scaling for reference;
    each read also as a share of the bare app's GET with as many workers (its ceiling here:
    a read whose 1-worker figure is already above 1/1.6 of that ceiling cannot scale ×1.6
    on this machine, however well it scales)."""
    ok = True
    ceiling = _bare_scaled_rps(runs)
    print(f"\nScaling with {workers} workers (bar: reads ≥ {SCALE_BAR}×)")
    for run in runs:
        if run.baseline is None:
            continue
        for label, f in run.figures.items():
            base = run.baseline.figures.get(label)
            if base is None:
                continue
            scale = f.rps / base.rps
            passed = scale >= SCALE_BAR or f.kind != "read"  # the bar is on the reads
            ok = ok and passed
            mark = "(reference)" if f.kind != "read" else verdict(passed)
            share = (
                f"  ({f.rps / ceiling:.0%} of the bare app's)"
                if ceiling and f.kind == "read"
                else ""
            )
            print(f"  {run.title:<44} {label:<28} ×{scale:.2f} {mark}{share}")
    return ok


def _bare_scaled_rps(runs: list[Run]) -> float | None:
    """The bare app's GET req/s with several workers, when this run measured it."""
    for run in runs:
        if run.title.startswith("bare app") and run.workers > 1 and "bare GET /" in run.figures:
            return run.figures["bare GET /"].rps
    return None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--quick", action="store_true", help="one round of 3 s per endpoint (not 3 rounds of 4 s)"
    )
    parser.add_argument(
        "--seconds", type=int, default=None, help="seconds per endpoint in each round"
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="rounds: every endpoint of a table once in each"
    )
    parser.add_argument(
        "--workers",
        default="1",
        help="N: also measure reads with N serve workers; a list (1,2): engine + api --workers N",
    )
    parser.add_argument(
        "--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres"
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also measure bench/floor_app.py: the least work of a read and a write, raw ASGI",
    )
    args = parser.parse_args(argv)
    if args.seconds is None:
        args.seconds = 3 if args.quick else 4
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    args.databases = {d.strip() for d in args.databases.split(",") if d.strip()}
    counts = [int(n) for n in args.workers.split(",") if n.strip()]
    args.counts = counts if len(counts) > 1 else []
    args.workers = counts[0] if len(counts) == 1 else 1
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 if a bar fails, 2 without wrk."""
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2
    print(
        f"API throughput: wrk, {CONNECTIONS} connections, {args.rounds} round(s) of "
        f"{args.seconds} s per endpoint, "
        f"{os.cpu_count()} CPUs shared by wrk, the servers and the fake exchange"
    )
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="criptoren-bench-api-") as tmp:
        args.tmp = Path(tmp)
        runs = asyncio.run(run_all(args))
    if args.counts:
        from api_cluster import report_cluster

        ok = report_cluster(runs, args.counts)
    else:
        ok = all([report_run(run) for run in runs if run.workers == 1])
    if args.workers > 1:
        ok = report_scaling(runs, args.workers) and ok
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload average after: {load}; total {time.perf_counter() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
