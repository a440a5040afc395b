"""Hostile input (control characters, look-alike digits, disguised ids) is 422, never stored."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.harness import Harness

PT_SALE = {"symbol": "BTCUSDT", "preco_executado": "60000", "quantidade": "0.001"}
V1_SALE = {"symbol": "BTCUSDT", "side": "buy", "price": "60000", "quantity": "0.001"}
CONTROL = ["ab\u0000cd", "line\nbreak", "esc\u001b[31m", "del\u007f", "\ud800"]


async def _trades(service: Harness, auth: dict[str, str]) -> list[Any]:
    response = await service.http.get("/api/v1/trades", headers=auth)
    assert response.status_code == 200
    return list(response.json())


async def _post(
    service: Harness, path: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    # json.dumps escapes to ASCII, so a lone surrogate travels as the JSON text "\\ud800"
    content = json.dumps(body).encode()
    headers = {**headers, "Content-Type": "application/json"}
    return await service.http.post(path, content=content, headers=headers)


_V1_ORDER = {"symbol": "BTCUSDT", "side": "buy", "target_price": "59000", "quantity": "0.001"}


def _assert_validation_error(response: Any) -> None:
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("text", CONTROL)
@pytest.mark.parametrize(
    ("path", "base", "field"),
    [
        ("/registrar-compra", PT_SALE, "ordem_id"),
        ("/registrar-compra", PT_SALE, "taxa_ativo"),
        ("/api/v1/trades", V1_SALE, "order_id"),
        ("/api/v1/trades", V1_SALE, "fee_asset"),
    ],
)
async def test_control_characters_in_free_text_are_refused(
    service: Harness, path: str, base: dict[str, str], field: str, text: str
) -> None:
    client_id, auth = await service.new_client()
    key = "cliente_id" if path.startswith("/registrar") else "client_id"
    response = await _post(service, path, {**base, key: client_id, field: text}, auth)
    _assert_validation_error(response)
    assert field in response.json()["error"]["message"]
    assert await _trades(service, auth) == []


async def test_printable_unicode_in_free_text_is_kept(service: Harness) -> None:
    client_id, auth = await service.new_client()
    body = {**PT_SALE, "cliente_id": client_id, "ordem_id": "ordem-ção-✓", "taxa_ativo": "BNB"}
    response = await service.http.post("/registrar-compra", json=body, headers=auth)
    assert response.status_code == 201, response.text
    assert response.json()["ordem_id"] == "ordem-ção-✓"


@pytest.mark.parametrize("name", ["ab\u0000cd", "tab\there", "\u0007bell"])
async def test_client_name_with_control_characters_is_refused(service: Harness, name: str) -> None:
    response = await service.http.post(
        "/api/v1/clients", json={"name": name}, headers=service.admin
    )
    assert response.status_code == 422, response.text
    listed = await service.http.get("/api/v1/clients", headers=service.admin)
    assert listed.json() == []


@pytest.mark.parametrize("amount", ["６００００", "٣٠٠٠٠", "60000\u00a0", "६००००"])
async def test_non_ascii_digits_are_refused(service: Harness, amount: str) -> None:
    client_id, auth = await service.new_client()
    body = {**PT_SALE, "cliente_id": client_id, "preco_executado": amount}
    response = await service.http.post("/registrar-compra", json=body, headers=auth)
    _assert_validation_error(response)
    order = {"cliente_id": client_id, "symbol": "BTCUSDT", "preco_alvo": amount, "quantidade": "1"}
    response = await service.http.post("/posicionar-compra", json=order, headers=auth)
    _assert_validation_error(response)
    assert await _trades(service, auth) == []


async def test_amount_refusals_say_what_is_wrong_in_one_sentence(service: Harness) -> None:
    client_id, auth = await service.new_client()
    for amount, why in (
        ("60_000", "amounts take no digit separators: '60_000'"),
        ("abc", "not a number: 'abc'"),
        ("-5", "amount must be greater than zero"),
    ):
        order = {"cliente_id": client_id, "symbol": "BTCUSDT", "preco_alvo": amount}
        response = await service.http.post(
            "/posicionar-compra", json={**order, "quantidade": "1"}, headers=auth
        )
        _assert_validation_error(response)
        assert response.json()["error"]["message"] == f"preco_alvo: {why}"
    listed = await service.http.get("/api/v1/orders", headers=auth)
    assert listed.json() == []


async def test_text_too_long_is_refused_in_characters(service: Harness) -> None:
    client_id, auth = await service.new_client()
    body = {**PT_SALE, "cliente_id": client_id, "ordem_id": "x" * 65}
    response = await service.http.post("/registrar-compra", json=body, headers=auth)
    _assert_validation_error(response)
    said = "ordem_id: String should have at most 64 characters"
    assert response.json()["error"]["message"] == said
    alert = {"symbol": "BTCUSDT", "condition": "gte", "price": "70000", "note": "x" * 201}
    response = await service.http.post("/api/v1/alerts", json=alert, headers=auth)
    _assert_validation_error(response)
    assert response.json()["error"]["message"] == "note: String should have at most 200 characters"
    assert await _trades(service, auth) == []


async def test_a_misspelt_or_foreign_field_is_refused_not_ignored(service: Harness) -> None:
    client_id, auth = await service.new_client()
    order = {"cliente_id": client_id, "symbol": "BTCUSDT", "preco_alvo": "59000"}
    # "condition" is the English body's name: ignored, the condition would be inferred
    for path, body, field in (
        ("/posicionar-compra", {**order, "quantidade": "0.001", "condition": "gte"}, "condition"),
        ("/api/v1/orders", {**_V1_ORDER, "condicao": "gte"}, "condicao"),
    ):
        response = await service.http.post(path, json=body, headers=auth)
        _assert_validation_error(response)
        said = f"{field}: unknown field (check its name: this body does not take it)"
        assert response.json()["error"]["message"] == said
    listed = await service.http.get("/api/v1/orders", headers=auth)
    assert listed.json() == []


async def test_a_misspelt_query_parameter_is_refused_not_ignored(service: Harness) -> None:
    client_id, auth = await service.new_client()
    placed = (await service.http.post("/api/v1/orders", json=_V1_ORDER, headers=auth)).json()
    await service.http.post(f"/api/v1/orders/{placed['id']}/cancel", headers=auth)
    # ignored, "?statu=waiting" would list the cancelled order as if it were waiting
    misspelt = await service.http.get("/api/v1/orders?statu=waiting", headers=auth)
    _assert_validation_error(misspelt)
    takes = "this route takes: before, client_id, limit, status, symbol"
    said = f"statu: unknown query parameter (check its name; {takes})"
    assert misspelt.json()["error"]["message"] == said
    waiting = await service.http.get("/api/v1/orders?status=waiting", headers=auth)
    assert waiting.json() == []

    body = {"cliente_id": client_id, "symbol": "BTCUSDT", "preco_alvo": "59000"}
    body["quantidade"] = "0.001"
    stray = await service.http.post("/posicionar-compra?dry_run=1", json=body, headers=auth)
    _assert_validation_error(stray)
    said = "dry_run: unknown query parameter (check its name; this route takes: none)"
    assert stray.json()["error"]["message"] == said
    monitored = await service.http.get("/monitorar-par/BTCUSDT?intervalo=1m", headers=auth)
    _assert_validation_error(monitored)
    listed = await service.http.get("/api/v1/orders", headers=auth)
    assert [o["id"] for o in listed.json()] == [placed["id"]]  # nothing stored by the refusal


async def test_a_key_given_twice_is_refused(service: Harness) -> None:
    client_id, auth = await service.new_client()
    body = (
        f'{{"cliente_id": {client_id}, "symbol": "BTCUSDT", "preco_alvo": "1000",'
        ' "preco_alvo": "2000", "quantidade": "0.01"}'
    )
    headers = {**auth, "content-type": "application/json"}
    response = await service.http.post("/posicionar-compra", content=body, headers=headers)
    _assert_validation_error(response)
    assert "duplicate key 'preco_alvo'" in response.json()["error"]["message"]
    listed = await service.http.get("/api/v1/orders", headers=auth)
    assert listed.json() == []


@pytest.mark.parametrize("disguised", [True, "1", 1.0, "１", [1]])
async def test_ids_are_json_integers_only(service: Harness, disguised: Any) -> None:
    client_id, auth = await service.new_client()
    assert client_id == 1  # so that `true` or "1" would name this very client
    for path, body, key in (
        ("/registrar-compra", PT_SALE, "cliente_id"),
        ("/api/v1/trades", V1_SALE, "client_id"),
    ):
        for headers in (auth, service.admin):
            response = await service.http.post(path, json={**body, key: disguised}, headers=headers)
            _assert_validation_error(response)
    assert await _trades(service, auth) == []


async def test_cliente_id_is_optional_in_the_original_bodies(service: Harness) -> None:
    client_id, auth = await service.new_client()
    order = {"symbol": "BTCUSDT", "preco_alvo": "59000", "quantidade": "0.001"}
    placed = await service.http.post("/posicionar-compra", json=order, headers=auth)
    assert placed.status_code == 201, placed.text
    assert placed.json()["cliente_id"] == client_id
    bought = await service.http.post("/registrar-compra", json=PT_SALE, headers=auth)
    assert bought.json()["cliente_id"] == client_id
    named = await service.http.post(
        "/registrar-compra", json={**PT_SALE, "cliente_id": client_id}, headers=auth
    )
    assert named.status_code == 201
    nameless = await service.http.post("/registrar-compra", json=PT_SALE, headers=service.admin)
    assert nameless.status_code == 422
