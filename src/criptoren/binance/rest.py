"""Public Binance REST endpoints: ``exchangeInfo``, the ticker, ``aggTrades``, ``klines``, time."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from criptoren.binance.errors import NO_CODE, BinanceError
from criptoren.binance.pacing import weight_limit
from criptoren.binance.transport import BinanceHttp


class BinancePublicRest:
    """Unsigned market-data calls; failures are ``BinanceError``s (see ``binance.errors``)."""

    def __init__(self, http: BinanceHttp) -> None:
        self.http = http

    async def exchange_info(self) -> Mapping[str, Any]:
        """The whole ``exchangeInfo`` body (its weight limit paces the transport from now on)."""
        body = await self.http.get("/api/v3/exchangeInfo")
        if not isinstance(body, dict) or "symbols" not in body:
            raise BinanceError(NO_CODE, "exchangeInfo answer has no symbols", 200)
        limit = weight_limit(body.get("rateLimits") or ())
        if limit is not None:
            self.http.pacer.configure(limit)
        return body

    async def ticker_price(self, symbol: str) -> Decimal | None:
        """Last price of ``symbol`` from ``/api/v3/ticker/price``; ``None`` if it has none."""
        body = await self.http.get("/api/v3/ticker/price", [("symbol", symbol)])
        try:
            price = Decimal(str(body["price"]))
        except (TypeError, KeyError, InvalidOperation):
            msg = f"ticker answer without a price: {body!r:.200}"
            raise BinanceError(NO_CODE, msg, 200) from None
        return price if price > 0 else None  # a listed symbol that never traded shows 0

    async def agg_trades(self, symbol: str, **params: int) -> list[dict[str, Any]]:
        """One page of ``/api/v3/aggTrades`` (``fromId``/``startTime``/``limit``)."""
        query = [("symbol", symbol), *((k, str(v)) for k, v in params.items())]
        body = await self.http.get("/api/v3/aggTrades", query)
        if not isinstance(body, list):
            raise BinanceError(NO_CODE, f"aggTrades answer is not a list: {body!r:.200}", 200)
        return body

    async def klines(self, symbol: str, interval: str, **params: int) -> list[list[Any]]:
        """One page of ``/api/v3/klines`` (``startTime``/``endTime``/``limit``), oldest first."""
        query = [("symbol", symbol), ("interval", interval)]
        query += [(k, str(v)) for k, v in params.items()]
        body = await self.http.get("/api/v3/klines", query)
        if not isinstance(body, list):
            raise BinanceError(NO_CODE, f"klines answer is not a list: {body!r:.200}", 200)
        return body

    async def server_time(self) -> int:
        """``GET /api/v3/time``: the exchange's clock in ms (is a kline closed yet?)."""
        body = await self.http.get("/api/v3/time")
        try:
            return int(body["serverTime"])
        except (TypeError, KeyError, ValueError):
            raise BinanceError(
                NO_CODE, f"time answer without serverTime: {body!r:.200}", 200
            ) from None
