"""Scale-out on PostgreSQL: ``criptoren api`` workers and ``criptoren engine`` processes.

Real processes against one scratch PostgreSQL database and the fake exchange (in a thread
of the test process): the API process never touches the market stream or executes; the
leader engine does; a standby takes over when the leader is killed; a stream client on
the API process hears, through NOTIFY, what the engine did.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect

from criptoren.db.migrate import upgrade
from criptoren.fake_exchange import FakeExchange
from tests.support.databases import skip_or_fail
from tests.support.live import (
    CRIPTOREN,
    LoopThread,
    ServiceProcess,
    create_client,
    fake_exchange_in_thread,
    service_env,
)
from tests.support.oracle_run import load_recording, price_range, random_specs
from tests.support.processes import (
    DbProbe,
    ExchangeDriver,
    assert_ledger_matches_oracle,
    place_orders,
    poll_until,
    scratch_postgres,
)
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow  # real processes; started first under xdist
SYMBOL = "BTCUSDT"
STREAM = "btcusdt@aggTrade"
START = Decimal("60000.00")
FEE_RATE = Decimal("0.001")  # the paper default
SETTINGS = {
    "CRIPTOREN_CURSOR_FLUSH_SECONDS": "0.2",
    "CRIPTOREN_LEADER_POLL_SECONDS": "0.2",
    "CRIPTOREN_NOTIFY_CATCH_UP_SECONDS": "0.5",
}
ENGINE = ("engine",)
API = ("api",)
API_TWO_WORKERS = ("api", "--workers", "2")
_serial = iter(range(1_000_000))


@pytest.fixture
def database_url() -> Iterator[str]:
    """A migrated PostgreSQL database of its own."""
    with scratch_postgres(f"criptoren_scale_{os.getpid()}_{next(_serial)}") as url:
        if url is None:
            skip_or_fail("PostgreSQL is not reachable on the test server")
            raise AssertionError("unreachable")
        asyncio.run(upgrade(url))
        yield url


@contextmanager
def cluster(tmp_path: Path, url: str) -> Iterator[tuple[ExchangeDriver, dict[str, str], DbProbe]]:
    """The fake exchange (with a first BTCUSDT trade), the processes' environment, a probe."""
    with fake_exchange_in_thread() as (loop, fake):
        exchange = ExchangeDriver(loop, fake)
        exchange.emit(SYMBOL, [START])
        env = _env(tmp_path, fake, url)
        probe = DbProbe(url)
        try:
            yield exchange, env, probe
        finally:
            probe.close()


def _env(tmp_path: Path, fake: FakeExchange, url: str) -> dict[str, str]:
    env = service_env(tmp_path, fake, **SETTINGS)
    env["CRIPTOREN_DATABASE_URL"] = url
    return env


def health(engine: ServiceProcess) -> dict[str, Any]:
    """An engine's ``/healthz``."""
    response = httpx.get(f"{engine.base_url}/healthz", timeout=5)
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_leader(engine: ServiceProcess, within: float = 15.0) -> None:
    """Block until ``engine`` reports itself leader."""
    poll_until(
        lambda: health(engine)["leader"],
        within=within,
        what=f"{engine.name} to lead",
        describe=lambda: engine.log()[-3000:],
    )


def start(
    stack: ExitStack, *specs: tuple[dict[str, str], str, tuple[str, ...]]
) -> list[ServiceProcess]:
    """Spawn every process at once (start-up is mostly imports), then wait until each listens."""
    processes = [ServiceProcess(env, name, command) for env, name, command in specs]
    for process in processes:
        stack.callback(process.stop)
    return [process.wait_ready() for process in processes]


def leader_of(engines: list[ServiceProcess]) -> tuple[ServiceProcess, ServiceProcess]:
    """The leader and the standby, once exactly one of the two engines leads."""
    leading = poll_until(
        lambda: [e for e in engines if health(e)["leader"]],
        within=15,
        what="an engine to lead",
        describe=lambda: "".join(e.log()[-2000:] for e in engines),
    )
    assert len(leading) == 1, "two leaders"
    (leader,) = leading
    return leader, next(e for e in engines if e is not leader)


def _answers(service: ServiceProcess) -> bool:
    """Whether ``/healthz`` answers (uvicorn names the port before its workers listen)."""
    try:
        return httpx.get(f"{service.base_url}/healthz", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def order(side: str, condition: str, target: str) -> dict[str, str]:
    """An order body for ``/api/v1/orders``."""
    return {"symbol": SYMBOL, "side": side, "condition": condition,
            "target_price": target, "quantity": "0.001"}  # fmt: skip


def place(api: ServiceProcess, token: str, body: dict[str, str]) -> dict[str, Any]:
    """Place one order through the API process."""
    auth = {"Authorization": f"Bearer {token}"}
    response = httpx.post(f"{api.base_url}/api/v1/orders", json=body, headers=auth, timeout=10)
    assert response.status_code == 201, response.text
    return dict(response.json())


# --- 1. two engines: one leader; kill -9 it, the standby takes over -------------------


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
        proxy, cut_off_env = _proxied(exchange, env, stack)
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
        poll_until(lambda: _answers(api), within=15, what="a worker to listen")
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
        proxy, proxied_env = _proxied(exchange, env, stack)
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


def _proxied(
    exchange: ExchangeDriver, env: dict[str, str], stack: ExitStack
) -> tuple[TcpProxy, dict[str, str]]:
    """A cuttable TCP proxy to the database, and ``env`` with the URL through it."""
    real = make_url(env["CRIPTOREN_DATABASE_URL"])
    proxy = exchange.loop.run(TcpProxy(real.host or "127.0.0.1", real.port or 5432).start())
    stack.callback(lambda: exchange.loop.run(proxy.aclose()))
    through = real.set(port=proxy.port).render_as_string(hide_password=False)
    return proxy, {**env, "CRIPTOREN_DATABASE_URL": through}


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

CHAOS_SETTINGS = {
    "CRIPTOREN_ENGINE_BATCH_SIZE": "2",  # a burst is many transactions
    # 500 orders' events in a burst to one client, read by a thread of a loaded test process:
    # room for them all (closing a slow consumer with 4008 is tested in test_stream_slow.py)
    "CRIPTOREN_STREAM_BUFFER_MESSAGES": "4096",
}
SEGMENTS = (0, 1500, 3000, 4500)  # recorded trades emitted per phase


class StreamRecorder:
    """A stream client reading in the background (on a loop thread) into ``messages``."""

    def __init__(self, loop: LoopThread, api: ServiceProcess, token: str) -> None:
        self.messages: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self.loop = loop
        self.ws: ClientConnection | None = None
        url = f"ws://127.0.0.1:{api.port}/api/v1/stream"
        self.future = asyncio.run_coroutine_threadsafe(self._read(url, token), loop.loop)
        assert self.ready.wait(15), "the stream did not start"

    async def _read(self, url: str, token: str) -> None:
        async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            self.ws = ws
            async for raw in ws:
                self.messages.append(json.loads(raw))
                self.ready.set()

    def events(self) -> set[tuple[int, str]]:
        """(order id, event) of every order message received."""
        return {(m["order"]["id"], m["event"]) for m in self.messages if m["type"] == "order"}

    def close(self) -> None:
        """Close the stream (and wait until the reader ended)."""
        if self.ws is not None:
            self.loop.run(self.ws.close())
        self.future.result(10)


def test_chaos_two_engines_two_apis_leader_killed_twice(tmp_path: Path, database_url: str) -> None:
    records = load_recording()[: SEGMENTS[-1]]
    low, high = price_range(records)
    specs = random_specs(random.Random(14), 500, low, high, cancel_share=0.0)
    with cluster(tmp_path, database_url) as (exchange, env, probe), ExitStack() as stack:
        env.update(CHAOS_SETTINGS)
        *engines, api_1, api_2 = start(
            stack, *[(env, f"engine-{n}", ENGINE) for n in "ab"],
            *[(env, f"api-{n}", API) for n in (1, 2)],
        )  # fmt: skip
        apis = [api_1, api_2]
        engines = list(leader_of(engines))
        loop = LoopThread()
        stack.callback(loop.close)
        tokens, streams = [], []
        for n, api in enumerate(apis):
            _, token = create_client(api, env, f"chaos-{n}")
            _record_holdings(api, token)
            tokens.append(token)
            # each client watches from the other API process than the one it places through
            streams.append(StreamRecorder(loop, apis[1 - n], token))
            stack.callback(streams[-1].close)
        with ThreadPoolExecutor(2) as pool:  # through both API processes at once
            placing = [
                pool.submit(place_orders, api.base_url, token, [s.body() for s in specs[n::2]])
                for n, (api, token) in enumerate(zip(apis, tokens, strict=True))
            ]
            placed = [future.result() for future in placing]
        exchange.wait_subscribed(STREAM)
        for phase in range(3):
            before = probe.engine_trades_count()
            exchange.emit_records(SYMBOL, records[SEGMENTS[phase] : SEGMENTS[phase + 1]])
            if phase < 2:
                engines = _kill_leader_mid_burst(probe, engines, before, env, stack)
        last_id = exchange.tape(SYMBOL)[-1].agg_id
        poll_until(
            lambda: probe.cursor(SYMBOL) == last_id and probe.count_status("triggered") == 0,
            within=30,
            what="the last leader to process every emitted trade",
            describe=lambda: "".join(e.log()[-2000:] for e in engines),
        )
        logs = "".join(e.log() for e in engines)
        expected = assert_ledger_matches_oracle(probe, exchange, logs, SYMBOL, FEE_RATE)
        assert len(expected) > 100
        final = {o.id: o.status for o in probe.orders()}
        for orders, stream in zip(placed, streams, strict=True):
            wanted = {(o["id"], "placed") for o in orders}
            wanted |= {(o["id"], "executed") for o in orders if final[o["id"]] == "executed"}
            poll_until(
                lambda wanted=wanted, stream=stream: wanted <= stream.events(),
                within=15,
                what="every order event on the stream",
                describe=lambda wanted=wanted, stream=stream: str(
                    sorted(wanted - stream.events())[:20]
                ),
            )


def _record_holdings(api: ServiceProcess, token: str) -> None:
    trade = {"symbol": SYMBOL, "side": "buy", "price": "60000", "quantity": "2"}
    auth = {"Authorization": f"Bearer {token}"}
    response = httpx.post(f"{api.base_url}/api/v1/trades", json=trade, headers=auth, timeout=10)
    assert response.status_code == 201, response.text


def _kill_leader_mid_burst(
    probe: DbProbe,
    engines: list[ServiceProcess],
    before: int,
    env: dict[str, str],
    stack: ExitStack,
) -> list[ServiceProcess]:
    """SIGKILL the leader once it executed a few orders more than ``before``; a fresh standby
    replaces it (spawned, not waited for)."""
    leader, standby = engines
    poll_until(
        lambda: probe.engine_trades_count() >= before + 3,
        within=20,
        every=0.002,
        what="the leader to execute inside the burst",
        describe=lambda: leader.log()[-3000:],
    )
    leader.kill()
    standby.wait_ready()  # a standby spawned at the previous kill may still be starting
    wait_leader(standby, within=10)
    fresh = ServiceProcess(env, f"{leader.name}'", ENGINE)  # it starts while the burst goes on
    stack.callback(fresh.stop)
    return [standby, fresh]
