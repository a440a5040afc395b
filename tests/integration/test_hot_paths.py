"""The busiest routes answered by ``api.hot_paths``: the same answers as the FastAPI route.

Each hot answer is compared with the framework's answer to the same request, asked while
the hot paths stand aside (no hot route: every request goes on to the FastAPI route).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.harness import Harness

VOLATILE = {"id", "created_at", "criado_em", "client_order_id", "executado_em", "ordem_id"}


def answered(service: Harness) -> int:
    """How many requests the hot paths answered themselves so far."""
    assert service.app is not None
    count: int = service.app.state.hot_paths.answered
    return count


def stable(body: Any) -> Any:
    """``body`` without the fields two placements of the same order never share."""
    if isinstance(body, dict):
        return {k: stable(v) for k, v in body.items() if k not in VOLATILE}
    if isinstance(body, list):
        return [stable(item) for item in body]
    return body


async def through_framework(
    service: Harness, method: str, path: str, **request: Any
) -> httpx.Response:
    """The FastAPI route's answer to the request (the hot paths stand aside for it)."""
    assert service.app is not None
    hot_paths = service.app.state.hot_paths
    kept, hot_paths.routes = hot_paths.routes, {}
    try:
        return await service.http.request(method, path, **request)
    finally:
        hot_paths.routes = kept


async def both_ways(
    service: Harness, method: str, path: str, **request: Any
) -> tuple[httpx.Response, httpx.Response]:
    """The hot answer (checked to be one) and the framework's, to the same request."""
    before = answered(service)
    hot = await service.http.request(method, path, **request)
    assert answered(service) == before + 1, "not answered by the hot path"
    framework = await through_framework(service, method, path, **request)
    assert answered(service) == before + 1, "answered by the hot path while it stood aside"
    assert (hot.status_code, hot.headers["content-type"]) == (
        framework.status_code,
        framework.headers["content-type"],
    )
    return hot, framework


async def test_hot_answers_are_the_framework_routes_answers(service: Harness) -> None:
    client_id, auth = await service.new_client()
    trade = {"cliente_id": client_id, "symbol": "btcusdt", "preco_executado": "60000.5"}
    hot, framework = await both_ways(
        service, "POST", "/registrar-compra", json={**trade, "quantidade": 0.01}, headers=auth
    )
    assert hot.status_code == 201, hot.text
    assert stable(hot.json()) == stable(framework.json())
    assert hot.json()["preco_executado"] == "60000.50000000"

    order = {"cliente_id": client_id, "symbol": "BTCUSDT", "preco_alvo": 1000.25}
    hot, framework = await both_ways(
        service, "POST", "/posicionar-compra", json={**order, "quantidade": "0.01"}, headers=auth
    )
    assert hot.status_code == 201, hot.text
    assert stable(hot.json()) == stable(framework.json())
    assert hot.json()["preco_alvo"] == "1000.25000000"
    assert hot.json()["id"] != framework.json()["id"]  # both were placed

    hot, framework = await both_ways(service, "GET", "/api/v1/orders", headers=auth)
    assert hot.status_code == 200
    assert hot.content == framework.content
    assert len(hot.json()) == 2

    await service.http.get("/monitorar-par/ethusdt", headers=auth)  # now on the watchlist
    hot, framework = await both_ways(service, "GET", "/monitorar-par/ethusdt", headers=auth)
    assert hot.status_code == 200
    assert hot.json() == framework.json()
    assert hot.json()["symbol"] == "ETHUSDT"


@pytest.mark.parametrize(
    ("content", "content_type", "says"),
    [
        (b'{"cliente_id": 1, "symbol": "BTCUSDT", "preco_alvo": "abc"}', "json", "preco_alvo"),
        (b'{"preco_alvo": ' + b"9" * 5000 + b"}", "json", "number too long"),
        (b'{"symbol": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", "json", "nested too deeply"),
        (b"", "json", "Field required"),
        (b'{"symbol": "BTCUSDT"}', "text/plain", ""),
    ],
    ids=["bad-amount", "5000-digits", "nested", "empty", "text-plain"],
)
async def test_a_refused_body_gets_the_frameworks_422_and_nothing_is_stored(
    service: Harness, content: bytes, content_type: str, says: str
) -> None:
    _, auth = await service.new_client()
    kind = "application/json" if content_type == "json" else content_type
    headers = {**auth, "Content-Type": kind}
    before = answered(service)
    hot = await service.http.post("/posicionar-compra", content=content, headers=headers)
    framework = await through_framework(
        service, "POST", "/posicionar-compra", content=content, headers=headers
    )
    assert answered(service) == before
    assert hot.status_code == 422, hot.text
    assert hot.json() == framework.json()
    assert says in hot.json()["error"]["message"]
    assert (await service.http.get("/api/v1/orders", headers=auth)).json() == []


async def test_errors_on_the_hot_path_are_the_applications_answers(service: Harness) -> None:
    alice, auth = await service.new_client("alice")
    bob, _ = await service.new_client("bob")
    order = {"symbol": "BTCUSDT", "preco_alvo": "1000", "quantidade": "0.01"}
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("GET", "/api/v1/orders", {}, 401, "unauthorized"),
        ("GET", "/monitorar-par/BTCUSDT", {"headers": {"Authorization": "Bearer nope"}}, 401, ""),
        ("GET", "/monitorar-par/NOPEUSDT", {"headers": auth}, 422, "unknown_symbol"),
        ("POST", "/posicionar-compra", {"json": {"cliente_id": bob, **order}}, 403, "forbidden"),
        ("POST", "/posicionar-compra", {"json": {"cliente_id": alice, **order}}, 201, ""),
    ]
    for method, path, request, status, code in cases:
        if "json" in request:
            request = {**request, "headers": auth}
        hot = await service.http.request(method, path, **request)
        framework = await through_framework(service, method, path, **request)
        assert hot.status_code == framework.status_code == status, (path, hot.text)
        if status >= 400:
            assert hot.json() == framework.json()
            assert hot.json()["error"]["code"].startswith(code)
    assert len((await service.http.get("/api/v1/orders", headers=auth)).json()) == 2


async def test_a_hot_answer_carries_the_request_id_and_a_body_over_the_limit_is_413(
    service: Harness,
) -> None:
    client_id, auth = await service.new_client()
    headers = {**auth, "X-Request-ID": "hot-path-1"}
    response = await service.http.get("/api/v1/orders", headers=headers)
    assert response.headers["x-request-id"] == "hot-path-1"
    body = {"cliente_id": client_id, "symbol": "BTCUSDT", "preco_alvo": "1000"}
    padded = {**body, "quantidade": "0.01", "padding": "x" * (64 * 1024)}
    response = await service.http.post("/posicionar-compra", json=padded, headers=auth)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "body_too_large"
    assert (await service.http.get("/api/v1/orders", headers=auth)).json() == []
