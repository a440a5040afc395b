"""PostgreSQL goes away behind a proxy: every route answers a JSON 503, and recovers alone."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from criptoren.db.availability import database_unreachable
from tests.support.databases import skip_or_fail, truncate
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
