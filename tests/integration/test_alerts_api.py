"""``/api/v1/alerts`` and ``/alertas``: create, list, get, delete; validation; tenancy."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.harness import Harness

LEVEL = {"symbol": "BTCUSDT", "condition": "gte", "price": "70000.00"}
MOVE = {"symbol": "BTCUSDT", "condition": "move_pct", "percent": "1.5", "window_seconds": 300}


async def _create(service: Harness, headers: dict[str, str], body: dict[str, Any]) -> Any:
    response = await service.http.post("/api/v1/alerts", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_alerts_are_created_listed_read_and_deleted(service: Harness) -> None:
    client_id, headers = await service.new_client()
    level = await _create(service, headers, {**LEVEL, "repeat": True, "note": "take profit"})
    assert level["client_id"] == client_id
    assert (level["price"], level["percent"], level["window_seconds"]) == (
        "70000.00000000",
        None,
        None,
    )
    assert (level["repeat"], level["cooldown_seconds"], level["note"]) == (True, 300, "take profit")
    assert (level["status"], level["fire_count"], level["last_fired_at"]) == ("active", 0, None)
    move = await _create(service, headers, MOVE)
    assert (move["percent"], move["window_seconds"], move["price"]) == ("1.50000000", 300, None)
    assert (move["repeat"], move["cooldown_seconds"]) == (False, 300)
    cross = await _create(service, headers, {**LEVEL, "condition": "cross", "cooldown_seconds": 0})
    listed = (await service.http.get("/api/v1/alerts", headers=headers)).json()
    assert [a["id"] for a in listed] == [level["id"], move["id"], cross["id"]]
    got = await service.http.get(f"/api/v1/alerts/{move['id']}", headers=headers)
    assert got.json() == move
    deleted = await service.http.delete(f"/api/v1/alerts/{move['id']}", headers=headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["status"] == "deleted"
    gone = await service.http.get(f"/api/v1/alerts/{move['id']}", headers=headers)
    assert gone.status_code == 404
    listed = (await service.http.get("/api/v1/alerts", headers=headers)).json()
    assert [a["id"] for a in listed] == [level["id"], cross["id"]]
    assert move["id"] not in service.container.alert_engine.index
    assert level["id"] in service.container.alert_engine.index


async def test_the_portuguese_alias_speaks_portuguese(service: Harness) -> None:
    client_id, headers = await service.new_client()
    body = {"symbol": "btcusdt", "condicao": "lte", "preco": "50000", "repetir": True}
    body |= {"espera_segundos": 60, "nota": "comprar"}
    created = await service.http.post("/alertas", json=body, headers=headers)
    assert created.status_code == 201, created.text
    alerta = created.json()
    assert alerta["cliente_id"] == client_id
    assert (alerta["symbol"], alerta["condicao"], alerta["preco"]) == (
        "BTCUSDT",
        "lte",
        "50000.00000000",
    )
    assert (alerta["repetir"], alerta["espera_segundos"], alerta["nota"]) == (True, 60, "comprar")
    assert (alerta["status"], alerta["disparos"], alerta["ultimo_disparo_em"]) == (
        "active",
        0,
        None,
    )
    move = {"symbol": "BTCUSDT", "condicao": "move_pct", "percentual": "2", "janela_segundos": 60}
    moved = await service.http.post("/alertas", json=move, headers=headers)
    assert moved.status_code == 201, moved.text
    assert (moved.json()["percentual"], moved.json()["janela_segundos"]) == ("2.00000000", 60)
    listed = (await service.http.get("/alertas", headers=headers)).json()
    assert [a["id"] for a in listed] == [alerta["id"], moved.json()["id"]]
    english = (await service.http.get(f"/api/v1/alerts/{alerta['id']}", headers=headers)).json()
    assert english["price"] == "50000.00000000"
    assert (await service.http.get(f"/alertas/{alerta['id']}", headers=headers)).json() == alerta
    removed = await service.http.delete(f"/alertas/{alerta['id']}", headers=headers)
    assert removed.json()["status"] == "deleted"


@pytest.mark.parametrize(
    "change",
    [
        {"symbol": "NOPEUSDT"},
        {"price": "-1"},
        {"price": "0"},
        {"price": "61000.001"},  # off the 0.01 tick
        {"price": None},
        {"condition": "above"},
        {"condition": "move_pct"},  # a price, no percent or window
        {**MOVE, "percent": "0"},
        {**MOVE, "percent": "-2"},
        {**MOVE, "window_seconds": 0},
        {**MOVE, "window_seconds": -60},
        {**MOVE, "window_seconds": "60"},
        {**MOVE, "window_seconds": 3601},
        {**MOVE, "price": "60000"},
        {"note": "line\nbreak"},
        {"note": "nul\x00"},
        {"note": "x" * 201},
        {"cooldown_seconds": -1},
        {"repeat": "yes"},
    ],
)
async def test_bad_input_is_refused_and_nothing_is_stored(
    service: Harness, change: dict[str, Any]
) -> None:
    _, headers = await service.new_client()
    body = {k: v for k, v in {**LEVEL, **change}.items() if v is not None}
    response = await service.http.post("/api/v1/alerts", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert "error" in response.json()
    assert (await service.http.get("/api/v1/alerts", headers=headers)).json() == []
    assert len(service.container.alert_engine.index) == 0


async def test_a_client_sees_and_touches_only_its_own_alerts(service: Harness) -> None:
    alice_id, alice = await service.new_client("alice")
    bob_id, bob = await service.new_client("bob")
    mine = await _create(service, alice, LEVEL)
    theirs = await _create(service, bob, MOVE)
    assert [a["id"] for a in (await service.http.get("/api/v1/alerts", headers=bob)).json()] == [
        theirs["id"]
    ]
    for method in ("GET", "DELETE"):
        response = await service.http.request(method, f"/api/v1/alerts/{mine['id']}", headers=bob)
        assert response.status_code == 404, response.text
        response = await service.http.request(method, f"/alertas/{mine['id']}", headers=bob)
        assert response.status_code == 404, response.text
    forged = await service.http.post(
        "/api/v1/alerts", json={**LEVEL, "client_id": alice_id}, headers=bob
    )
    assert forged.status_code == 403
    assert (await service.http.get(f"/api/v1/alerts/{mine['id']}", headers=alice)).json() == mine
    everyone = (await service.http.get("/api/v1/alerts", headers=service.admin)).json()
    assert {a["id"] for a in everyone} == {mine["id"], theirs["id"]}
    only_bob = await service.http.get(f"/api/v1/alerts?client_id={bob_id}", headers=service.admin)
    assert [a["id"] for a in only_bob.json()] == [theirs["id"]]
    read = await service.http.get(f"/api/v1/alerts/{mine['id']}", headers=service.admin)
    assert read.json() == mine


async def test_an_alert_makes_the_feed_stream_its_symbol(service: Harness) -> None:
    _, headers = await service.new_client()
    await _create(service, headers, {**LEVEL, "symbol": "ETHUSDT", "price": "3000.00"})
    await service.exchange.wait_subscribed("ethusdt@aggTrade")
