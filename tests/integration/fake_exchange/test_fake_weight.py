"""The fake exchange enforces REQUEST_WEIGHT as Binance does: 429 with Retry-After."""

from __future__ import annotations

import httpx

from criptoren.binance.pacing import WeightLimit
from criptoren.fake_exchange import FakeExchange, FakeExchangeConfig


async def test_spent_weight_gets_a_429_with_retry_after_until_the_window_ends() -> None:
    # a day-long window: no rollover between these requests (but at midnight UTC)
    limit = WeightLimit(limit=50, interval="DAY", interval_num=1)
    async with (
        FakeExchange(FakeExchangeConfig(weight_limit=limit)) as fake,
        httpx.AsyncClient(base_url=fake.rest_url) as http,
    ):
        first = await http.get("/api/v3/exchangeInfo")  # weight 20
        assert first.status_code == 200
        assert first.headers["X-MBX-USED-WEIGHT-1D"] == "20"
        announced = [
            r for r in first.json()["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT"
        ]
        assert announced == [limit.rate_limit()]
        assert (await http.get("/api/v3/exchangeInfo")).headers["X-MBX-USED-WEIGHT-1D"] == "40"
        refused = await http.get("/api/v3/exchangeInfo")  # 60 > 50: refused, not counted
        assert refused.status_code == 429
        assert refused.json()["code"] == -1003
        assert 1 <= int(refused.headers["Retry-After"]) <= 86_400
        ping = await http.get("/api/v3/ping")  # weight 1 still fits
        assert ping.status_code == 200
        assert ping.headers["X-MBX-USED-WEIGHT-1D"] == "41"
        assert [(m, p) for m, p, _ in fake.weight_refused()] == [("GET", "/api/v3/exchangeInfo")]
