"""``PriceSource`` over the feed's price book, with the exchange's REST ticker behind it."""

from __future__ import annotations

import logging
from decimal import Decimal

from criptoren.binance.errors import BinanceError
from criptoren.binance.rest import BinancePublicRest
from criptoren.errors import ExchangeUnavailable
from criptoren.market.pricebook import PriceBook
from criptoren.ports import ReferencePrice

log = logging.getLogger(__name__)


class BookThenTickerPrices:
    """The price book's last trade while it is fresh, else the exchange's REST ticker."""

    def __init__(self, book: PriceBook, rest: BinancePublicRest) -> None:
        self.book = book
        self.rest = rest

    def cached_price(self, symbol: str) -> Decimal | None:
        """Last streamed price (fresh or stale), no I/O."""
        return self.book.last_price(symbol)

    async def current_price(self, symbol: str) -> Decimal | None:
        """Last streamed price, else the ticker's; ``None`` when neither is known."""
        return self.cached_price(symbol) or (await self.reference_price(symbol)).price

    async def reference_price(self, symbol: str) -> ReferencePrice:
        """A fresh streamed price, else the ticker; a stale one only when the ticker fails."""
        streamed = self.book.last_price(symbol)
        if streamed is not None and not self.book.is_stale(symbol):
            return ReferencePrice(streamed)
        try:
            ticker = await self.rest.ticker_price(symbol)
        except ExchangeUnavailable as exc:  # unreachable, 5XX, rate limited
            log.warning("no ticker price for %s: %s", symbol, exc.message)
            if streamed is not None:
                return ReferencePrice(streamed, stale=True)
            return ReferencePrice(None, missing=f"exchange unreachable: {exc.message}")
        except BinanceError as exc:  # it answered, but not with a price
            ticker, answer = None, exc.msg
        else:
            answer = "price 0"
        if ticker is not None:
            return ReferencePrice(ticker)
        if streamed is not None:
            return ReferencePrice(streamed, stale=True)
        return ReferencePrice(
            None, missing=f"the exchange answered but has no price for it yet ({answer})"
        )
