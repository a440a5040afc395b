"""Market data: Binance stream client, gap-fill, price book and the facade the service holds."""

from criptoren.market.port import MarketDataPort
from criptoren.market.schemas import AggTrade, MiniTicker

__all__ = ["AggTrade", "MarketDataPort", "MiniTicker"]
