"""An inferred condition needs a price the service can trust: never a stale or missing one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.harness import Harness, running_service

TICKER = "/api/v3/ticker/price"


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Harness]:
    """The service with a short staleness window (0.3 s without an event)."""
    async with running_service(database_url, feed_stale_after_seconds=0.3) as harness:
        yield harness


async def _stale_btc(service: Harness, auth: dict[str, str]) -> None:
    """BTCUSDT streamed, then silent (the exchange stalls) until it is marked stale."""
    await service.http.get("/monitorar-par/BTCUSDT", headers=auth)
    await service.exchange.wait_subscribed("btcusdt@aggTrade")
    service.exchange.emit_prices("BTCUSDT", ["61900"])
    feed = service.container.feed
    await feed.wait_for(lambda: feed.book.last_price("BTCUSDT") is not None)
    service.exchange.stall()
    await feed.wait_for(lambda: feed.book.is_stale("BTCUSDT"))


async def _buy(service: Harness, auth: dict[str, str], **body: Any) -> Any:
    order = {"symbol": "BTCUSDT", "preco_alvo": "61000", "quantidade": "0.01", **body}
    return await service.http.post("/posicionar-compra", json=order, headers=auth)


async def test_stale_price_and_exchange_down_refuses_an_inferred_condition(
    service: Harness,
) -> None:
    client_id, auth = await service.new_client()
    await _stale_btc(service, auth)
    service.exchange.fail_requests("GET", TICKER, "5xx", count=2)
    refused = await _buy(service, auth, cliente_id=client_id)
    assert refused.status_code == 503, refused.text
    error = refused.json()["error"]
    assert error["code"] == "reference_price_stale"
    assert "61900" in error["message"]
    explicit = await _buy(service, auth, cliente_id=client_id, condicao="lte")
    assert explicit.status_code == 201, explicit.text
    assert explicit.json()["condicao"] == "lte"


async def test_stale_stream_falls_back_to_the_ticker(service: Harness) -> None:
    client_id, auth = await service.new_client()
    await _stale_btc(service, auth)
    service.exchange.pause("BTCUSDT")  # the exchange trades on, the stream stays quiet
    service.exchange.emit_prices("BTCUSDT", ["60500"])
    placed = await _buy(service, auth, cliente_id=client_id)
    assert placed.status_code == 201, placed.text
    # 61000 is above the ticker's 60500 (not the stale 61900): it waits for a rise
    assert placed.json()["condicao"] == "gte"


async def test_listed_symbol_without_a_price_is_not_called_unreachable(service: Harness) -> None:
    client_id, auth = await service.new_client()
    body = {"cliente_id": client_id, "symbol": "ETHBTC", "preco_alvo": "0.03", "quantidade": "0.1"}
    refused = await service.http.post("/posicionar-compra", json=body, headers=auth)
    assert refused.status_code == 503, refused.text
    error = refused.json()["error"]
    assert error["code"] == "reference_price_unavailable"
    assert "unreachable" not in error["message"]
    assert "no price" in error["message"]
