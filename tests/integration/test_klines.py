"""``GET /api/v1/klines/{symbol}``: the exchange's candles for charts, exact and cached."""

from __future__ import annotations

from tests.support.harness import Harness


def _klines_requests(service: Harness) -> int:
    requests = service.exchange.market_data_requests()
    return sum(1 for path, *_ in requests if path == "/api/v3/klines")


async def test_candles_are_the_exchange_klines_as_exact_strings(service: Harness) -> None:
    _, alice = await service.new_client()
    service.exchange.emit_prices("BTCUSDT", ["61900.10", "61700.00", "61800.55"])
    response = await service.http.get(
        "/api/v1/klines/btcusdt", params={"interval": "1d", "limit": 5}, headers=alice
    )
    assert response.status_code == 200, response.text
    candles = response.json()  # the harness's opening trade and these three: one day
    assert all(c["time"] % 86_400_000 == 0 for c in candles)
    assert candles[0]["open"] == "61837.63000000"
    assert candles[-1]["close"] == "61800.55000000"
    assert max(c["high"] for c in candles) == "61900.10000000"
    assert min(c["low"] for c in candles) == "61700.00000000"


async def test_many_panels_asking_at_once_cost_one_exchange_request(service: Harness) -> None:
    _, alice = await service.new_client()
    before = _klines_requests(service)
    for _ in range(3):
        response = await service.http.get("/api/v1/klines/ETHUSDT?interval=1h", headers=alice)
        assert response.status_code == 200, response.text
        assert response.json()[-1]["close"] == "2600.00000000"
    assert _klines_requests(service) - before == 1


async def test_bad_requests_are_refused_without_asking_the_exchange(service: Harness) -> None:
    _, alice = await service.new_client()
    before = _klines_requests(service)
    unknown = await service.http.get("/api/v1/klines/NOPEUSDT", headers=alice)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (422, "unknown_symbol")
    for query in ("interval=2m", "limit=0", "limit=1001"):
        bad = await service.http.get(f"/api/v1/klines/BTCUSDT?{query}", headers=alice)
        assert bad.status_code == 422, query
    anonymous = await service.http.get("/api/v1/klines/BTCUSDT")
    assert anonymous.status_code == 401
    assert _klines_requests(service) == before
