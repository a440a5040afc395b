"""Alerts fire on the recorded BTCUSDT session exactly where a naive loop says (issue 13).

The real capture is replayed through the fake exchange (its trade times kept, moved to just
after now, so windows and cooldowns are real trade time). Alerts of every condition, one-shot
and repeating, are created through the API after a warm-up, more after the first segment
(some of the first deleted then). The recorded firings (``alert_events``) must be the trades
the naive loop of ``tests/support/alert_oracle.py`` names, and every firing must reach its
owner's stream as an ``alert`` message, and only its owner's.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from criptoren.db.models import AlertEvent
from criptoren.domain.alerts import AlertCondition
from criptoren.fake_exchange import FakeExchange
from tests.support.alert_oracle import Spec, naive
from tests.support.harness import BTC_START, Harness, running_service, service_on
from tests.support.oracle_run import SYMBOL, TICK, WAIT, Replay, TradeTracker, load_recording
from tests.support.stream_client import Message, StreamClient, open_stream

WARM_UP = 100
FIRST_END = 5000


def _bodies(rng: random.Random, low: Decimal, high: Decimal, count: int) -> list[dict[str, Any]]:
    bodies = []
    for i in range(count):
        condition = list(AlertCondition)[i % 4]
        body: dict[str, Any] = {"symbol": SYMBOL, "condition": condition.value}
        if condition is AlertCondition.MOVE_PCT:
            body |= {"percent": str(Decimal(rng.randint(2, 30)) / 100)}
            body |= {"window_seconds": rng.choice((5, 30, 120))}
        else:
            body["price"] = str(rng.randint(int(low / TICK), int(high / TICK)) * TICK)
        if rng.random() < 0.4:
            body |= {"repeat": True, "cooldown_seconds": rng.choice((30, 60, 120))}
        body["note"] = f"alert {i} ✓"
        bodies.append(body)
    return bodies


async def _create(service: Harness, headers: dict[str, str], body: dict[str, Any]) -> Any:
    response = await service.http.post("/api/v1/alerts", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _spec(alert: dict[str, Any], born: int, deleted_after: int | None = None) -> Spec:
    condition = AlertCondition(alert["condition"])
    move = condition is AlertCondition.MOVE_PCT
    created_ms = int(datetime.fromisoformat(alert["created_at"]).timestamp() * 1000)
    return Spec(
        alert["id"],
        condition,
        Decimal(alert["percent"] if move else alert["price"]),
        born,
        created_ms,
        window_ms=(alert["window_seconds"] or 0) * 1000,
        cooldown_ms=alert["cooldown_seconds"] * 1000 if alert["repeat"] else None,
        deleted_after=deleted_after,
    )


async def _collect(stream: StreamClient, into: list[Message], arrived: asyncio.Event) -> None:
    while True:
        message = await stream.next(timeout=3600)
        if message["type"] == "alert":
            into.append(message)
            arrived.set()


async def _settle(service: Harness, replay: Replay) -> None:
    await replay.caught_up()
    await asyncio.wait_for(service.container.alert_engine.wait_idle(), WAIT)


async def _fired(service: Harness) -> dict[int, list[int]]:
    async with service.container.session_factory() as session:
        events = (await session.scalars(select(AlertEvent).order_by(AlertEvent.id))).all()
    fired: dict[int, list[int]] = defaultdict(list)
    for event in events:
        fired[event.alert_id].append(event.agg_trade_id)
    return fired


def _segment_range(records: Sequence[Any], start: int, end: int) -> tuple[Decimal, Decimal]:
    prices = [Decimal(rec.p) for rec in records[start:end]]
    return min(prices), max(prices)


@pytest.mark.slow
async def test_alerts_fire_where_the_naive_loop_says_and_reach_their_owner(
    database_url: str,
) -> None:
    records = load_recording()
    shift = int(time.time() * 1000) + 60_000 - records[0].T  # trade time: just after now
    for rec in records:
        rec.T += shift
    rng = random.Random(1313)
    async with running_service(database_url, served=True) as service:
        service.exchange.market.keep_times = True
        alice_id, alice = await service.new_client("alice")
        _, bob = await service.new_client("bob")
        replay = Replay(service, records)
        watched = await service.http.put(f"/api/v1/monitored/{SYMBOL}", headers=service.admin)
        assert watched.status_code == 200, watched.text
        await service.exchange.wait_subscribed(f"{SYMBOL.lower()}@aggTrade")
        await replay.emit_until(WARM_UP)
        await _settle(service, replay)
        async with open_stream(service, alice) as mine, open_stream(service, bob) as theirs:
            await mine.next()
            await theirs.next()
            seen: dict[str, list[Message]] = {"alice": [], "bob": []}
            arrived = asyncio.Event()
            readers = [
                asyncio.create_task(_collect(mine, seen["alice"], arrived)),
                asyncio.create_task(_collect(theirs, seen["bob"], arrived)),
            ]
            specs = await _run(service, replay, records, rng, alice, bob)
            fired = await _fired(service)
            total = {"alice": 0, "bob": 0}
            for spec, owner in specs:
                total[owner] += len(fired.get(spec.alert_id, []))
            async with asyncio.timeout(WAIT):
                while len(seen["alice"]) < total["alice"] or len(seen["bob"]) < total["bob"]:
                    arrived.clear()
                    await arrived.wait()
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
        trades = [(rec.a, Decimal(rec.p), rec.T) for rec in replay.tape[replay.before :]]
        for spec, _ in specs:
            assert fired.get(spec.alert_id, []) == naive(spec, trades), spec
        _check_coverage(specs, fired)
        _check_messages(seen, specs, fired, records)
        await _check_one_shot(service, alice, specs, fired, alice_id)


async def _run(
    service: Harness,
    replay: Replay,
    records: Sequence[Any],
    rng: random.Random,
    alice: dict[str, str],
    bob: dict[str, str],
) -> list[tuple[Spec, str]]:
    """Two rounds of alerts over two segments; returns each alert's spec and owner."""
    created: list[tuple[dict[str, Any], int, str]] = []
    low, high = _segment_range(records, WARM_UP, FIRST_END)
    for i, body in enumerate(_bodies(rng, low, high, 16)):
        owner, headers = ("bob", bob) if i % 5 == 4 else ("alice", alice)
        created.append((await _create(service, headers, body), WARM_UP - 1, owner))
    await replay.emit_until(FIRST_END)
    await _settle(service, replay)
    low, high = _segment_range(records, FIRST_END, len(records))
    for body in _bodies(rng, low, high, 12):
        created.append((await _create(service, alice, body), FIRST_END - 1, "alice"))
    deleted: dict[int, int] = {}
    for alert, _, owner in created[:16:3]:
        headers = bob if owner == "bob" else alice
        response = await service.http.delete(f"/api/v1/alerts/{alert['id']}", headers=headers)
        assert response.status_code == 200, response.text
        deleted[alert["id"]] = FIRST_END - 1
    await replay.emit_until(len(records))
    await _settle(service, replay)
    return [(_spec(a, born, deleted.get(a["id"])), owner) for a, born, owner in created]


def _check_coverage(specs: Sequence[tuple[Spec, str]], fired: dict[int, list[int]]) -> None:
    for condition in AlertCondition:
        assert any(fired.get(s.alert_id) for s, _ in specs if s.condition is condition), condition
    assert any(len(fired.get(s.alert_id, [])) > 1 for s, _ in specs)  # a repeat repeated
    assert any(not fired.get(s.alert_id) for s, _ in specs)  # and some never fired


def _check_messages(
    seen: dict[str, list[Message]],
    specs: Sequence[tuple[Spec, str]],
    fired: dict[int, list[int]],
    records: Sequence[Any],
) -> None:
    by_id = {rec.a: rec for rec in records}
    for owner in ("alice", "bob"):
        expected = {
            (s.alert_id, t) for s, o in specs if o == owner for t in fired.get(s.alert_id, [])
        }
        assert {(m["alert_id"], m["trade_id"]) for m in seen[owner]} == expected
    message = seen["alice"][0]
    trade = by_id[message["trade_id"]]
    assert message["symbol"] == SYMBOL
    assert message["trade_price"] == format(Decimal(trade.p).quantize(Decimal("1e-8")), "f")
    assert message["time"] == trade.T
    assert message["note"].startswith("alert ")
    assert message["condition"] in {c.value for c in AlertCondition}


async def _check_one_shot(
    service: Harness,
    headers: dict[str, str],
    specs: Sequence[tuple[Spec, str]],
    fired: dict[int, list[int]],
    client_id: int,
) -> None:
    one_shot = next(
        s
        for s, o in specs
        if o == "alice"
        and s.cooldown_ms is None
        and s.deleted_after is None
        and fired.get(s.alert_id)
    )
    alert = (await service.http.get(f"/api/v1/alerts/{one_shot.alert_id}", headers=headers)).json()
    assert (alert["status"], alert["fire_count"], alert["client_id"]) == ("triggered", 1, client_id)
    assert alert["last_fired_at"] is not None
    assert one_shot.alert_id not in service.container.alert_engine.index


async def _fire(service: Harness, prices: list[str], times_ms: list[int]) -> None:
    tracker = TradeTracker(service.container.feed)
    service.exchange.emit_prices(SYMBOL, prices, times_ms=times_ms)
    await tracker.wait_for_id(service.exchange.market.tape(SYMBOL).records[-1].a)
    await asyncio.wait_for(service.container.alert_engine.wait_idle(), WAIT)


async def test_the_index_is_rebuilt_at_start_up_and_a_cooldown_survives_a_restart(
    database_url: str,
) -> None:
    async with FakeExchange() as exchange:
        exchange.emit_prices(SYMBOL, [BTC_START])
        async with service_on(exchange, database_url) as first:
            _, alice = await first.new_client()
            one_shot = await _create(
                first, alice, {"symbol": SYMBOL, "condition": "gte", "price": "62000.00"}
            )
            repeating = {"symbol": SYMBOL, "condition": "lte", "price": "61000.00", "repeat": True}
            repeating = await _create(first, alice, repeating)
            kept = {
                "symbol": SYMBOL,
                "condition": "move_pct",
                "percent": "50",
                "window_seconds": 60,
            }
            kept = await _create(first, alice, kept)
            gone = await _create(
                first, alice, {"symbol": SYMBOL, "condition": "cross", "price": "65000.00"}
            )
            deleted = await first.http.delete(f"/api/v1/alerts/{gone['id']}", headers=alice)
            assert deleted.status_code == 200, deleted.text
            await exchange.wait_subscribed(f"{SYMBOL.lower()}@aggTrade")
            start = exchange.market.now_ms() + 1000
            await _fire(first, ["62000.00", "60000.00"], [start, start + 1])
            assert dict(await _fired(first)) == {
                one_shot["id"]: [exchange.market.tape(SYMBOL).records[-2].a],
                repeating["id"]: [exchange.market.tape(SYMBOL).records[-1].a],
            }
        async with service_on(exchange, database_url) as second:
            index = second.container.alert_engine.index
            assert repeating["id"] in index
            assert kept["id"] in index
            assert one_shot["id"] not in index
            assert gone["id"] not in index
            await exchange.wait_subscribed(f"{SYMBOL.lower()}@aggTrade")
            await _fire(second, ["60000.00"], [start + 299_000])  # within the 300 s cooldown
            await _fire(second, ["60000.00"], [start + 300_001])
            fired = await _fired(second)
            assert fired[repeating["id"]][1:] == [exchange.market.tape(SYMBOL).records[-1].a]
            alert = (
                await second.http.get(f"/api/v1/alerts/{repeating['id']}", headers=alice)
            ).json()
            assert (alert["status"], alert["fire_count"]) == ("active", 2)
