"""The few Binance REST market-data calls the feed needs (aggTrades for gap-fill)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from criptoren.binance.rate_gate import RateGate
from criptoren.market.config import FeedConfig


class RestError(Exception):
    """A REST call failed; ``retryable`` tells a temporary failure from a bad request."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class MarketRest:
    """Thin async client for ``/api/v3/aggTrades`` (and ``/api/v3/time``)."""

    def __init__(self, config: FeedConfig, gate: RateGate | None = None) -> None:
        self._client = httpx.AsyncClient(base_url=config.rest_url, timeout=config.rest_timeout)
        self.gate = gate or RateGate()

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.aclose()

    async def get(self, path: str, params: dict[str, Any]) -> Any:
        """GET a JSON document; raise :class:`RestError` on failure."""
        await self.gate.wait()  # a 429/418 anywhere on this host: nothing before Retry-After
        try:
            response = await self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise RestError(f"{path}: {exc!r}", retryable=True) from exc
        self.gate.close_after_reply(response)
        if response.status_code != 200:
            retryable = response.status_code in (418, 429) or response.status_code >= 500
            raise RestError(f"{path}: {response.status_code} {response.text}", retryable=retryable)
        return orjson.loads(response.content)

    async def agg_trades(self, symbol: str, **params: int) -> list[dict[str, Any]]:
        """One page of ``/api/v3/aggTrades`` (``fromId``/``startTime``/``limit``)."""
        result = await self.get("/api/v3/aggTrades", {"symbol": symbol, **params})
        if not isinstance(result, list):
            raise RestError(f"aggTrades: unexpected body {result!r}", retryable=False)
        return result
