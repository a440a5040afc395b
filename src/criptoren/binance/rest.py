"""Public Binance REST endpoints: ``exchangeInfo`` and the price ticker."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx
import orjson

from criptoren.binance.rate_gate import RateGate
from criptoren.errors import ExchangeUnavailable

log = logging.getLogger(__name__)


class BinancePublicRest:
    """Unsigned market-data calls against ``{rest_url}/api/v3``."""

    def __init__(
        self, rest_url: str, *, timeout: float = 10.0, gate: RateGate | None = None
    ) -> None:
        self.rest_url = rest_url.rstrip("/")
        self._client = httpx.AsyncClient(base_url=self.rest_url, timeout=timeout)
        self.gate = gate or RateGate()

    async def aclose(self) -> None:
        """Release the connection pool."""
        await self._client.aclose()

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        if (wait := self.gate.remaining()) > 0:  # a request now would risk an IP ban
            raise ExchangeUnavailable(f"exchange rate limit: nothing is sent for {wait:.1f} s")
        try:
            response = await self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise ExchangeUnavailable(f"exchange unreachable at {self.rest_url}: {exc!r}") from exc
        self.gate.close_after_reply(response)
        if response.status_code >= 500 or response.status_code in (418, 429):
            raise ExchangeUnavailable(f"exchange answered {response.status_code} on {path}")
        if response.status_code >= 400:
            raise ExchangeUnavailable(f"exchange refused {path}: {response.text[:200]}")
        return orjson.loads(response.content)

    async def exchange_info(self) -> Mapping[str, Any]:
        """The whole ``exchangeInfo`` body."""
        body = await self._get("/api/v3/exchangeInfo")
        if not isinstance(body, dict) or "symbols" not in body:
            raise ExchangeUnavailable("exchangeInfo answer has no symbols")
        return body

    async def ticker_price(self, symbol: str) -> Decimal:
        """Last price of ``symbol`` from ``/api/v3/ticker/price``."""
        body = await self._get("/api/v3/ticker/price", {"symbol": symbol})
        return Decimal(str(body["price"]))


class TickerPriceSource:
    """A ``PriceSource`` that asks the REST ticker (used until the price book knows better)."""

    def __init__(self, rest: BinancePublicRest) -> None:
        self.rest = rest

    def cached_price(self, symbol: str) -> Decimal | None:
        """Nothing is cached here."""
        return None

    async def current_price(self, symbol: str) -> Decimal | None:
        """The ticker price, or ``None`` when the exchange cannot be reached."""
        try:
            return await self.rest.ticker_price(symbol)
        except ExchangeUnavailable as exc:
            log.warning("no reference price for %s: %s", symbol, exc.message)
            return None
