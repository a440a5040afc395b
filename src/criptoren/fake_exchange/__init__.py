"""A fake Binance spot exchange on loopback (WebSocket streams + REST) for tests and demos."""

from criptoren.fake_exchange.server import FakeExchange, FakeExchangeConfig

__all__ = ["FakeExchange", "FakeExchangeConfig"]
