"""Bad input gets a clear JSON error and nothing is stored."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.harness import Harness

VALID = {"symbol": "BTCUSDT", "preco_alvo": "62000", "quantidade": "0.005"}


async def _orders(service: Harness, auth: dict[str, str]) -> list[Any]:
    response = await service.http.get("/ordens", headers=auth)
    assert response.status_code == 200
    return list(response.json())


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"symbol": "NOPEUSDT"}, "unknown_symbol"),
        ({"symbol": "EOSETH"}, "symbol_not_trading"),
        ({"symbol": "BTC/USDT"}, "unknown_symbol"),
        ({"preco_alvo": "0"}, "validation_error"),
        ({"preco_alvo": "-62000"}, "validation_error"),
        ({"preco_alvo": "abc"}, "validation_error"),
        ({"preco_alvo": None}, "validation_error"),
        ({"quantidade": "0.000000001"}, "validation_error"),
        ({"quantidade": "10000000000"}, "validation_error"),
        ({"preco_alvo": "62000.001"}, "price_off_tick"),
        ({"quantidade": "0.000015"}, "quantity_off_step"),
        ({"quantidade": "0.000001"}, "quantity_too_small"),
        ({"quantidade": "0.00001"}, "notional_too_small"),
        ({"quantidade": "9001"}, "quantity_too_large"),
        ({"condicao": "maybe"}, "validation_error"),
    ],
)
async def test_bad_order_is_422_and_nothing_is_stored(
    service: Harness, change: dict[str, Any], code: str
) -> None:
    client_id, auth = await service.new_client()
    body = {"cliente_id": client_id, **VALID, **change}
    response = await service.http.post("/posicionar-compra", json=body, headers=auth)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert await _orders(service, auth) == []


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b'{"cliente_id": 1, "symbol": "BTCUSDT", "preco_alvo": NaN, "quantidade": "1"}',
        b'{"cliente_id": 1, "symbol": "BTCUSDT", "preco_alvo": Infinity, "quantidade": "1"}',
        b"[]",
        b'"text"',
    ],
)
async def test_malformed_json_is_422(service: Harness, raw: bytes) -> None:
    _, auth = await service.new_client()
    headers = {**auth, "Content-Type": "application/json"}
    response = await service.http.post("/posicionar-compra", content=raw, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert await _orders(service, auth) == []


async def test_json_numbers_are_kept_exact(service: Harness) -> None:
    client_id, auth = await service.new_client()
    raw = (
        f'{{"cliente_id": {client_id}, "symbol": "BTCUSDT", "preco_executado": 61999.99,'
        ' "quantidade": 0.12345678}'
    ).encode()
    headers = {**auth, "Content-Type": "application/json"}
    response = await service.http.post("/registrar-compra", content=raw, headers=headers)
    assert response.status_code == 422  # 0.12345678 is off BTCUSDT's 0.00001 step
    raw = raw.replace(b"0.12345678", b"0.12345")
    response = await service.http.post("/registrar-compra", content=raw, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["preco_executado"] == "61999.99000000"
    assert response.json()["quantidade"] == "0.12345000"


async def test_missing_token_is_401(service: Harness) -> None:
    body = {"cliente_id": 1, **VALID}
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}):
        response = await service.http.post("/posicionar-compra", json=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


async def test_acting_for_another_client_is_403(service: Harness) -> None:
    alice_id, alice = await service.new_client("alice")
    bob_id, _bob = await service.new_client("bob")
    body = {"cliente_id": bob_id, **VALID}
    response = await service.http.post("/posicionar-compra", json=body, headers=alice)
    assert response.status_code == 403
    assert await _orders(service, alice) == []
    sale = {"cliente_id": bob_id, "symbol": "BTCUSDT", "preco_executado": "1", "quantidade": "1"}
    assert (
        await service.http.post("/registrar-compra", json=sale, headers=alice)
    ).status_code == 403
    assert alice_id != bob_id


async def test_admin_may_act_for_a_client_but_must_name_it(service: Harness) -> None:
    client_id, auth = await service.new_client()
    body = {"cliente_id": client_id, **VALID}
    response = await service.http.post("/posicionar-compra", json=body, headers=service.admin)
    assert response.status_code == 201
    assert len(await _orders(service, auth)) == 1
    nameless = await service.http.post(
        "/api/v1/orders",
        json={"side": "buy", "symbol": "BTCUSDT", "target_price": "62000", "quantity": "0.005"},
        headers=service.admin,
    )
    assert nameless.status_code == 422
    ghost = {"cliente_id": 999, **VALID}
    missing = await service.http.post("/posicionar-compra", json=ghost, headers=service.admin)
    assert missing.status_code == 404
