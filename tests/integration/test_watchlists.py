"""Per-client watchlists: each client its own, the feed streams their union with the orders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import delete
from sqlalchemy.engine import Connection

from criptoren.db.models import ClientWatchlistEntry
from criptoren.services.auth import Principal
from criptoren.services.unit_of_work import UnitOfWork
from tests.support.harness import Harness, running_service
from tests.support.prices import price_seen


@pytest.fixture
async def quick_release(database_url: str) -> AsyncIterator[Harness]:
    """A service that unsubscribes an unneeded symbol at once (no grace period)."""
    async with running_service(database_url, feed_release_after_seconds=0) as harness:
        yield harness


async def _symbols(service: Harness, auth: dict[str, str], **params: int) -> list[str]:
    response = await service.http.get("/api/v1/monitored", headers=auth, params=params)
    assert response.status_code == 200, response.text
    return [m["symbol"] for m in response.json()]


async def test_each_client_sees_and_changes_only_its_own_list(service: Harness) -> None:
    alice_id, alice = await service.new_client("alice")
    _, bob = await service.new_client("bob")
    assert (await service.http.get("/monitorar-par/ETHUSDT", headers=alice)).status_code == 200
    assert (await service.http.put("/api/v1/monitored/BTCUSDT", headers=bob)).status_code == 200
    assert await _symbols(service, alice) == ["ETHUSDT"]
    assert await _symbols(service, bob) == ["BTCUSDT"]
    removed = await service.http.delete("/api/v1/monitored/ETHUSDT", headers=bob)
    assert removed.status_code == 200
    assert await _symbols(service, alice) == ["ETHUSDT"]
    peek = await service.http.get("/api/v1/monitored", headers=bob, params={"client_id": alice_id})
    assert peek.status_code == 403
    assert await _symbols(service, service.admin, client_id=alice_id) == ["ETHUSDT"]
    assert await _symbols(service, service.admin) == []  # the operator's own list


async def test_feed_drops_a_symbol_once_no_list_or_order_needs_it(quick_release: Harness) -> None:
    service = quick_release
    _, alice = await service.new_client("alice")
    _, bob = await service.new_client("bob")
    for auth in (alice, bob):
        await service.http.put("/api/v1/monitored/ETHUSDT", headers=auth)
    await service.exchange.wait_subscribed("ethusdt@aggTrade")
    await service.http.delete("/api/v1/monitored/ETHUSDT", headers=alice)
    order = await service.http.post(
        "/api/v1/orders",
        json={"symbol": "ETHUSDT", "side": "buy", "target_price": "2000", "quantity": "0.01"},
        headers=alice,
    )
    await service.http.delete("/api/v1/monitored/ETHUSDT", headers=bob)
    await service.http.post(f"/api/v1/orders/{order.json()['id']}/cancel", headers=alice)
    await service.exchange.wait_unsubscribed("ethusdt@aggTrade")
    assert "ETHUSDT" not in service.container.feed.monitored()


async def test_orders_carry_their_distance_to_the_live_price(service: Harness) -> None:
    client_id, auth = await service.new_client()
    await service.http.put("/api/v1/monitored/BTCUSDT", headers=auth)
    await service.exchange.wait_subscribed("btcusdt@aggTrade")
    service.exchange.emit_prices("BTCUSDT", ["62500"])
    await price_seen(service.container.feed.book, "BTCUSDT", Decimal("62500"))
    body = {"cliente_id": client_id, "symbol": "BTCUSDT", "preco_alvo": "60000", "quantidade": "1"}
    placed = await service.http.post("/posicionar-compra", json=body, headers=auth)
    ordem = placed.json()
    assert (ordem["preco_atual"], ordem["distancia"]) == ("62500.00000000", "-2500.00000000")
    assert ordem["distancia_percentual"] == "-4.00"
    [order] = (await service.http.get("/api/v1/orders", headers=auth)).json()
    assert (order["last_price"], order["distance"]) == ("62500.00000000", "-2500.00000000")
    assert order["distance_percent"] == "-4.00"


async def test_watching_again_after_a_removal_puts_the_symbol_back(service: Harness) -> None:
    # a watch remembered in memory must be forgotten by the removal, or the second
    # watch would answer 200 and write nothing
    _, alice = await service.new_client("alice")
    for _ in range(2):
        assert (await service.http.get("/monitorar-par/ETHUSDT", headers=alice)).status_code == 200
    assert await _symbols(service, alice) == ["ETHUSDT"]
    assert (
        await service.http.delete("/api/v1/monitored/ETHUSDT", headers=alice)
    ).status_code == 200
    assert await _symbols(service, alice) == []
    assert (await service.http.get("/monitorar-par/ETHUSDT", headers=alice)).status_code == 200
    assert await _symbols(service, alice) == ["ETHUSDT"]


async def test_a_rolled_back_watch_is_not_remembered(service: Harness) -> None:
    client_id, _ = await service.new_client("alice")
    container = service.container
    caller = Principal(client_id=client_id)
    work = UnitOfWork(container.session_factory, container.database)
    await container.watchlists.watch(work, caller, "ETHUSDT")
    await work.rollback()
    work = UnitOfWork(container.session_factory, container.database)
    await container.watchlists.watch(work, caller, "ETHUSDT")  # must write this time
    await work.commit()
    work = UnitOfWork(container.session_factory, container.database)
    listed = await container.watchlists.list(work, caller)
    await work.commit()
    assert [state.symbol for state in listed] == ["ETHUSDT"]


def _removed_elsewhere(connection: Connection, client_id: int) -> None:
    """What another process's removal leaves in the database (no word to this one)."""
    connection.execute(
        delete(ClientWatchlistEntry).where(ClientWatchlistEntry.client_id == client_id)
    )


async def test_once_its_memory_lapses_a_watch_reads_the_list_again(service: Harness) -> None:
    # this process remembers listed entries for a while; when that lapses, watching again
    # must find a listed symbol and write nothing, and put back one another process removed
    client_id, alice = await service.new_client("alice")
    memory = service.container.watchlists.listed
    for _ in range(2):
        assert (await service.http.get("/monitorar-par/ETHUSDT", headers=alice)).status_code == 200
        memory.forget()  # as when its time lapses
    await service.container.database.write(lambda c: _removed_elsewhere(c, client_id))
    assert await _symbols(service, alice) == []
    assert (await service.http.get("/monitorar-par/ETHUSDT", headers=alice)).status_code == 200
    assert await _symbols(service, alice) == ["ETHUSDT"]
    audit = await service.http.get("/api/v1/audit", headers=alice)
    actions = [row["action"] for row in audit.json()["items"] if row["entity_id"] == "ETHUSDT"]
    assert actions == ["watchlist.added", "watchlist.added"]  # the first watch, the put-back
