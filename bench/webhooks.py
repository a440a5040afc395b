"""Webhook throughput: the notification worker's deliveries/s against raw httpx posts.

Run: ``.venv/bin/python bench/webhooks.py`` (≈ 30 s; ``--events N``, ``--databases sqlite``).

The receiver is ``tests/support/receiver.py`` (a real HTTP/1.1 keep-alive server that
answers 200 at once) in a process of its own on loopback, so it does not share the
bench's event loop. Per database (a migrated temporary SQLite file, then a scratch
PostgreSQL database), one client with one webhook channel gets ``N`` events queued with
:func:`criptoren.db.outbox.enqueue` (one transaction each, timed apart); then the worker
(wired as the service wires it, ``CRIPTOREN_NOTIFY_CONCURRENCY`` connections) is started
and timed from its wake-up until its listener has seen every delivery recorded as
delivered (claim, signed POST, 2xx, the row settled: one transaction per delivery).
The baseline, measured right before in the same run: the same bodies POSTed with one
``httpx.AsyncClient`` by as many tasks as the worker has connections, no database, no
signature.

Also printed: deliveries per CPU second of the bench process (the worker, its HTTP client
and, on SQLite, the database itself), which a machine loaded by other jobs cannot hide.
Bar (issue 13): ≥ 500 deliveries/s. Exits 1 if it fails.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import insert
from sqlalchemy.engine import Connection

from criptoren.config import Settings
from criptoren.db import outbox
from criptoren.db.migrate import upgrade
from criptoren.db.models import Client, NotificationChannel
from criptoren.db.session import Database, TransactionRunner, create_engine
from criptoren.db.types import utcnow
from criptoren.domain.notifications import Delivery
from criptoren.notify.wiring import build_notifications
from scratch_db import PostgresUnreachable, scratch_postgres

ROOT = Path(__file__).resolve().parents[1]
BAR = 500.0
RECEIVER = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from tests.support.receiver import WebhookReceiver
async def main():
    receiver = await WebhookReceiver().start()
    print(receiver.port, flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def _receiver() -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-c", RECEIVER, str(ROOT)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


@dataclass(frozen=True)
class Rate:
    """Events over wall-clock seconds, and the CPU seconds this process spent on them."""

    events: int
    seconds: float
    cpu: float

    @property
    def per_second(self) -> float:
        """Events per wall-clock second."""
        return self.events / self.seconds

    @property
    def per_cpu_second(self) -> float:
        """Events per CPU second of this process (what a loaded machine cannot hide)."""
        return self.events / self.cpu


async def baseline(url: str, events: int, concurrency: int) -> Rate:
    """Raw httpx POSTs of an event-sized body to the receiver, per second (``concurrency``
    tasks posting one after another on one client)."""
    body = b'{"id":"00000000-0000-0000-0000-000000000000","type":"order.executed"}' * 3
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10) as http:

        async def post(count: int) -> None:
            for _ in range(count):
                response = await http.post(url, content=body)
                assert response.status_code == 200

        shares = [events // concurrency + (i < events % concurrency) for i in range(concurrency)]
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(post(share) for share in shares))
        return Rate(events, time.perf_counter() - started, time.process_time() - cpu)


def _client_and_channel(connection: Connection, url: str) -> int:
    now = utcnow()
    client = insert(Client).values(name="bench", api_token="sha256$bench", updated_at=now)
    client_id = int(connection.execute(client.returning(Client.id)).scalar_one())
    channel = {"client_id": client_id, "kind": "webhook", "target": url, "secret": "s" * 64}
    connection.execute(insert(NotificationChannel).values(created_at=now, **channel))
    return client_id


def _queue(connection: Connection, client_id: int) -> int:
    data = {"order_id": 1, "symbol": "BTCUSDT", "side": "buy", "price": "60000.00000000"}
    return outbox.enqueue(connection, client_id=client_id, event_type="order.executed", data=data)


@asynccontextmanager
async def database(url: str) -> AsyncIterator[Database]:
    """The service's request-path database on ``url``."""
    engine = create_engine(url)
    runner = TransactionRunner(url, engine)
    db = Database(url, engine, runner)
    try:
        yield db
    finally:
        await db.aclose()
        await runner.aclose()
        await engine.dispose()


async def measure(db_url: str, hook_url: str, events: int, concurrency: int) -> Rate:
    """Deliveries/s of the worker over ``events`` queued events (one channel each)."""
    settings = Settings(
        database_url=db_url,
        webhook_allow_private=True,
        admin_token=SecretStr("x" * 32),
        notify_concurrency=concurrency,
    )
    async with database(db_url) as db:
        client_id = await db.write(partial(_client_and_channel, url=hook_url))
        for _ in range(events):
            await db.write(partial(_queue, client_id=client_id))
        _, worker = build_notifications(settings, db)
        done, delivered = asyncio.Event(), 0

        def on_attempt(_delivery: Delivery, error: str | None, _dead: bool) -> None:
            nonlocal delivered
            assert error is None, error
            delivered += 1
            if delivered == events:
                done.set()

        worker.add_listener(on_attempt)
        started, cpu = time.perf_counter(), time.process_time()
        worker.start()
        await asyncio.wait_for(done.wait(), 120)
        rate = Rate(events, time.perf_counter() - started, time.process_time() - cpu)
        await worker.stop()
        await worker.aclose()
        return rate


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--concurrency", type=int, default=Settings().notify_concurrency)
    args = parser.parse_args()
    process, port = _receiver()
    hook = f"http://127.0.0.1:{port}/hook"
    failed = False
    try:
        for name in args.databases.split(","):
            raw = await baseline(hook, args.events, args.concurrency)
            if name == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    url = f"sqlite+aiosqlite:///{tmp}/bench.db"
                    await upgrade(url)
                    rate = await measure(url, hook, args.events, args.concurrency)
            else:
                try:
                    async with scratch_postgres("criptoren_bench_webhooks") as (url, _):
                        rate = await measure(url, hook, args.events, args.concurrency)
                except PostgresUnreachable as exc:
                    print(f"postgres: skipped ({exc})")
                    continue
            verdict = "PASS" if rate.per_second >= BAR else "FAIL"
            failed |= rate.per_second < BAR
            print(
                f"{name}: {args.events} webhooks, worker {rate.per_second:,.0f}/s "
                f"({rate.per_cpu_second:,.0f} per CPU s), raw httpx {raw.per_second:,.0f}/s "
                f"({raw.per_cpu_second:,.0f} per CPU s); worker/raw "
                f"{rate.per_second / raw.per_second:.0%} (per CPU s "
                f"{rate.per_cpu_second / raw.per_cpu_second:.0%}); bar ≥ {BAR:.0f}/s: {verdict}"
            )
    finally:
        process.kill()
        process.wait()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
