"""Await a price reaching the service's price book (no sleeps)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from criptoren.market.facade import MarketData
from criptoren.market.schemas import AggTrade


async def price_seen(market: MarketData, symbol: str, price: Decimal, within: float = 10.0) -> None:
    """Wait until the price book has applied a trade of ``symbol`` at ``price``."""
    seen = asyncio.Event()

    def listener(trade: AggTrade) -> None:
        if trade.symbol == symbol and trade.price == price:
            seen.set()

    market.add_listener(listener)
    try:
        if market.last_price(symbol) != price:
            async with asyncio.timeout(within):
                await seen.wait()
    finally:
        market.remove_listener(listener)
