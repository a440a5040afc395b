"""``GET /metrics``: admin token only, Prometheus text, and its counters move as trades flow."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.support.events import EventRecorder
from tests.support.harness import Harness

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _scrape(service: Harness) -> Samples:
    response = await service.http.get("/metrics", headers=service.admin)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_need_the_admin_token(service: Harness) -> None:
    _client_id, auth = await service.new_client()
    for headers in ({}, auth, {"Authorization": "Bearer wrong-token-0123456789"}):
        response = await service.http.get("/metrics", headers=headers)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "unauthorized"
    assert "/metrics" not in (await service.http.get("/openapi.json")).json()["paths"]


async def test_requests_are_counted_by_route_template_and_status(service: Harness) -> None:
    _client_id, auth = await service.new_client()
    before = await _scrape(service)
    for order_id in (10_001, 10_002):  # two paths, one template
        assert (
            await service.http.get(f"/api/v1/orders/{order_id}", headers=auth)
        ).status_code == 404
    assert (await service.http.get("/no/such/path")).status_code == 404
    after = await _scrape(service)
    count = "criptoren_http_request_duration_seconds_count"
    template = {"method": "GET", "route": "/api/v1/orders/{order_id}", "status": "404"}
    assert _value(after, count, **template) - _value(before, count, **template) == 2
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert _value(after, count, **unmatched) - _value(before, count, **unmatched) == 1
    assert _value(after, "criptoren_engine_leader") == 1


async def test_trades_fired_orders_and_executions_move_the_counters(service: Harness) -> None:
    events = EventRecorder(service.container.bus)
    client_id, auth = await service.new_client()
    before = await _scrape(service)
    body = {
        "cliente_id": client_id,
        "symbol": "BTCUSDT",
        "preco_alvo": "61000",
        "quantidade": "0.01",
    }
    placed = await service.http.post("/posicionar-compra", json=body, headers=auth)
    assert placed.status_code == 201, placed.text
    await service.exchange.wait_subscribed("btcusdt@aggTrade")
    service.exchange.emit_prices("BTCUSDT", ["61500", "60900.5", "60800"])
    await events.wait_finished({placed.json()["id"]})
    after = await _scrape(service)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("criptoren_trades_ingested_total") >= 3
    assert grew("criptoren_orders_fired_total") == 1
    assert grew("criptoren_executions_total", result="executed") == 1
    assert grew("criptoren_tick_to_commit_seconds_count") == 1
    assert ("criptoren_stream_connections", ()) in after
    assert ("criptoren_feed_reconnects_total", ()) in after
