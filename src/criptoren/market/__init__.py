"""Market data: Binance stream client, gap-fill, price book and the prices the services use."""

from criptoren.market.schemas import AggTrade, MiniTicker

__all__ = ["AggTrade", "MiniTicker"]
