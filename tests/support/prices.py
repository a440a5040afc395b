"""Await a price reaching the service's price book (no sleeps)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from criptoren.market.pricebook import PriceBook
from criptoren.market.schemas import AggTrade


async def price_seen(book: PriceBook, symbol: str, price: Decimal, within: float = 10.0) -> None:
    """Wait until the price book has applied a trade of ``symbol`` at ``price``."""
    seen = asyncio.Event()

    def listener(trade: AggTrade) -> None:
        if trade.symbol == symbol and trade.price == price:
            seen.set()

    book.add_listener(listener)
    try:
        if book.last_price(symbol) != price:
            async with asyncio.timeout(within):
                await seen.wait()
    finally:
        book.remove_listener(listener)
