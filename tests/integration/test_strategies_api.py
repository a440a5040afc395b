"""``/api/v1/strategies`` and ``/estrategias``: validation, tenancy, pause/resume/delete."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.candles import candles, emit_candle, future_minute
from tests.support.harness import Harness

BODY = {"symbol": "BTCUSDT", "kind": "channel-breakout", "interval": "1m", "window": 2}


async def _orders(service: Harness, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await service.http.get("/api/v1/orders?status=waiting", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json())


@pytest.mark.parametrize(
    "change",
    [
        {"window": 1},
        {"window": 1001},
        {"window": "20"},
        {"interval": "7m"},
        {"symbol": "NOPEUSDT"},
        {"kind": "grid"},
        {"quote_amount": "100"},  # with quantity: exactly one of them
        {"quantity": None},
        {"exit_window": 0},
        {"stop_loss_pct": "100"},
        {"quantity": "0.000001"},  # under LOT_SIZE
    ],
)
async def test_invalid_strategies_are_refused_and_nothing_is_stored(
    service: Harness, change: dict[str, Any]
) -> None:
    _, headers = await service.new_client()
    body = {**BODY, "quantity": "0.001", **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = await service.http.post("/api/v1/strategies", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert (await service.http.get("/api/v1/strategies", headers=headers)).json() == []


async def test_a_client_sees_only_its_own_strategies(service: Harness) -> None:
    _, alice = await service.new_client("alice")
    _, bob = await service.new_client("bob")
    created = await service.http.post(
        "/api/v1/strategies", json={**BODY, "quantity": "0.001"}, headers=alice
    )
    assert created.status_code == 201, created.text
    strategy_id = created.json()["id"]
    assert (await service.http.get("/api/v1/strategies", headers=bob)).json() == []
    for method, path in [
        ("GET", f"/api/v1/strategies/{strategy_id}"),
        ("POST", f"/api/v1/strategies/{strategy_id}/pause"),
        ("DELETE", f"/api/v1/strategies/{strategy_id}"),
        ("GET", f"/estrategias/{strategy_id}"),
    ]:
        response = await service.http.request(method, path, headers=bob)
        assert response.status_code == 404, (path, response.text)
    mine = (await service.http.get("/api/v1/strategies", headers=alice)).json()
    assert [s["id"] for s in mine] == [strategy_id]
    assert mine[0]["status"] == "active"


async def test_portuguese_alias_speaks_portuguese(service: Harness) -> None:
    _, headers = await service.new_client()
    body = {"symbol": "btcusdt", "tipo": "channel-reversion", "intervalo": "5m", "janela": 10}
    response = await service.http.post(
        "/estrategias", json={**body, "valor_cotacao": "100"}, headers=headers
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["symbol"] == "BTCUSDT"
    assert created["janela"] == 10
    assert created["valor_cotacao"] == "100.00000000"
    assert created["quantidade"] is None
    paused = await service.http.post(f"/estrategias/{created['id']}/pausar", headers=headers)
    assert paused.json()["status"] == "paused"


async def test_pause_and_delete_cancel_the_waiting_orders_resume_places_them_again(
    service: Harness,
) -> None:
    start = future_minute()
    # two closed candles (the third one's trade closes the second on the exchange's clock)
    for candle in candles(
        start, [(62000, 62010, 61990, 62000)] * 2 + [(62000, 62000, 62000, 62000)]
    ):
        emit_candle(service.exchange, "BTCUSDT", candle)
    _, headers = await service.new_client()
    runner = service.container.strategy_runner
    created = await service.http.post(
        "/api/v1/strategies", json={**BODY, "quantity": "0.001"}, headers=headers
    )
    strategy_id = created.json()["id"]
    await runner.wait_for(lambda: runner.idle() and strategy_id in runner.live)
    [order] = await _orders(service, headers)
    assert (order["side"], order["target_price"], order["condition"]) == (
        "buy", "62010.00000000", "gte"
    )  # fmt: skip
    assert (order["origin"], order["strategy_id"]) == ("strategy", strategy_id)

    paused = await service.http.post(f"/api/v1/strategies/{strategy_id}/pause", headers=headers)
    assert paused.json()["status"] == "paused"
    assert await _orders(service, headers) == []
    again = await service.http.post(f"/api/v1/strategies/{strategy_id}/pause", headers=headers)
    assert again.status_code == 409

    resumed = await service.http.post(f"/api/v1/strategies/{strategy_id}/resume", headers=headers)
    assert resumed.json()["status"] == "active"
    await runner.wait_for(lambda: runner.idle() and strategy_id in runner.live)
    [order] = await _orders(service, headers)
    assert order["target_price"] == "62010.00000000"

    deleted = await service.http.delete(f"/api/v1/strategies/{strategy_id}", headers=headers)
    assert deleted.status_code == 200
    assert await _orders(service, headers) == []
    gone = await service.http.get(f"/api/v1/strategies/{strategy_id}", headers=headers)
    assert gone.status_code == 404
