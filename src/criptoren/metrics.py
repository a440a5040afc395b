"""Every Prometheus metric of the service, how running totals reach them, how /metrics renders.

One module owns all metric objects (prometheus-client's process-wide registry). Hot paths
never touch them: the price book, the trigger engine and the stream hub keep plain integer
totals, and a :class:`Sampler` advances the counters to those totals once a second and
right before each scrape. Rare events (an execution, an HTTP request) record directly.

Several uvicorn workers (``criptoren serve --workers N``) use prometheus-client's
multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` names a folder where each worker keeps its
values in memory-mapped files, and whichever worker answers ``GET /metrics`` merges them
(counters and histograms summed, gauges as declared by their ``multiprocess_mode``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

# prometheus-client opens its files as the metrics below are created: the folder must exist
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

log = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_DURATION = Histogram(
    "criptoren_http_request_duration_seconds",
    "HTTP requests by method, route template and status (its _count is the request count).",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
RATE_LIMITED = Counter(
    "criptoren_rate_limited_requests", "Requests refused with 429 because their token ran dry."
)
TRADES_INGESTED = Counter(
    "criptoren_trades_ingested", "Aggregate trades applied to the price book (each id once)."
)
ORDERS_FIRED = Counter(
    "criptoren_orders_fired", "Waiting orders whose target a trade crossed (handed to execution)."
)
EXECUTIONS = Counter("criptoren_executions", "Execution outcomes committed, by result.", ["result"])
TICK_TO_COMMIT = Histogram(
    "criptoren_tick_to_commit_seconds",
    "From the exchange time of the crossing trade to the commit of the order's outcome.",
    buckets=LATENCY_BUCKETS,
)
FEED_RECONNECTS = Counter("criptoren_feed_reconnects", "Market-stream connections re-opened.")
GAP_FILLS = Counter(
    "criptoren_feed_gap_fills", "REST gap-fills of missed trades, by result.", ["result"]
)
GAP_FILLED_TRADES = Counter(
    "criptoren_feed_gap_filled_trades", "Trades recovered by gap-fills (not seen live)."
)


def _gauge(name: str, documentation: str, across_workers: str = "livemax") -> Gauge:
    """A gauge; ``across_workers`` merges the live workers' values (max or sum)."""
    return Gauge(name, documentation, multiprocess_mode=across_workers)  # type: ignore[arg-type]


STALE_SYMBOLS = _gauge("criptoren_stale_symbols", "Watched symbols with no market event lately.")
STREAM_CONNECTIONS = _gauge(
    "criptoren_stream_connections", "Open push streams (WebSocket /api/v1/stream).", "livesum"
)
STREAM_DROPPED = Counter(
    "criptoren_stream_dropped",
    "Push streams closed with 4008: a slow client's buffer of orders/positions overflowed.",
)
OUTBOX_BACKLOG = _gauge(
    "criptoren_outbox_backlog",
    "Outbox messages not delivered yet (pending, as the delivery worker last counted them).",
)
ALERTS_INDEXED = _gauge(
    "criptoren_alerts_indexed", "Alerts in the engine's index (evaluated on every trade)."
)
ENGINE_LEADER = _gauge(
    "criptoren_engine_leader", "1 while this process is the engine leader (executes orders)."
)
ENGINE_PAUSED = _gauge(
    "criptoren_engine_paused", "1 while execution waits for the database to come back."
)

EXECUTED = EXECUTIONS.labels(result="executed")
FAILED = EXECUTIONS.labels(result="failed")


class Sampler:
    """Copies running totals and levels kept elsewhere into the metrics, on demand or
    periodically; a reading that fails is skipped (metrics never break the service).

    Anything with a level to export registers it in the composition root, e.g.
    ``sampler.add_gauge(OUTBOX_BACKLOG, lambda: notifier.backlog)``.
    """

    def __init__(self) -> None:
        self._counters: list[tuple[Counter, Callable[[], int], list[int]]] = []
        self._gauges: list[tuple[Gauge, Callable[[], float]]] = []
        self._task: asyncio.Task[None] | None = None

    def add_counter(self, counter: Counter, total: Callable[[], int]) -> None:
        """Advance ``counter`` by what ``total()`` grew since the last sample."""
        self._counters.append((counter, total, [total()]))

    def add_gauge(self, gauge: Gauge, level: Callable[[], float]) -> None:
        """Set ``gauge`` to ``level()`` at every sample."""
        self._gauges.append((gauge, level))

    def sample(self) -> None:
        """Bring every registered metric up to date."""
        for counter, total, last in self._counters:
            with contextlib.suppress(Exception):
                now = total()
                if now > last[0]:
                    counter.inc(now - last[0])
                last[0] = now
        for gauge, level in self._gauges:
            with contextlib.suppress(Exception):
                gauge.set(level())

    def start(self, period: float = 1.0) -> None:
        """Sample every ``period`` seconds (other workers' values reach a scrape this way)."""
        self._task = asyncio.create_task(self._run(period), name="criptoren-metrics")

    async def stop(self) -> None:
        """Stop sampling, after a last sample."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.sample()

    async def _run(self, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            self.sample()


def render() -> bytes:
    """The exposition text: this process's registry, or every worker's files merged."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def prepare_multiprocess_dir(folder: Path) -> None:
    """Create ``folder`` or delete its metric files, and point workers at it: values of a
    previous run, or of dead workers' pids, must not add to this run's totals."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = str(folder)


def forget_this_process() -> None:
    """Drop this worker's live gauges (called as a worker stops)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
