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
