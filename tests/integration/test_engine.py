"""Positioned orders fire on real trades streamed by the fake exchange, exactly once."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import pytest

from criptoren.domain.orders import Side
from criptoren.engine.events import EventKind
from tests.support.events import EventRecorder
from tests.support.harness import Harness


async def _place(service: Harness, auth: dict[str, str], path: str, **body: Any) -> Any:
    response = await service.http.post(path, json={"symbol": "BTCUSDT", **body}, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


async def _order(service: Harness, auth: dict[str, str], order_id: int) -> Any:
    return (await service.http.get(f"/api/v1/orders/{order_id}", headers=auth)).json()


def _engine_lines(caplog: pytest.LogCaptureFixture, order_id: int) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("criptoren.engine") and f"order {order_id} " in record.message
    ]


async def test_buy_fires_once_on_the_first_crossing_trade(
    service: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="criptoren.engine")
    events = EventRecorder(service.container.bus)
    client_id, auth = await service.new_client()
    order = await _place(
        service,
        auth,
        "/posicionar-compra",
        cliente_id=client_id,
        preco_alvo="61000",
        quantidade="0.01",
    )
    await service.exchange.wait_subscribed("btcusdt@aggTrade")
    service.exchange.emit_prices("BTCUSDT", ["61500", "60900.5", "60800"])
    await events.wait_finished({order["id"]})
    assert [e.kind for e in events.events if e.order_id == order["id"]] == [
        EventKind.PLACED,
        EventKind.TRIGGERED,
        EventKind.EXECUTED,
    ]
    stored = await _order(service, auth, order["id"])
    assert stored["status"] == "executed"
    [trade] = (await service.http.get("/api/v1/trades", headers=auth)).json()
    assert trade["id"] == stored["executed_trade_id"]
    assert trade["positioned_order_id"] == order["id"]
    assert trade["price"] == "60900.50000000"
    assert trade["fee"] == "0.60900500"  # 0.1 % of 609.005 USDT
    assert (trade["source"], trade["mode"], trade["fee_asset"]) == ("engine", "paper", "USDT")
    [position] = (await service.http.get("/api/v1/positions", headers=auth)).json()
    assert position["quantity"] == "0.01000000"
    assert _engine_lines(caplog, order["id"]) == [
        f"order {order['id']} executed: client {client_id} buy BTCUSDT at 60900.50000000 "
        f"(trade {trade['id']})"
    ]


async def test_only_trades_after_creation_count(service: Harness) -> None:
    events = EventRecorder(service.container.bus)
    client_id, auth = await service.new_client()
    # the last trade (61837.63) is already ≤ 62000, but it happened before the order
    order = await _place(
        service,
        auth,
        "/posicionar-compra",
        cliente_id=client_id,
        preco_alvo="62000",
        quantidade="0.01",
        condicao="lte",
    )
    await service.exchange.wait_subscribed("btcusdt@aggTrade")
    await service.container.trigger_engine.wait_idle()
    assert (await _order(service, auth, order["id"]))["status"] == "waiting"
    service.exchange.emit_prices("BTCUSDT", ["61840"])
    await events.wait_finished({order["id"]})
    [trade] = (await service.http.get("/api/v1/trades", headers=auth)).json()
    assert trade["price"] == "61840.00000000"


async def test_sell_fails_with_a_reason_when_the_holdings_are_gone(
    service: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="criptoren.engine")
    events = EventRecorder(service.container.bus)
    client_id, auth = await service.new_client()
    await service.buy(auth, client_id, preco_executado="60000", quantidade="0.01")
    order = await _place(
        service,
        auth,
        "/posicionar-venda",
        cliente_id=client_id,
        preco_alvo="62000",
        quantidade="0.01",
    )
    # the API refuses a sale of reserved coins; the user's own SQL does not ask it
    await service.insert_trade(
        client_id, type=Side.SELL, price=Decimal(61000), quantity=Decimal("0.01")
    )
    await service.exchange.wait_subscribed("btcusdt@aggTrade")
    service.exchange.emit_prices("BTCUSDT", ["62000.01"])
    await events.wait_finished({order["id"]})
    stored = await _order(service, auth, order["id"])
    assert stored["status"] == "failed"
    assert "cannot sell" in stored["failure_reason"]
    trades = (await service.http.get("/api/v1/trades", headers=auth)).json()
    assert [t["source"] for t in trades] == ["manual", "manual"]
    assert _engine_lines(caplog, order["id"]) == [
        f"order {order['id']} failed: client {client_id} sell BTCUSDT: " + stored["failure_reason"]
    ]


async def test_cancel_racing_a_fire_has_exactly_one_outcome(service: Harness) -> None:
    events = EventRecorder(service.container.bus)
    client_id, auth = await service.new_client()
    ids = []
    for _ in range(30):
        order = await _place(
            service,
            auth,
            "/posicionar-compra",
            cliente_id=client_id,
            preco_alvo="61000",
            quantidade="0.001",
        )
        ids.append(order["id"])
    await service.exchange.wait_subscribed("btcusdt@aggTrade")
    service.exchange.emit_prices("BTCUSDT", ["60000"])
    cancels = await asyncio.gather(
        *(service.http.post(f"/api/v1/orders/{i}/cancel", headers=auth) for i in ids)
    )
    await events.wait_for(
        lambda: (
            len({e.order_id for e in events.of(EventKind.EXECUTED)})
            + sum(r.status_code == 200 for r in cancels)
            >= len(ids)
        )
    )
    await service.container.trigger_engine.wait_idle()
    trades = (await service.http.get("/api/v1/trades", headers=auth)).json()
    traded = {t["positioned_order_id"] for t in trades}
    assert len(traded) == len(trades)  # never two trades for one order
    for order_id, cancel in zip(ids, cancels, strict=True):
        stored = await _order(service, auth, order_id)
        if cancel.status_code == 200:
            assert stored["status"] == "cancelled"
            assert order_id not in traded
        else:
            assert cancel.status_code == 409
            assert stored["status"] == "executed"
            assert order_id in traded
    assert sum(Decimal(t["quantity"]) for t in trades) == Decimal("0.001") * len(traded)


async def test_one_batch_fails_the_sells_without_holdings_and_executes_the_rest(
    service: Harness,
) -> None:
    events = EventRecorder(service.container.bus)
    alice, alice_auth = await service.new_client("alice")
    bob, bob_auth = await service.new_client("bob")
    for client_id, auth in ((alice, alice_auth), (bob, bob_auth)):
        response = await service.buy(auth, client_id, preco_executado="60000", quantidade="0.03")
        assert response.status_code == 201, response.text

    async def sell(client_id: int, auth: dict[str, str]) -> int:
        body = {"cliente_id": client_id, "preco_alvo": "62000", "quantidade": "0.01"}
        return int((await _place(service, auth, "/posicionar-venda", **body))["id"])

    async def buy(client_id: int, auth: dict[str, str]) -> int:
        body = {"cliente_id": client_id, "preco_alvo": "62500", "quantidade": "0.01"}
        body["condicao"] = "lte"  # fires on the same trade as the sells
        return int((await _place(service, auth, "/posicionar-compra", **body))["id"])

    # in id order: alice sells, buys, sells, sells; bob sells
    first, alice_buy, second, third = [
        await sell(alice, alice_auth),
        await buy(alice, alice_auth),
        await sell(alice, alice_auth),
        await sell(alice, alice_auth),
    ]
    bob_sell = await sell(bob, bob_auth)
    # 0.015 of alice's 0.03 sold behind the service's back: her sells reserve more than she has
    await service.insert_trade(
        alice, type=Side.SELL, price=Decimal(61000), quantity=Decimal("0.015")
    )
    ids = {first, alice_buy, second, third, bob_sell}
    await service.exchange.wait_subscribed("btcusdt@aggTrade")
    service.exchange.emit_prices("BTCUSDT", ["62000.01"])  # crosses all five at once
    await events.wait_finished(ids)
    # alice: 0.015 - 0.01 (first) + 0.01 (her buy) - 0.01 (second) = 0.005: the third fails
    statuses = {i: (await _order(service, alice_auth, i))["status"] for i in ids - {bob_sell}}
    assert statuses == {first: "executed", alice_buy: "executed", second: "executed",
                        third: "failed"}  # fmt: skip
    failed = await _order(service, alice_auth, third)
    assert failed["failure_reason"] == "cannot sell 0.01 BTC: holdings are 0.005 BTC"
    assert (await _order(service, bob_auth, bob_sell))["status"] == "executed"
    [position] = (await service.http.get("/api/v1/positions", headers=alice_auth)).json()
    assert Decimal(position["quantity"]) == Decimal("0.005")
    outcomes = [e for e in events.events if e.kind in (EventKind.EXECUTED, EventKind.FAILED)]
    assert [e.order_id for e in outcomes] == sorted(ids)  # each its own event, in id order
    assert [e.kind for e in outcomes].count(EventKind.FAILED) == 1


async def test_earlier_trades_orders_execute_first_and_each_trades_by_id(
    service: Harness,
) -> None:
    service.container.trigger_engine.batch_size = 3  # batches split trades and span them
    events = EventRecorder(service.container.bus)
    client_id, auth = await service.new_client()

    async def buy_at(target: str) -> int:
        body = {"cliente_id": client_id, "preco_alvo": target, "quantidade": "0.001"}
        return int((await _place(service, auth, "/posicionar-compra", **body))["id"])

    # the older orders wait lower: the second trade fires them, the first fires the newer
    later = [await buy_at("60000") for _ in range(4)]
    sooner = [await buy_at(target) for target in ("61000", "60500", "61500", "60800", "60600")]
    await service.exchange.wait_subscribed("btcusdt@aggTrade")
    service.exchange.emit_prices("BTCUSDT", ["60400", "59900"])
    await events.wait_finished(set(later + sooner))
    executed = [e.order_id for e in events.of(EventKind.EXECUTED)]
    assert executed == sorted(sooner) + sorted(later)
    trades = (await service.http.get("/api/v1/trades", headers=auth)).json()
    by_order = {t["positioned_order_id"]: t for t in trades}
    assert {by_order[i]["price"] for i in sooner} == {"60400.00000000"}
    assert {by_order[i]["price"] for i in later} == {"59900.00000000"}
    assert sorted(trades, key=lambda t: t["id"]) == [by_order[i] for i in executed]
