"""The audit trail: every state change leaves its row, chained, and only its client sees it."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from criptoren.db.audit import each_record, seal_staged
from criptoren.domain.audit import verify_chain
from tests.integration.test_strategies_live import start_following, walk
from tests.support.candles import candles, future_minute
from tests.support.events import EventRecorder
from tests.support.harness import Harness


async def _rows(service: Harness, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = await service.http.get("/api/v1/audit", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def _chain(service: Harness) -> str:
    await service.container.database.write(seal_staged)  # PostgreSQL: link them all
    verdict = await service.container.database.read(lambda c: verify_chain(each_record(c)))
    assert verdict.intact, verdict.summary()
    return verdict.summary()


async def test_orders_trades_watchlists_and_fills_leave_their_rows(service: Harness) -> None:
    http, events = service.http, EventRecorder(service.container.bus)
    client_id, auth = await service.new_client()
    placed = await http.post(
        "/api/v1/orders",
        json={"symbol": "BTCUSDT", "side": "buy", "target_price": "61000", "quantity": "0.01"},
        headers={**auth, "X-Request-ID": "req-order-1"},
    )
    order = await _ok(placed, 201)
    assert placed.headers["x-request-id"] == "req-order-1"
    body = {"cliente_id": client_id, "symbol": "ETHUSDT", "preco_alvo": "2500", "quantidade": "1"}
    pt_order = await _ok(await http.post("/posicionar-compra", json=body, headers=auth), 201)
    await _ok(await http.delete(f"/ordens/{pt_order['id']}", headers=auth))
    trade = await _ok(
        await service.buy(auth, client_id, preco_executado="60000", quantidade="1"), 201
    )
    await _ok(await http.put("/api/v1/monitored/ETHUSDT", headers=auth))
    await _ok(await http.delete("/api/v1/monitored/ETHUSDT", headers=auth))
    await service.exchange.wait_subscribed("btcusdt@aggTrade")
    service.exchange.emit_prices("BTCUSDT", ["61500", "60900.5"])
    await events.wait_finished({order["id"]})

    rows = await _rows(service, auth)
    seen = [(r["action"], r["entity_id"], r["actor"]) for r in rows]
    me = f"client:{client_id}"
    assert seen == [
        ("client.created", str(client_id), "admin"),
        ("order.placed", str(order["id"]), me),
        ("order.placed", str(pt_order["id"]), me),
        ("order.cancelled", str(pt_order["id"]), me),
        ("trade.recorded", str(trade["id"]), me),
        ("watchlist.added", "ETHUSDT", me),
        ("watchlist.removed", "ETHUSDT", me),
        ("order.executed", str(order["id"]), "engine"),  # paper: claimed and filled at once
    ]
    assert rows[1]["request_id"] == "req-order-1"
    assert rows[1]["data"]["target_price"] == "61000.00000000"
    executed = rows[7]["data"]
    assert (executed["price"], executed["mode"]) == ("60900.50000000", "paper")
    assert executed["trigger_price"] == "60900.5"
    assert executed["trade_id"] > trade["id"]
    assert all(r["request_id"] for r in rows[:7])  # every HTTP request stamped its rows
    assert rows[5]["request_id"] != rows[6]["request_id"]
    assert all(r["client_id"] == client_id for r in rows)
    assert [r["prev_hash"] for r in rows[1:]] == [r["hash"] for r in rows[:-1]]
    startup = (await _rows(service, service.admin))[0]  # the symbol sync at start-up
    assert (startup["action"], startup["actor"]) == ("symbols.synced", "system")
    assert (await _chain(service)).startswith(f"{len(rows) + 1} rows, chain intact")


async def test_admin_client_strategy_and_symbol_changes_leave_their_rows(
    service: Harness,
) -> None:
    http, admin = service.http, service.admin
    alice_id, _ = await service.new_client("alice")
    bob_id, _ = await service.new_client("bob")
    rotated = await _ok(await http.post(f"/api/v1/clients/{alice_id}/rotate", headers=admin))
    assert rotated["token"] not in str(await _rows(service, admin))
    await _ok(await http.post(f"/api/v1/clients/{bob_id}/revoke", headers=admin))
    await _ok(await http.post("/api/v1/symbols/sync", headers=admin))
    await _ok(await http.put("/api/v1/monitored/BTCUSDT", headers=admin))
    rows = await _rows(service, admin)
    assert [(r["action"], r["actor"], r["client_id"]) for r in rows] == [
        ("symbols.synced", "system", None),
        ("client.created", "admin", alice_id),
        ("client.created", "admin", bob_id),
        ("client.rotated", "admin", alice_id),
        ("client.revoked", "admin", bob_id),
        ("symbols.synced", "admin", None),
        ("watchlist.added", "admin", None),
    ]
    assert "token" not in str(rows)  # never a token or its hash
    assert rows[5]["data"]["symbols"] > 0
    await _chain(service)


async def test_strategy_changes_and_its_order_replacements_leave_their_rows(
    service: Harness,
) -> None:
    http, runner = service.http, service.container.strategy_runner
    history = candles(future_minute(), walk(14, 4))
    strategy_id, auth, _ = await start_following(service, "channel-breakout", 3, history)
    client_id = (await _rows(service, auth))[0]["client_id"]
    for path in ("pause", "resume"):
        await _ok(await http.post(f"/api/v1/strategies/{strategy_id}/{path}", headers=auth))
    await _ok(await http.delete(f"/api/v1/strategies/{strategy_id}", headers=auth))
    await runner.wait_for(runner.idle)
    rows = await _rows(service, auth, entity="strategy")
    me = f"client:{client_id}"
    mine = [(r["action"], r["actor"]) for r in rows if r["actor"] == me]
    assert mine == [
        ("strategy.created", me),
        ("strategy.paused", me),
        ("strategy.resumed", me),
        ("strategy.deleted", me),
    ]
    replaced = [r for r in rows if r["action"] == "strategy.orders_replaced"]
    assert replaced
    assert {r["actor"] for r in replaced} == {f"strategy:{strategy_id}"}
    placed = await _rows(service, auth, action="order.placed")
    ids = {str(i) for r in replaced for i in r["data"]["placed"]}
    assert ids == {r["entity_id"] for r in placed if r["actor"] == f"strategy:{strategy_id}"}


async def test_a_client_sees_only_its_own_rows_and_pages_by_cursor(service: Harness) -> None:
    alice_id, alice = await service.new_client("alice")
    bob_id, bob = await service.new_client("bob")
    for _ in range(3):
        await _ok(await service.buy(alice, alice_id, preco_executado="60000", quantidade="1"), 201)
    await _ok(await service.buy(bob, bob_id, preco_executado="60000", quantidade="1"), 201)
    assert {r["client_id"] for r in await _rows(service, bob)} == {bob_id}
    refused = await service.http.get(f"/api/v1/audit?client_id={alice_id}", headers=bob)
    assert refused.status_code == 403
    first = await _ok(await service.http.get("/auditoria?limit=2&entity=trade", headers=alice))
    assert [r["entity"] for r in first["items"]] == ["trade", "trade"]
    cursor = first["next_cursor"]
    rest = await _ok(
        await service.http.get(f"/api/v1/audit?limit=2&cursor={cursor}", headers=alice)
    )
    assert [r["action"] for r in rest["items"]] == ["trade.recorded"]
    assert rest["next_cursor"] is None
    body = {"client_id": alice_id, "symbol": "BTCUSDT", "side": "buy", "target_price": "50000"}
    for_alice = await service.http.post(
        "/api/v1/orders", json={**body, "quantity": "0.001"}, headers=service.admin
    )
    assert for_alice.status_code == 201, for_alice.text
    [by_admin] = await _rows(service, alice, action="order.placed")
    assert (by_admin["actor"], by_admin["client_id"]) == ("admin", alice_id)
    everything = await _rows(service, service.admin)
    assert {r["client_id"] for r in everything} == {alice_id, bob_id, None}
    assert len(await _rows(service, service.admin, client_id=alice_id)) == 5
    assert (await service.http.get("/api/v1/audit")).status_code == 401


async def test_concurrent_writers_keep_one_chain(service: Harness) -> None:
    clients = [await service.new_client(f"c{i}") for i in range(5)]
    body = {"symbol": "BTCUSDT", "side": "buy", "target_price": "50000", "quantity": "0.001"}

    async def place(auth: dict[str, str]) -> None:
        await _ok(await service.http.post("/api/v1/orders", json=body, headers=auth), 201)

    await asyncio.gather(*(place(clients[i % 5][1]) for i in range(50)))
    rows = await _rows(service, service.admin, action="order.placed", limit=100)
    assert len(rows) == 50
    assert (await _chain(service)).startswith("56 rows, chain intact")


async def test_a_refused_change_leaves_no_row_and_odd_request_ids_are_replaced(
    service: Harness,
) -> None:
    client_id, auth = await service.new_client()
    before = await _rows(service, service.admin)
    refused = await service.http.post(
        "/registrar-venda",
        json={
            "cliente_id": client_id,
            "symbol": "BTCUSDT",
            "preco_executado": "1",
            "quantidade": "1",
        },
        headers={**auth, "X-Request-ID": "not a sane id; " + "x" * 80},
    )
    assert refused.status_code == 422, refused.text
    generated = refused.headers["x-request-id"]
    assert len(generated) == 32
    assert int(generated, 16) >= 0
    assert await _rows(service, service.admin) == before


async def test_a_write_is_linked_into_the_chain_without_anyone_reading(service: Harness) -> None:
    """PostgreSQL links staged rows in the background a moment after their commit (SQLite
    as it appends): the trail grows by itself, no reader needed."""
    client_id, auth = await service.new_client()
    body = {"symbol": "BTCUSDT", "side": "buy", "target_price": "50000", "quantity": "0.001"}
    await _ok(await service.http.post("/api/v1/orders", json=body, headers=auth), 201)
    deadline = asyncio.get_running_loop().time() + 5
    while not await _order_placed_linked(service, client_id):
        assert asyncio.get_running_loop().time() < deadline, "the row was never linked"
        await asyncio.sleep(0.01)  # nothing to await: the sealer tells no one


async def _order_placed_linked(service: Harness, client_id: int) -> bool:
    query = text("SELECT count(*) FROM audit_log WHERE client_id = :c AND action = 'order.placed'")
    count = await service.container.database.read(
        lambda c: c.execute(query, {"c": client_id}).scalar_one()
    )
    return bool(count)
