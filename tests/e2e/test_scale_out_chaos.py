"""Chaos on the scaled-out shape: 2 engines, 2 API processes, 500 orders placed through
both, the recorded BTCUSDT capture streamed by the fake exchange, the leader killed
mid-burst twice. The ledger must equal the independent oracle, and a stream client of
each client (on the other API process than the one it places through) must receive every
event of its orders."""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cluster import (
    API,
    ENGINE,
    STREAM,
    SYMBOL,
    StreamRecorder,
    cluster,
    leader_of,
    start,
    wait_leader,
)
from tests.support.live import LoopThread, ServiceProcess, create_client
from tests.support.oracle_run import load_recording, price_range, random_specs
from tests.support.processes import (
    DbProbe,
    assert_ledger_matches_oracle,
    migrated_postgres,
    place_orders,
    poll_until,
)

pytestmark = pytest.mark.slow  # real processes; started first under xdist
FEE_RATE = Decimal("0.001")  # the paper default


@pytest.fixture
def database_url() -> Iterator[str]:
    """A migrated PostgreSQL database of its own."""
    with migrated_postgres() as url:
        yield url


CHAOS_SETTINGS = {
    "CRIPTOREN_ENGINE_BATCH_SIZE": "2",  # a burst is many transactions
    # 500 orders' events in a burst to one client, read by a thread of a loaded test process:
    # room for them all (closing a slow consumer with 4008 is tested in test_stream_slow.py)
    "CRIPTOREN_STREAM_BUFFER_MESSAGES": "4096",
}
SEGMENTS = (0, 1500, 3000, 4500)  # recorded trades emitted per phase


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
        tokens, streams = _clients_and_streams(apis, env, stack)
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
            describe=lambda: (
                f"cursor {probe.cursor(SYMBOL)} of {last_id}, triggered"
                f" {probe.count_status('triggered')}\n" + "".join(e.log()[-2000:] for e in engines)
            ),
        )
        logs = "".join(e.log() for e in engines)
        expected = assert_ledger_matches_oracle(probe, exchange, logs, SYMBOL, FEE_RATE)
        assert len(expected) > 100
        final = {o.id: o.status for o in probe.orders()}
        for orders, stream in zip(placed, streams, strict=True):
            _assert_every_event(stream, orders, final)


def _clients_and_streams(
    apis: list[ServiceProcess], env: dict[str, str], stack: ExitStack
) -> tuple[list[str], list[StreamRecorder]]:
    """A client per API process (with holdings to sell), each streaming from the other."""
    loop = LoopThread()
    stack.callback(loop.close)
    tokens, streams = [], []
    for n, api in enumerate(apis):
        _, token = create_client(api, env, f"chaos-{n}")
        _record_holdings(api, token)
        tokens.append(token)
        streams.append(StreamRecorder(loop, apis[1 - n], token))
        stack.callback(streams[-1].close)
    return tokens, streams


def _assert_every_event(
    stream: StreamRecorder, orders: list[dict[str, Any]], final: dict[int, str]
) -> None:
    """The stream received ``placed`` for every order and ``executed`` for every fill (a
    ``triggered`` may be missed: a leader killed between its commit and its notify leaves
    only the final state to the catch-up)."""
    wanted = {(o["id"], "placed") for o in orders}
    wanted |= {(o["id"], "executed") for o in orders if final[o["id"]] == "executed"}
    poll_until(
        lambda: wanted <= stream.events(),
        within=15,
        what="every order event on the stream",
        describe=lambda: str(sorted(wanted - stream.events())[:20]),
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
