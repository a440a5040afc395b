"""``/healthz`` says ``degraded`` (and why) whenever the service cannot do its job."""

from __future__ import annotations

from typing import Any

from tests.support.harness import Harness, running_service


async def _health(service: Harness, strict: bool = False) -> tuple[int, Any]:
    response = await service.http.get("/healthz", params={"strict": 1} if strict else None)
    return response.status_code, response.json()


def _codes(body: Any) -> list[str]:
    return [reason["code"] for reason in body["reasons"]]


async def _watch_btc(service: Harness) -> None:
    _, auth = await service.new_client("watcher")
    watched = await service.http.get("/monitorar-par/BTCUSDT", headers=auth)
    assert watched.status_code == 200, watched.text
    await service.exchange.wait_subscribed("btcusdt@aggTrade")
    feed = service.container.feed
    await feed.wait_for(lambda: bool(feed.health()["connected"]))


async def test_healthy_service_is_ok_even_strictly(database_url: str) -> None:
    async with running_service(database_url) as service:
        await _watch_btc(service)
        service.exchange.emit_prices("BTCUSDT", ["61900"])
        status, body = await _health(service, strict=True)
    assert status == 200
    assert (body["status"], body["reasons"], body["database"]) == ("ok", [], "ok")


async def test_no_symbol_known_is_degraded(database_url: str) -> None:
    async with running_service(database_url, sync_symbols_on_start=False) as service:
        status, body = await _health(service)
        strict_status, _ = await _health(service, strict=True)
    assert status == 200
    assert body["status"] == "degraded"
    assert _codes(body) == ["no_symbols"]
    assert strict_status == 503


async def test_every_watched_symbol_stale_is_degraded(database_url: str) -> None:
    async with running_service(database_url, feed_stale_after_seconds=0.3) as service:
        await _watch_btc(service)
        service.exchange.stall()
        feed = service.container.feed
        await feed.wait_for(lambda: feed.book.is_stale("BTCUSDT"))
        status, body = await _health(service, strict=True)
    assert status == 503
    assert "all_symbols_stale" in _codes(body)
    assert "BTCUSDT" in body["reasons"][_codes(body).index("all_symbols_stale")]["message"]


async def test_feed_disconnected_is_degraded(database_url: str) -> None:
    async with running_service(database_url) as service:
        await _watch_btc(service)
        await service.exchange.streams.stop()  # the stream server is gone; REST still answers
        feed = service.container.feed
        await feed.wait_for(lambda: not feed.health()["connected"])
        status, body = await _health(service)
        strict_status, _ = await _health(service, strict=True)
    assert status == 200
    assert body["status"] == "degraded"
    assert "feed_disconnected" in _codes(body)
    assert strict_status == 503
