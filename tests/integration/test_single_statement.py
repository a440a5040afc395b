"""A placed or recorded buy is one statement on PostgreSQL (its audit entry inside it), or a
transaction when it must be: either way the same order, the same audit entry, nothing twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from criptoren.db.audit import each_record, seal_staged
from criptoren.db.single_statement import NEW_ID
from criptoren.domain.audit import verify_chain
from tests.integration.test_notifications_webhook import FAST, add_webhook
from tests.support.harness import Harness, running_service
from tests.support.receiver import WebhookReceiver


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Harness]:
    """The service with loopback webhooks allowed."""
    async with running_service(database_url, **FAST) as harness:
        yield harness


ORDER = {"symbol": "BTCUSDT", "side": "buy", "target_price": "61000.5", "quantity": "0.01"}


async def _trail(service: Harness) -> list[Any]:
    """Every audit row (PostgreSQL: staged rows linked first), after checking the chain."""
    await service.container.database.write(seal_staged)
    verdict = await service.container.database.read(lambda c: verify_chain(each_record(c)))
    assert verdict.intact, verdict.summary()
    return await service.container.database.read(lambda c: list(each_record(c)))


async def _placed(service: Harness, auth: dict[str, str]) -> dict[str, Any]:
    response = await service.http.post("/api/v1/orders", json=ORDER, headers=auth)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _expected_terms(order: dict[str, Any]) -> dict[str, Any]:
    """The ``order.placed`` data the trail must hold, from the API's answer."""
    return {
        "client_order_id": f"crpt-{order['id']}",
        "condition": "lte",
        "origin": "manual",
        "quantity": "0.01000000",
        "reference_price": order["reference_price"],
        "side": "buy",
        "strategy_id": None,
        "symbol": "BTCUSDT",
        "target_price": "61000.50000000",
    }


async def test_a_buy_with_or_without_notification_channels_is_stored_and_audited_alike(
    service: Harness, receiver: WebhookReceiver
) -> None:
    quiet_id, quiet = await service.new_client("quiet")
    told_id, told = await service.new_client("told")
    await add_webhook(service, told, receiver)
    chosen = {"order_events": ["placed"]}
    put = await service.http.put("/api/v1/notification-preferences", json=chosen, headers=told)
    assert put.status_code == 200, put.text

    first = await _placed(service, quiet)  # PostgreSQL: one statement
    second = await _placed(service, told)  # its delivery goes in with it: a transaction
    third = await _placed(service, quiet)

    assert [first["client_order_id"], second["client_order_id"], third["client_order_id"]] == [
        f"crpt-{first['id']}",
        f"crpt-{second['id']}",
        f"crpt-{third['id']}",
    ]
    placed = [r for r in await _trail(service) if r.action == "order.placed"]
    assert [(r.entity_id, r.client_id) for r in placed] == [
        (str(first["id"]), quiet_id),
        (str(second["id"]), told_id),
        (str(third["id"]), quiet_id),
    ]
    for row, order in zip(placed, (first, second, third), strict=True):
        assert orjson.loads(row.data) == _expected_terms(order)
    listed = await service.http.get("/api/v1/orders", headers=quiet)
    assert [o["id"] for o in listed.json()] == [third["id"], first["id"]]
    deliveries = await service.http.get("/api/v1/notifications", headers=told)
    assert [d["type"] for d in deliveries.json()] == ["order.placed"]


async def test_a_recorded_buy_whose_text_spells_the_stand_in_id_keeps_the_text(
    service: Harness,
) -> None:
    client_id, auth = await service.new_client()
    plain = await service.buy(auth, client_id, preco_executado="60000", quantidade="0.5")
    spelled = await service.buy(
        auth, client_id, preco_executado="60000", quantidade="0.5", ordem_id=str(NEW_ID)
    )
    assert plain.status_code == spelled.status_code == 201, (plain.text, spelled.text)

    recorded = [r for r in await _trail(service) if r.action == "trade.recorded"]
    assert [r.entity_id for r in recorded] == [
        str(plain.json()["id"]),
        str(spelled.json()["id"]),
    ]
    assert recorded[1].data.count(str(NEW_ID)) == 1
    assert f'"order_id":"{NEW_ID}"' in recorded[1].data
    assert '"order_id":null' in recorded[0].data
    trades = await service.http.get("/api/v1/trades", headers=auth)
    assert sorted(t["order_id"] or "" for t in trades.json()) == ["", str(NEW_ID)]
