"""One Retry-After gate per host: after a 429 no client sends anything before it expires."""

from __future__ import annotations

import pytest

from criptoren.binance.rate_gate import RateGate
from criptoren.binance.rest import BinancePublicRest
from criptoren.binance.transport import BinanceHttp
from criptoren.errors import ExchangeUnavailable
from criptoren.fake_exchange import FakeExchange
from criptoren.market.config import FeedConfig
from criptoren.market.feed import BinanceFeed
from tests.integration.market.conftest import Collector


async def test_gap_fill_waits_out_a_429_then_delivers_the_gap(fake: FakeExchange) -> None:
    gate = RateGate()
    market = BinanceFeed(
        FeedConfig(
            ws_url=fake.ws_url,
            rest_url=fake.rest_url,
            ticker=False,
            backoff_initial=0.05,
            backoff_max=0.2,
        ),
        BinancePublicRest(http := BinanceHttp(fake.rest_url, gate=gate)),
    )
    trades = Collector()
    market.book.add_listener(trades)
    await market.start()
    try:
        await market.watch(["BTCUSDT"])
        await fake.wait_subscribed("btcusdt@aggTrade")
        fake.emit_prices("BTCUSDT", ["100"])
        await trades.wait_count("BTCUSDT", 1)
        fake.pause("BTCUSDT")
        fake.emit_prices("BTCUSDT", ["90", "91"])  # only in the gap
        fake.rate_limit_market_data(1, retry_after=1)
        fake.resume("BTCUSDT")
        fake.emit_prices("BTCUSDT", ["92"])  # live: reveals the gap, starts the gap-fill
        await trades.wait_count("BTCUSDT", 4, within=15)
    finally:
        await market.stop()
        await http.aclose()
    assert [str(t.price) for t in trades.of("BTCUSDT")] == ["100", "90", "91", "92"]
    fills = [r for r in fake.market_data_requests() if r[0] == "/api/v3/aggTrades"]
    assert [status for _, _, status in fills[:2]] == [429, 200]
    assert fills[1][1] - fills[0][1] >= 1.0  # nothing sent before Retry-After


async def test_public_client_sends_nothing_while_the_gate_is_closed(fake: FakeExchange) -> None:
    gate = RateGate()
    rest = BinancePublicRest(BinanceHttp(fake.rest_url, gate=gate))
    fake.emit_prices("BTCUSDT", ["100"])
    fake.rate_limit_market_data(1, retry_after=30)
    try:
        with pytest.raises(ExchangeUnavailable):
            await rest.ticker_price("BTCUSDT")
        with pytest.raises(ExchangeUnavailable, match="Retry after"):
            await rest.ticker_price("BTCUSDT")
    finally:
        await rest.http.aclose()
    assert [status for _, _, status in fake.market_data_requests()] == [429]
    assert gate.remaining() > 25
