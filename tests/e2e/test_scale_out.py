"""Scale-out on PostgreSQL: ``criptoren api`` workers and ``criptoren engine`` processes.

Real processes against one scratch PostgreSQL database and the fake exchange (in a thread
of the test process): the API process never touches the market stream or executes; the
leader engine does; a standby takes over when the leader is killed (or cut from the
database); a stream client on the API process hears, through NOTIFY, what the engine did.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.support.cluster import (
    API,
    API_TWO_WORKERS,
    ENGINE,
    STREAM,
    SYMBOL,
    StreamRecorder,
    answers,
    cluster,
    health,
    leader_of,
    order,
    place,
    proxied,
    start,
    unannounced,
    wait_leader,
)
from tests.support.live import (
    CRIPTOREN,
    ServiceProcess,
    create_client,
    fake_exchange_in_thread,
    service_env,
)
from tests.support.processes import ExchangeDriver, migrated_postgres, poll_until

pytestmark = pytest.mark.slow  # real processes; started first under xdist


@pytest.fixture
def database_url() -> Iterator[str]:
    """A migrated PostgreSQL database of its own."""
    with migrated_postgres() as url:
        yield url


def test_standby_engine_takes_over_within_5s_and_executes_once(
    tmp_path: Path, database_url: str
) -> None:
    with cluster(tmp_path, database_url) as (exchange, env, probe), ExitStack() as stack:
        *engines, api = start(
            stack, (env, "engine-a", ENGINE), (env, "engine-b", ENGINE), (env, "api", API)
        )
        a, b = leader_of(engines)
        _, token = create_client(api, env, "failover")
        placed = place(api, token, order("buy", "lte", "59000"))
        exchange.wait_subscribed(STREAM)  # the leader streams the order's symbol
        assert [health(e)["leader"] for e in (a, b)] == [True, False]
        metrics = httpx.get(f"{a.base_url}/metrics", timeout=5).text
        assert "criptoren_engine_leader 1.0" in metrics

        a.kill()
        killed_at = time.monotonic()
        wait_leader(b, within=10)
        takeover = time.monotonic() - killed_at
        assert takeover <= 5.0, f"standby took {takeover:.2f}s to lead"
        assert "criptoren_engine_leader 1.0" in httpx.get(f"{b.base_url}/metrics").text

        exchange.wait_subscribed(STREAM)  # the new leader resumed the feed
        exchange.emit(SYMBOL, [Decimal("58990.00"), Decimal("58980.00")])
        poll_until(
            lambda: probe.count_status("executed") == 1,
            within=15,
            what="the new leader to execute the order",
            describe=lambda: b.log()[-3000:],
        )
        trades = probe.engine_trades()
        assert [(t.order_id, t.price) for t in trades] == [(placed["id"], Decimal("58990"))]
        assert not b.errors(), b.log()


def test_leader_cut_from_the_database_stands_by_and_can_lead_again(
    tmp_path: Path, database_url: str
) -> None:
    with cluster(tmp_path, database_url) as (exchange, env, probe), ExitStack() as stack:
        proxy, cut_off_env = proxied(exchange, env, stack)
        a, api = start(stack, (cut_off_env, "engine-a", ENGINE), (env, "api", API))
        wait_leader(a)
        (b,) = start(stack, (env, "engine-b", ENGINE))
        _, token = create_client(api, env, "partition")
        place(api, token, order("buy", "lte", "59000"))
        exchange.wait_subscribed(STREAM)

        exchange.loop.run(proxy.cut())  # engine A's every database connection drops
        poll_until(lambda: not health(a)["leader"], within=3, what="A to stop leading")
        wait_leader(b, within=5)
        exchange.loop.run(proxy.restore())
        assert not health(a)["leader"]  # B holds the lock: A stands by

        b.kill()
        wait_leader(a, within=5)  # the deposed engine leads again, in the same process
        exchange.wait_subscribed(STREAM)
        exchange.emit(SYMBOL, [Decimal("58990.00")])
        poll_until(lambda: probe.count_status("executed") == 1, within=15, what="execution")
        assert probe.engine_trades_count() == 1
        assert "no longer the leader" in a.log()


# --- 2. an order placed through an API process, executed by the engine, streamed ------


def test_api_process_streams_what_the_engine_process_does_and_hands_it_strategies(
    tmp_path: Path, database_url: str
) -> None:
    with cluster(tmp_path, database_url) as (exchange, env, _), ExitStack() as stack:
        # two uvicorn workers behind one port: the stream and the REST calls may land on
        # different processes, which only NOTIFY connects
        engine, api = start(stack, (env, "engine", ENGINE), (env, "api", API_TWO_WORKERS))
        wait_leader(engine)
        poll_until(lambda: answers(api), within=15, what="a worker to listen")
        _, token = create_client(api, env, "streamer")
        seen = asyncio.run(_stream_one_order(api, token, exchange))
        # a strategy enabled through the API process runs in the engine process
        strategy = {"symbol": SYMBOL, "kind": "channel-breakout", "interval": "1m",
                    "window": 20, "quantity": "0.001"}  # fmt: skip
        auth = {"Authorization": f"Bearer {token}"}
        created = httpx.post(f"{api.base_url}/api/v1/strategies", json=strategy, headers=auth)
        assert created.status_code == 201, created.text
        exchange.wait_subscribed("btcusdt@kline_1m")
        assert not api.errors(), api.log()
        assert not engine.errors(), engine.log()
    kinds = [(m["type"], m.get("event")) for m in seen]
    assert kinds[0] == ("snapshot", None)
    orders = [m for m in seen if m["type"] == "order"]
    assert [m["event"] for m in orders] == ["placed", "triggered", "executed"]
    executed = orders[-1]
    assert executed["order"]["status"] == "executed"
    assert executed["trade"]["price"] == "59980.00000000"
    assert executed["order"]["last_price"] is not None
    prices = [m for m in seen if m["type"] == "price"]
    assert prices, kinds
    assert prices[-1]["price"] == "59970.00000000"
    positions = [m for m in seen if m["type"] == "position"]
    assert positions
    assert positions[-1]["position"]["quantity"] == "0.00100000"


async def _stream_one_order(
    api: ServiceProcess, token: str, exchange: ExchangeDriver
) -> list[dict[str, Any]]:
    url = f"ws://127.0.0.1:{api.port}/api/v1/stream"
    seen: list[dict[str, Any]] = []
    auth = {"Authorization": f"Bearer {token}"}
    async with connect(url, additional_headers=auth) as ws:

        async def until(done: Any) -> dict[str, Any]:
            try:
                async with asyncio.timeout(15):
                    while True:
                        message: dict[str, Any] = json.loads(await ws.recv())
                        seen.append(message)
                        if done(message):
                            return message
            except TimeoutError:
                raise AssertionError(f"not received; got {seen}") from None

        await until(lambda m: m["type"] == "snapshot")
        await ws.send(json.dumps({"type": "watch", "symbols": [SYMBOL]}))
        await until(lambda m: m["type"] == "watchlist")
        await asyncio.to_thread(place, api, token, order("buy", "lte", "59990"))
        await until(lambda m: m.get("event") == "placed")
        await asyncio.to_thread(exchange.wait_subscribed, STREAM)
        await asyncio.to_thread(exchange.emit, SYMBOL, [Decimal("59980.00")])
        await until(lambda m: m.get("event") == "executed")
        await until(lambda m: m["type"] == "position")
        await asyncio.to_thread(exchange.emit, SYMBOL, [Decimal("59970.00")])
        await until(lambda m: m["type"] == "price" and m["price"] == "59970.00000000")
    return seen


def test_stream_catches_up_on_what_its_listener_missed(tmp_path: Path, database_url: str) -> None:
    with cluster(tmp_path, database_url) as (exchange, env, probe), ExitStack() as stack:
        proxy, proxied_env = proxied(exchange, env, stack)
        engine, api = start(stack, (env, "engine", ENGINE), (proxied_env, "api", API))
        wait_leader(engine)
        _, token = create_client(api, env, "catch-up")
        recorder = StreamRecorder(exchange.loop, api, token)
        stack.callback(recorder.close)
        placed = place(api, token, order("buy", "lte", "59990"))
        exchange.wait_subscribed(STREAM)
        poll_until(lambda: (placed["id"], "placed") in recorder.events(), within=10, what="placed")

        exchange.loop.run(proxy.cut())  # the API's listener (and pool) lose the database
        exchange.emit(SYMBOL, [Decimal("59980.00")])
        poll_until(lambda: probe.count_status("executed") == 1, within=10, what="execution")
        exchange.loop.run(proxy.restore())  # the NOTIFY of the execution went to nobody

        poll_until(
            lambda: (placed["id"], "executed") in recorder.events(),
            within=15,
            what="the caught-up executed event",
            describe=lambda: str(recorder.messages),
        )
        executed = next(m for m in recorder.messages if m.get("event") == "executed")
        assert executed["trade"]["price"] == "59980.00000000"
        assert "caught up on 1 order changes" in api.log()


def indexed(engine: ServiceProcess) -> int:
    """How many waiting orders the leader's index holds."""
    return int(health(engine)["engine"]["waiting_orders"])


UNANNOUNCED_COPY = """INSERT INTO positioned_orders (client_id, symbol_id, symbol, type,
    target_price, quantity, status, condition, reference_price, client_order_id, origin,
    created_at, updated_at)
    SELECT client_id, symbol_id, symbol, type, target_price, quantity, 'waiting', condition,
    reference_price, 'copy-' || :n, origin, now(), now() FROM positioned_orders WHERE id = :id
    RETURNING id"""


def test_engine_catches_up_on_orders_no_notification_told_of(
    tmp_path: Path, database_url: str
) -> None:
    with cluster(tmp_path, database_url) as (exchange, env, probe), ExitStack() as stack:
        engine, api = start(stack, (env, "engine", ENGINE), (env, "api", API))
        wait_leader(engine)
        _, token = create_client(api, env, "catch-up")
        placed = [place(api, token, order("buy", "lte", "59990")) for _ in range(3)]
        exchange.wait_subscribed(STREAM)
        poll_until(lambda: indexed(engine) == 3, within=10, what="the 3 orders indexed")

        # as an API process killed between its commit and its NOTIFY would leave them
        first = placed[0]["id"]
        copies = [unannounced(probe, UNANNOUNCED_COPY, id=first, n=str(n)) for n in range(2)]
        poll_until(
            lambda: indexed(engine) == 5,
            within=15,
            what="the engine's catch-up to index the 2 orders no notification told of",
            describe=lambda: engine.log()[-3000:],
        )
        exchange.emit(SYMBOL, [Decimal("59980.00")])
        poll_until(lambda: probe.count_status("executed") == 5, within=15, what="5 executed")
        executed = {o.id for o in probe.orders() if o.status == "executed"}
        assert executed == {o["id"] for o in placed} | set(copies)
        assert probe.engine_trades_count() == 5  # each once
        assert not engine.errors(), engine.log()


def test_api_refuses_sqlite(tmp_path: Path) -> None:
    with fake_exchange_in_thread() as (_loop, fake):
        env = service_env(tmp_path, fake)
        for command in ("api", "engine"):
            done = _run_failing(env, command)
            assert done.count("\n") == 1, done
            assert "needs PostgreSQL" in done, done


def _run_failing(env: dict[str, str], command: str) -> str:
    done = subprocess.run(
        [CRIPTOREN, command], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1, done
    return done.stderr


# --- 3. chaos: 2 engines, 2 API processes, 500 orders, the leader killed twice --------
