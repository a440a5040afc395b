"""No request sees or touches another client's data."""

from __future__ import annotations

from tests.support.harness import Harness


async def test_clients_see_only_their_own_data(service: Harness) -> None:
    alice_id, alice = await service.new_client("alice")
    bob_id, bob = await service.new_client("bob")
    await service.buy(alice, alice_id, preco_executado="60000", quantidade="0.01")
    order_body = {
        "cliente_id": alice_id,
        "symbol": "BTCUSDT",
        "preco_alvo": "59000",
        "quantidade": "0.01",
    }
    order = (await service.http.post("/posicionar-compra", json=order_body, headers=alice)).json()

    for path, someone in (
        ("/ordens", "cliente_id"),
        ("/negociacoes", "cliente_id"),
        ("/posicoes", "cliente_id"),
        ("/api/v1/orders", "client_id"),
        ("/api/v1/trades", "client_id"),
        ("/api/v1/positions", "client_id"),
    ):
        mine = await service.http.get(path, headers=bob)
        assert mine.status_code == 200
        assert mine.json() == [], path
        peek = await service.http.get(path, params={someone: alice_id}, headers=bob)
        assert peek.status_code == 403, path

    assert (await service.http.get(f"/api/v1/orders/{order['id']}", headers=bob)).status_code == 404
    stolen = await service.http.delete(f"/ordens/{order['id']}", headers=bob)
    assert stolen.status_code == 404
    still = await service.http.get(f"/api/v1/orders/{order['id']}", headers=alice)
    assert still.json()["status"] == "waiting"
    everyone = await service.http.get("/api/v1/orders", headers=service.admin)
    assert [o["client_id"] for o in everyone.json()] == [alice_id]
    assert bob_id != alice_id
