"""The original Portuguese endpoints, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from tests.support.harness import Harness


async def test_root_says_ok(service: Harness) -> None:
    response = await service.http.get("/")
    assert response.status_code == 200
    assert response.json() == {"status": "OK"}


async def test_healthz_reports_the_database(service: Harness) -> None:
    response = await service.http.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["mode"] == "paper"


async def test_original_buy_example_is_stored_waiting(service: Harness) -> None:
    client_id, auth = await service.new_client()
    body = {"cliente_id": client_id, "symbol": "BTCUSDT", "preco_alvo": 62000, "quantidade": 0.005}
    response = await service.http.post("/posicionar-compra", json=body, headers=auth)
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "waiting"
    assert order["preco_alvo"] == "62000.00000000"
    assert order["quantidade"] == "0.00500000"
    assert order["condicao"] == "gte"  # the target is above the last price: fires on a rise
    assert Decimal(order["preco_referencia"]) == Decimal("61837.63")
    assert order["client_order_id"]
    listed = await service.http.get("/ordens", headers=auth)
    assert [o["id"] for o in listed.json()] == [order["id"]]
    assert (await service.http.get("/negociacoes", headers=auth)).json() == []


async def test_buy_below_the_market_waits_for_a_fall(service: Harness) -> None:
    client_id, auth = await service.new_client()
    body = {
        "cliente_id": client_id,
        "symbol": "btcusdt",
        "preco_alvo": "60000",
        "quantidade": "0.01",
    }
    response = await service.http.post("/posicionar-compra", json=body, headers=auth)
    assert response.status_code == 201, response.text
    assert response.json()["symbol"] == "BTCUSDT"
    assert response.json()["condicao"] == "lte"


async def test_explicit_condition_overrides_the_inference(service: Harness) -> None:
    client_id, auth = await service.new_client()
    body = {
        "cliente_id": client_id,
        "symbol": "BTCUSDT",
        "preco_alvo": "60000",
        "quantidade": "0.01",
        "condicao": ">=",
    }
    response = await service.http.post("/posicionar-compra", json=body, headers=auth)
    assert response.status_code == 201
    assert response.json()["condicao"] == "gte"


async def test_record_buy_then_sell_updates_the_position(service: Harness) -> None:
    client_id, auth = await service.new_client()
    bought = await service.buy(
        auth, client_id, preco_executado="60000", quantidade="0.01", taxa="0.6", ordem_id="123"
    )
    assert bought.status_code == 201, bought.text
    assert bought.json()["taxa"] == "0.60000000"
    assert bought.json()["taxa_ativo"] == "USDT"
    assert bought.json()["ordem_id"] == "123"
    sale = {
        "cliente_id": client_id,
        "symbol": "BTCUSDT",
        "preco_executado": 62000,
        "quantidade": 0.004,
    }
    sold = await service.http.post("/registrar-venda", json=sale, headers=auth)
    assert sold.status_code == 201, sold.text
    positions = (await service.http.get("/posicoes", headers=auth)).json()
    assert positions == [
        {
            "cliente_id": client_id,
            "symbol": "BTCUSDT",
            "quantidade": "0.00600000",
            "custo_medio": "60060.00000000",
            "pnl_realizado": "7.76000000",
            "ultimo_preco": None,
            "pnl_nao_realizado": None,
        }
    ]


async def test_sale_beyond_holdings_is_refused_and_not_stored(service: Harness) -> None:
    client_id, auth = await service.new_client()
    await service.buy(auth, client_id, preco_executado="60000", quantidade="0.01")
    sale = {
        "cliente_id": client_id,
        "symbol": "BTCUSDT",
        "preco_executado": "62000",
        "quantidade": "0.02",
    }
    refused = await service.http.post("/registrar-venda", json=sale, headers=auth)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "insufficient_holdings"
    trades = (await service.http.get("/negociacoes", headers=auth)).json()
    assert [t["tipo"] for t in trades] == ["buy"]


async def test_a_sale_paying_its_fee_in_the_base_asset_must_cover_it(service: Harness) -> None:
    client_id, auth = await service.new_client()
    await service.buy(auth, client_id, preco_executado="60000", quantidade="0.01")
    sale = {"symbol": "BTCUSDT", "preco_executado": "62000", "taxa": "0.00001", "taxa_ativo": "BTC"}
    refused = await service.http.post(
        "/registrar-venda", json={**sale, "quantidade": "0.01"}, headers=auth
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == {
        "code": "insufficient_holdings",
        "message": "cannot sell 0.01 BTC and pay a fee of 0.00001 BTC: holdings are 0.01 BTC",
    }
    sold = await service.http.post(
        "/registrar-venda", json={**sale, "quantidade": "0.00999"}, headers=auth
    )
    assert sold.status_code == 201, sold.text
    [position] = (await service.http.get("/api/v1/positions", headers=auth)).json()
    assert (position["quantity"], position["average_cost"]) == ("0.00000000", "0.00000000")


async def test_positioned_sell_cannot_exceed_unreserved_holdings(service: Harness) -> None:
    client_id, auth = await service.new_client()
    await service.buy(auth, client_id, preco_executado="60000", quantidade="0.01")
    sell = {
        "cliente_id": client_id,
        "symbol": "BTCUSDT",
        "preco_alvo": "65000",
        "quantidade": "0.006",
    }
    first = await service.http.post("/posicionar-venda", json=sell, headers=auth)
    assert first.status_code == 201, first.text
    assert first.json()["tipo"] == "sell"
    assert first.json()["condicao"] == "gte"
    second = await service.http.post("/posicionar-venda", json=sell, headers=auth)
    assert second.status_code == 422
    assert "unreserved" in second.json()["error"]["message"]
    cancelled = await service.http.delete(f"/ordens/{first.json()['id']}", headers=auth)
    assert cancelled.json()["status"] == "cancelled"
    again = await service.http.post("/posicionar-venda", json=sell, headers=auth)
    assert again.status_code == 201


async def test_recorded_sale_cannot_eat_quantity_reserved_by_waiting_sells(
    service: Harness,
) -> None:
    client_id, auth = await service.new_client()
    await service.buy(auth, client_id, preco_executado="60000", quantidade="0.01")
    sell = {"cliente_id": client_id, "symbol": "BTCUSDT", "preco_alvo": "65000"}
    placed = await service.http.post(
        "/posicionar-venda", json={**sell, "quantidade": "0.008"}, headers=auth
    )
    assert placed.status_code == 201, placed.text
    sale = {"cliente_id": client_id, "symbol": "BTCUSDT", "preco_executado": "62000"}
    refused = await service.http.post(
        "/registrar-venda", json={**sale, "quantidade": "0.003"}, headers=auth
    )
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "insufficient_holdings"
    assert "0.008 BTC reserved by waiting sells" in error["message"]
    v1 = {"symbol": "BTCUSDT", "side": "sell", "price": "62000", "quantity": "0.003"}
    refused_v1 = await service.http.post("/api/v1/trades", json=v1, headers=auth)
    assert refused_v1.status_code == 422
    assert refused_v1.json()["error"]["code"] == "insufficient_holdings"
    allowed = await service.http.post(
        "/registrar-venda", json={**sale, "quantidade": "0.002"}, headers=auth
    )
    assert allowed.status_code == 201, allowed.text
    trades = (await service.http.get("/negociacoes", headers=auth)).json()
    assert [t["tipo"] for t in trades] == ["sell", "buy"]


async def test_cancel_is_409_once_the_order_is_not_waiting(service: Harness) -> None:
    client_id, auth = await service.new_client()
    body = {
        "cliente_id": client_id,
        "symbol": "BTCUSDT",
        "preco_alvo": "60000",
        "quantidade": "0.01",
    }
    order = (await service.http.post("/posicionar-compra", json=body, headers=auth)).json()
    assert (await service.http.delete(f"/ordens/{order['id']}", headers=auth)).status_code == 200
    again = await service.http.delete(f"/ordens/{order['id']}", headers=auth)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "order_not_waiting"
    waiting = await service.http.get("/ordens", params={"status": "waiting"}, headers=auth)
    assert waiting.json() == []


async def test_monitorar_par_persists_the_symbol(service: Harness) -> None:
    _, auth = await service.new_client()
    response = await service.http.get("/monitorar-par/ethusdt", headers=auth)
    assert response.status_code == 200, response.text
    assert response.json()["symbol"] == "ETHUSDT"
    assert response.json()["monitored"] is True
    listed = await service.http.get("/api/v1/monitored", headers=auth)
    assert [m["symbol"] for m in listed.json()] == ["ETHUSDT"]
    unknown = await service.http.get("/monitorar-par/NOPEUSDT", headers=auth)
    assert unknown.status_code == 422
