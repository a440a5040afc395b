"""PostgreSQL goes away behind a proxy: every route answers a JSON 503, and recovers alone."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from criptoren.db.availability import database_unreachable
from criptoren.engine.events import EventKind
from tests.support.databases import skip_or_fail, truncate
from tests.support.events import EventRecorder
from tests.support.harness import Harness, running_service
from tests.support.tcp_proxy import TcpProxy

PT_ORDER = {"symbol": "BTCUSDT", "preco_alvo": "60000", "quantidade": "0.001"}
PT_TRADE = {"symbol": "BTCUSDT", "preco_executado": "60000", "quantidade": "0.001"}
BODIES: dict[str, dict[str, Any]] = {
    "/posicionar-compra": PT_ORDER,
    "/posicionar-venda": PT_ORDER,
    "/registrar-compra": PT_TRADE,
    "/registrar-venda": PT_TRADE,
    "/api/v1/orders": {"symbol": "BTCUSDT", "side": "buy", "target_price": "1", "quantity": "1"},
    "/api/v1/trades": {"symbol": "BTCUSDT", "side": "buy", "price": "1", "quantity": "1"},
    "/api/v1/clients": {"name": "bob"},
    "/api/v1/strategies": {
        "symbol": "BTCUSDT",
        "kind": "channel-breakout",
        "interval": "1m",
        "window": 20,
        "quantity": "0.001",
    },
    "/estrategias": {
        "symbol": "BTCUSDT",
        "tipo": "channel-breakout",
        "intervalo": "1m",
        "janela": 20,
        "quantidade": "0.001",
    },
    "/api/v1/alerts": {"symbol": "BTCUSDT", "condition": "gte", "price": "70000"},
    "/alertas": {"symbol": "BTCUSDT", "condicao": "gte", "preco": "70000"},
    "/api/v1/notification-channels": {"kind": "webhook", "url": "https://93.184.216.34/hook"},
    "/canais-notificacao": {"tipo": "webhook", "url": "https://93.184.216.34/hook"},
    "/api/v1/notification-preferences": {"order_events": ["executed"]},
    "/preferencias-notificacao": {"eventos_ordem": ["executed"]},
}
NO_DATABASE = {"/", "/healthz"}


@pytest.fixture
async def proxied(postgres_url: tuple[str | None, str]) -> AsyncIterator[tuple[Harness, TcpProxy]]:
    """The service on PostgreSQL reached only through a proxy the test can cut."""
    url, reason = postgres_url
    if url is None:
        skip_or_fail(reason)
        raise AssertionError("unreachable")
    await truncate(url)
    real = make_url(url)
    proxy = await TcpProxy(real.host or "127.0.0.1", real.port or 5432).start()
    through = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        async with running_service(through) as harness:
            yield harness, proxy
    finally:
        await proxy.aclose()


def _operations(paths: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Every documented operation that touches the database, with a concrete path."""
    found = []
    for template, operations in paths.items():
        if template in NO_DATABASE:
            continue
        concrete = re.sub(r"\{\w*symbol\}", "BTCUSDT", re.sub(r"\{\w*id\}", "1", template))
        found += [(method.upper(), template, concrete) for method in operations]
    return found


async def _call(
    harness: Harness, client: dict[str, str], method: str, template: str, path: str
) -> httpx.Response:
    admin_only = template.startswith("/api/v1/clients") or template.endswith("/sync")
    headers = harness.admin if admin_only else client
    body = BODIES.get(template) if method in ("POST", "PUT") else None
    return await harness.http.request(method, path, json=body, headers=headers)


async def test_every_route_is_503_json_while_the_database_is_gone_then_recovers(
    proxied: tuple[Harness, TcpProxy],
) -> None:
    harness, proxy = proxied
    client_id, auth = await harness.new_client()
    paths = (await harness.http.get("/openapi.json")).json()["paths"]
    assert (await harness.http.get("/ordens", headers=auth)).status_code == 200

    await proxy.cut()
    for method, template, path in _operations(paths):
        response = await _call(harness, auth, method, template, path)
        assert response.status_code == 503, (method, path, response.text)
        assert response.json()["error"]["code"] == "database_unavailable", (method, path)
    admin_order = {**PT_ORDER, "cliente_id": client_id}
    admin = harness.admin
    response = await harness.http.post("/posicionar-compra", json=admin_order, headers=admin)
    assert response.status_code == 503, response.text
    assert (await harness.http.get("/")).json() == {"status": "OK"}

    await proxy.restore()
    assert (await harness.http.get("/ordens", headers=auth)).status_code == 200
    bought = await harness.http.post("/registrar-compra", json=PT_TRADE, headers=auth)
    assert bought.status_code == 201, bought.text
    placed = await harness.http.post("/posicionar-compra", json=PT_ORDER, headers=auth)
    assert placed.status_code == 201, placed.text


async def test_a_silent_server_times_out_as_unreachable_but_other_errors_do_not() -> None:
    release = asyncio.Event()

    async def never_answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(TimeoutError) as timed_out:
            await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/x", timeout=0.2)
        assert database_unreachable(timed_out.value)
    finally:
        release.set()
        server.close()
        await server.wait_closed()
    with pytest.raises(ConnectionRefusedError) as elsewhere:  # not raised by a database driver
        await asyncio.open_connection("127.0.0.1", port)
    assert not database_unreachable(elsewhere.value)


async def test_the_engine_pauses_through_an_outage_and_executes_once_at_the_crossing_trade(
    proxied: tuple[Harness, TcpProxy], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="criptoren.engine")
    harness, proxy = proxied
    engine, feed = harness.container.trigger_engine, harness.container.feed
    events = EventRecorder(harness.container.bus)
    client_id, auth = await harness.new_client()
    body = {**PT_ORDER, "cliente_id": client_id, "preco_alvo": "61000", "quantidade": "0.01"}
    placed = await harness.http.post("/posicionar-compra", json=body, headers=auth)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    await harness.exchange.wait_subscribed("btcusdt@aggTrade")
    harness.exchange.emit_prices("BTCUSDT", ["61400"])  # the feed knows where it is
    await feed.wait_for(lambda: feed.book.last_price("BTCUSDT") is not None)
    await engine.wait_idle()
    fills_before = feed.sequencer.fills_done

    await proxy.cut()
    # the crossing trade happens while the database is gone and the stream is down too:
    # only the feed's gap-fill (REST, after the reconnect) can deliver it
    harness.exchange.pause("BTCUSDT")
    harness.exchange.emit_prices("BTCUSDT", ["61500", "60900.5", "60800"])
    harness.exchange.drop_connections()
    harness.exchange.resume("BTCUSDT")
    await asyncio.wait_for(engine.wait_paused(), 15)
    assert feed.sequencer.fills_done > fills_before
    assert engine.pending() == 1  # fired, kept, not failed

    await proxy.restore()
    await events.wait_finished({order_id})
    assert [e.kind for e in events.events if e.order_id == order_id] == [
        EventKind.PLACED,
        EventKind.TRIGGERED,
        EventKind.EXECUTED,
    ]
    got = await harness.http.get(f"/api/v1/orders/{order_id}", headers=auth)
    assert got.status_code == 200, got.text
    assert got.json()["status"] == "executed"
    trades = (await harness.http.get("/api/v1/trades", headers=auth)).json()
    assert [(t["positioned_order_id"], t["price"]) for t in trades] == [
        (order_id, "60900.50000000")
    ]
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("criptoren.engine")]
    paused = [line for line in lines if "execution paused" in line]
    assert len(paused) == 1, lines
    assert paused[0].startswith("database unreachable: execution paused, 1 fired orders kept")
    assert len([line for line in lines if "execution resumed" in line]) == 1, lines
