"""Concurrent sales racing for the same holdings never oversell."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.support.harness import Harness


async def test_twenty_concurrent_sales_never_oversell(service: Harness) -> None:
    client_id, auth = await service.new_client()
    bought = await service.buy(auth, client_id, preco_executado="60000", quantidade="0.05")
    assert bought.status_code == 201
    sale = {
        "cliente_id": client_id,
        "symbol": "BTCUSDT",
        "preco_executado": "61000",
        "quantidade": "0.01",
    }

    async def sell() -> int:
        response = await service.http.post("/registrar-venda", json=sale, headers=auth)
        return response.status_code

    statuses = await asyncio.gather(*(sell() for _ in range(20)))
    assert sorted(statuses) == [201] * 5 + [422] * 15
    position = (await service.http.get("/api/v1/positions", headers=auth)).json()
    assert Decimal(position[0]["quantity"]) == 0


async def test_concurrent_positioned_sells_never_over_reserve(service: Harness) -> None:
    client_id, auth = await service.new_client()
    await service.buy(auth, client_id, preco_executado="60000", quantidade="0.03")
    sell = {
        "cliente_id": client_id,
        "symbol": "BTCUSDT",
        "preco_alvo": "70000",
        "quantidade": "0.01",
    }

    async def place() -> int:
        response = await service.http.post("/posicionar-venda", json=sell, headers=auth)
        return response.status_code

    statuses = await asyncio.gather(*(place() for _ in range(12)))
    assert sorted(statuses) == [201] * 3 + [422] * 9


async def test_positioned_sells_and_recorded_sales_racing_never_exceed_holdings(
    service: Harness,
) -> None:
    client_id, auth = await service.new_client()
    await service.buy(auth, client_id, preco_executado="60000", quantidade="0.01")
    common = {"cliente_id": client_id, "symbol": "BTCUSDT", "quantidade": "0.001"}
    sell = {**common, "preco_alvo": "70000"}
    sale = {**common, "preco_executado": "61000"}

    async def post(path: str, body: dict[str, object]) -> int:
        response = await service.http.post(path, json=body, headers=auth)
        assert response.status_code in (201, 422), response.text
        return response.status_code

    calls = [post("/posicionar-venda", sell) for _ in range(10)]
    calls += [post("/registrar-venda", sale) for _ in range(10)]
    statuses = await asyncio.gather(*calls)
    assert statuses.count(201) == 10
    [position] = (await service.http.get("/api/v1/positions", headers=auth)).json()
    orders = (await service.http.get("/api/v1/orders?status=waiting", headers=auth)).json()
    reserved = sum((Decimal(o["quantity"]) for o in orders), Decimal(0))
    assert reserved == Decimal(position["quantity"])  # every unsold coin is reserved, no more
