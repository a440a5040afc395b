"""The engine's audit rows: paper failures, live fills, rejections, reconciliations, re-arms."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import update

from criptoren.db.audit import each_record, seal_staged
from criptoren.db.models import PositionedOrder
from criptoren.domain.audit import verify_chain
from criptoren.domain.orders import OrderStatus, Side
from tests.integration.test_live_mode import API_KEY, _buy_below, _live_service
from tests.support.events import EventRecorder
from tests.support.harness import Harness


async def _steps(service: Harness, order_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    response = await service.http.get(
        "/api/v1/audit", params={"entity": "order", "limit": 1000}, headers=service.admin
    )
    assert response.status_code == 200, response.text
    rows = [r for r in response.json()["items"] if r["entity_id"] == str(order_id)]
    return [(r["action"], r["actor"], r["data"]) for r in rows]


async def _intact(service: Harness) -> None:
    await service.container.database.write(seal_staged)  # PostgreSQL: link them all
    verdict = await service.container.database.read(lambda c: verify_chain(each_record(c)))
    assert verdict.intact, verdict.summary()


async def test_a_paper_sell_without_holdings_is_audited_failed(service: Harness) -> None:
    events = EventRecorder(service.container.bus)
    client_id, auth = await service.new_client()
    await service.buy(auth, client_id, preco_executado="60000", quantidade="0.01")
    body = {"cliente_id": client_id, "symbol": "BTCUSDT", "preco_alvo": "62000"}
    placed = await service.http.post(
        "/posicionar-venda", json={**body, "quantidade": "0.01"}, headers=auth
    )
    order = placed.json()
    await service.insert_trade(
        client_id, type=Side.SELL, price=Decimal(61000), quantity=Decimal("0.01")
    )
    await service.exchange.wait_subscribed("btcusdt@aggTrade")
    service.exchange.emit_prices("BTCUSDT", ["62000.01"])
    await events.wait_finished({order["id"]})
    steps = await _steps(service, order["id"])
    assert [(action, actor) for action, actor, _ in steps] == [
        ("order.placed", f"client:{client_id}"),
        ("order.failed", "engine"),  # paper: claimed and decided in one transaction
    ]
    assert steps[1][2]["reason"].startswith("cannot sell 0.01 BTC")
    assert steps[1][2]["trigger_price"] == "62000.01"
    await _intact(service)


async def test_live_fill_rejection_and_reconciliation_are_audited(database_url: str) -> None:
    async with _live_service(database_url) as live:
        events = EventRecorder(live.container.bus)
        client_id, auth = await live.new_client()
        sent = await _buy_below(live, auth, client_id)
        live.exchange.emit_prices("BTCUSDT", ["60950.00"])
        await events.wait_finished({sent["id"]})
        live.exchange.drop_order_replies(1)
        lost = await _buy_below(live, auth, client_id, preco_alvo="60900")
        live.exchange.emit_prices("BTCUSDT", ["60899.00"])
        await events.wait_finished({lost["id"]}, timeout=20)
        live.exchange.set_balance(API_KEY, "USDT", "1")
        refused = await _buy_below(live, auth, client_id, preco_alvo="60800")
        live.exchange.emit_prices("BTCUSDT", ["60799.00"])
        await events.wait_finished({refused["id"]})

        executed = await _steps(live, sent["id"])
        assert [a for a, _, _ in executed] == ["order.placed", "order.triggered", "order.executed"]
        assert (executed[2][2]["mode"], executed[2][2]["price"]) == ("live", "60950.00000000")
        assert "reconciled" not in executed[2][2]
        reconciled = await _steps(live, lost["id"])
        assert [a for a, _, _ in reconciled][1:] == ["order.triggered", "order.executed"]
        assert reconciled[2][2]["reconciled"] is True
        failed = await _steps(live, refused["id"])
        assert [(a, actor) for a, actor, _ in failed][1:] == [
            ("order.triggered", "engine"),
            ("order.failed", "engine"),
        ]
        assert "insufficient balance" in failed[2][2]["reason"]
        await _intact(live)


async def test_a_paper_order_re_armed_at_start_up_is_audited(service: Harness) -> None:
    client_id, auth = await service.new_client()
    body = {"cliente_id": client_id, "symbol": "BTCUSDT", "preco_alvo": "50000"}
    placed = await service.http.post(
        "/posicionar-compra", json={**body, "quantidade": "0.01"}, headers=auth
    )
    order_id = placed.json()["id"]
    async with service.container.session_factory() as session, session.begin():
        # as a crash between the claim and the fill would leave it
        claim = update(PositionedOrder).where(PositionedOrder.id == order_id)
        await session.execute(claim.values(status=OrderStatus.TRIGGERED))
    assert await service.container.reconciler.rearm_atomic() == 1
    steps = await _steps(service, order_id)
    assert [(a, actor) for a, actor, _ in steps] == [
        ("order.placed", f"client:{client_id}"),
        ("order.rearmed", "engine"),
    ]
    await _intact(service)
