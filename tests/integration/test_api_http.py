"""HTTP edges: unparseable bodies are 422, too large 413, a 405 names every allowed method."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from criptoren.api.app import create_app
from criptoren.config import Settings
from tests.support.harness import Harness

CHUNK = 16 * 1024


async def _orders(service: Harness, auth: dict[str, str]) -> list[Any]:
    response = await service.http.get("/api/v1/orders", headers=auth)
    assert response.status_code == 200
    return list(response.json())


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"symbol": "BTCUSDT", "target_price": ' + b"9" * 5000 + b"}", "number too long"),
        (b'{"symbol": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", "nested too deeply"),
        (b'{"symbol": "BTC\xff\xfeUSDT"}', "not UTF-8"),
        (b"\xef\xbb\xbf{}", "JSON decode error"),
        (b"", "Field required"),
    ],
    ids=["5000-digit-integer", "deeply-nested", "not-utf8", "bom", "empty"],
)
async def test_unparseable_bodies_are_422_json(service: Harness, raw: bytes, says: str) -> None:
    _, auth = await service.new_client()
    headers = {**auth, "Content-Type": "application/json"}
    response = await service.http.post("/api/v1/orders", content=raw, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert says in response.json()["error"]["message"]
    assert await _orders(service, auth) == []


async def test_a_body_over_the_limit_is_413_json_and_nothing_is_stored(service: Harness) -> None:
    _, auth = await service.new_client()
    padding = "x" * (64 * 1024)
    body = {"symbol": "BTCUSDT", "side": "buy", "target_price": "60000", "quantity": "0.001"}
    response = await service.http.post(
        "/api/v1/orders", json={**body, "padding": padding}, headers=auth
    )
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "body_too_large"
    assert await _orders(service, auth) == []
    assert (await service.http.post("/api/v1/orders", json=body, headers=auth)).status_code == 201


async def _send_streamed(limit_env: str, total: int, monkeypatch: pytest.MonkeyPatch) -> Any:
    """POST ``total`` bytes in chunks with no Content-Length; count the chunks the app read."""
    monkeypatch.setenv("CRIPTOREN_MAX_BODY_BYTES", limit_env)
    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": b" " * CHUNK, "more_body": read * CHUNK < total}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/orders",
        "raw_path": b"/api/v1/orders",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    return read, sent


async def test_a_streamed_body_is_cut_at_the_limit_not_read_to_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    read, sent = await _send_streamed("32768", 32 * 1024 * 1024, monkeypatch)
    assert sent[0]["status"] == 413
    assert b'"body_too_large"' in sent[1]["body"]
    assert read * CHUNK <= 32768 + CHUNK  # stopped one chunk past the limit, not at 32 MB


async def test_the_limit_is_configurable(service: Harness) -> None:
    small = service.container.settings.model_copy(update={"max_body_bytes": 2048})
    app = create_app(small, container=service.container)
    app.state.container = service.container
    _, auth = await service.new_client()
    body = {"symbol": "BTCUSDT", "side": "buy", "target_price": "60000", "quantity": "0.001"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.post("/api/v1/orders", json={**body, "x": "y" * 3000}, headers=auth)
        assert response.status_code == 413
        assert (await http.post("/api/v1/orders", json=body, headers=auth)).status_code == 201


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w*symbol)\}", "BTCUSDT", re.sub(r"\{\w*id\}", "1", path))


def _served_by(paths: dict[str, Any], concrete: str) -> set[str]:
    # GET /api/v1/symbols/{symbol} serves /api/v1/symbols/sync too

    methods: set[str] = set()
    for template, operations in paths.items():
        if re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", template), concrete):
            methods |= {method.upper() for method in operations}
    return methods


async def test_a_405_lists_every_method_of_the_path(service: Harness) -> None:
    paths = (await service.http.get("/openapi.json")).json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/orders"])
    for path in paths:
        concrete = _concrete(path)
        response = await service.http.request("OPTIONS", concrete, headers=service.admin)
        assert response.status_code == 405, (path, response.text)
        assert response.json()["error"]["code"] == "method_not_allowed"
        allowed = {m.strip() for m in response.headers["allow"].split(",")}
        assert allowed == _served_by(paths, concrete), path
