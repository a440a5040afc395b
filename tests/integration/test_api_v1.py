"""The English API: the same capabilities through the same services."""

from __future__ import annotations

from decimal import Decimal

from tests.support.harness import Harness


async def test_order_lifecycle_in_english(service: Harness) -> None:
    client_id, auth = await service.new_client()
    created = await service.http.post(
        "/api/v1/orders",
        json={"symbol": "ETHUSDT", "side": "buy", "target_price": "2500", "quantity": "0.01"},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["client_id"] == client_id
    assert order["condition"] == "lte"
    assert order["reference_price"] == "2600.00000000"
    assert order["client_order_id"].endswith(str(order["id"]))
    listed = await service.http.get(
        "/api/v1/orders", params={"status": "waiting", "symbol": "ethusdt"}, headers=auth
    )
    assert [o["id"] for o in listed.json()] == [order["id"]]
    other = await service.http.get("/api/v1/orders", params={"symbol": "BTCUSDT"}, headers=auth)
    assert other.json() == []
    cancelled = await service.http.post(f"/api/v1/orders/{order['id']}/cancel", headers=auth)
    assert cancelled.json()["status"] == "cancelled"
    again = await service.http.post(f"/api/v1/orders/{order['id']}/cancel", headers=auth)
    assert again.status_code == 409


async def test_trades_and_positions_in_english(service: Harness) -> None:
    _, auth = await service.new_client()
    for side, price, quantity in (
        ("buy", "2000", "1"),
        ("buy", "3000", "1"),
        ("sell", "4000", "1"),
    ):
        response = await service.http.post(
            "/api/v1/trades",
            json={
                "symbol": "ETHUSDT",
                "side": side,
                "price": price,
                "quantity": quantity,
                "fee": "1",
            },
            headers=auth,
        )
        assert response.status_code == 201, response.text
        assert response.json()["source"] == "manual"
    trades = (await service.http.get("/api/v1/trades", headers=auth)).json()
    assert [t["side"] for t in trades] == ["sell", "buy", "buy"]
    [position] = (await service.http.get("/api/v1/positions", headers=auth)).json()
    assert position["quantity"] == "1.00000000"
    assert position["average_cost"] == "2501.00000000"
    assert position["realized_pnl"] == "1498.00000000"  # 4000 - 1 fee - 2501 average cost


async def test_unwatching_never_reveals_other_clients_orders(service: Harness) -> None:
    _, alice = await service.new_client("alice")
    _, bob = await service.new_client("bob")
    await service.http.post(
        "/api/v1/orders",
        json={"symbol": "BTCUSDT", "side": "buy", "target_price": "60000", "quantity": "0.001"},
        headers=alice,
    )
    assert (await service.http.put("/api/v1/monitored/BTCUSDT", headers=bob)).status_code == 200
    # before: 409 "BTCUSDT has waiting orders" told bob that someone has orders there
    stopped = await service.http.delete("/api/v1/monitored/BTCUSDT", headers=bob)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["monitored"] is False
    assert (await service.http.get("/api/v1/monitored", headers=bob)).json() == []
    # alice's order still needs the symbol: the feed keeps it
    assert "BTCUSDT" in service.container.feed.monitored()


async def test_fee_in_a_third_asset_stays_out_of_the_pnl(service: Harness) -> None:
    client_id, auth = await service.new_client()
    await service.insert_trade(
        client_id,
        type="buy",
        price=Decimal(60000),
        quantity=Decimal("0.01"),
        fee=Decimal("0.0009"),
        fee_asset="BNB",
        source="engine",
        mode="live",
    )
    [position] = (await service.http.get("/api/v1/positions", headers=auth)).json()
    assert position["quantity"] == "0.01000000"
    assert position["cost_basis"] == "600.00000000"  # not 600.0009: BNB is not USDT


async def test_monitoring_again_after_a_stop_is_persisted_again(service: Harness) -> None:
    _, auth = await service.new_client()
    for _ in range(2):  # the second call finds BTCUSDT already monitored
        assert (await service.http.get("/monitorar-par/BTCUSDT", headers=auth)).is_success
    await service.http.delete("/api/v1/monitored/BTCUSDT", headers=auth)
    assert (await service.http.get("/monitorar-par/BTCUSDT", headers=auth)).is_success
    listed = (await service.http.get("/api/v1/monitored", headers=auth)).json()
    assert [m["symbol"] for m in listed] == ["BTCUSDT"]


async def test_listings_page_back_from_the_newest(service: Harness) -> None:
    client_id, auth = await service.new_client()
    orders, trades = [], []
    for n in range(5):
        body = {"symbol": "BTCUSDT", "side": "buy", "target_price": str(50000 + n)}
        placed = await service.http.post(
            "/api/v1/orders", json={**body, "quantity": "0.001"}, headers=auth
        )
        orders.append(placed.json()["id"])
        bought = await service.buy(auth, client_id, preco_executado="60000", quantidade="0.001")
        trades.append(bought.json()["id"])
    newest_first = {"orders": orders[::-1], "trades": trades[::-1]}
    for path, kind in (
        ("/api/v1/orders", "orders"),
        ("/ordens", "orders"),
        ("/api/v1/trades", "trades"),
        ("/negociacoes", "trades"),
    ):
        pages, before = [], None
        while True:
            params = {"limit": 2} if before is None else {"limit": 2, "before": before}
            page = (await service.http.get(path, params=params, headers=auth)).json()
            if not page:
                break
            pages.append([row["id"] for row in page])
            before = pages[-1][-1]
        expected = newest_first[kind]
        assert pages == [expected[0:2], expected[2:4], expected[4:5]], path
        everything = (await service.http.get(path, headers=auth)).json()
        assert [row["id"] for row in everything] == expected, path  # no limit: every row
    filtered = await service.http.get(
        "/api/v1/orders", params={"status": "waiting", "before": orders[2]}, headers=auth
    )
    assert [o["id"] for o in filtered.json()] == orders[1::-1]
    for wrong in ({"limit": 0}, {"limit": 1001}, {"before": 0}, {"limit": "ten"}):
        refused = await service.http.get("/api/v1/orders", params=wrong, headers=auth)
        assert refused.status_code == 422, (wrong, refused.text)
