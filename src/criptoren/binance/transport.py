"""The one HTTP transport to a Binance host: weight pacing, rate-limit gate, one error mapping.

Public market data (``exchangeInfo``, ticker, the feed's gap-fill) and signed calls all go
through one :class:`BinanceHttp` per host, so they share its connection pool, its weight
pacer and its ``Retry-After`` gate (Binance limits are per IP), and every failure becomes
the same :class:`~criptoren.binance.errors.BinanceError`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import orjson

from criptoren.binance.errors import (
    NO_CODE,
    ExchangeUnreachable,
    IpBanned,
    OutcomeUnknownAtExchange,
    RateLimited,
    error_from_reply,
)
from criptoren.binance.pacing import WeightPacer, request_weight
from criptoren.binance.rate_gate import RateGate
from criptoren.binance.signing import encode_query

log = logging.getLogger(__name__)

CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class BinanceHttp:
    """Requests to ``{rest_url}``, paced by weight; none while a 429/418 ``Retry-After`` runs."""

    def __init__(
        self,
        rest_url: str,
        *,
        timeout: float = 10.0,
        gate: RateGate | None = None,
        pacer: WeightPacer | None = None,
    ) -> None:
        self.rest_url = rest_url.rstrip("/")
        self.gate = gate or RateGate()
        self.pacer = pacer or WeightPacer()
        self.used_weight: int | None = None
        self._client = httpx.AsyncClient(base_url=self.rest_url, timeout=timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rest_url={self.rest_url!r})"

    async def aclose(self) -> None:
        """Release the connection pool."""
        await self._client.aclose()

    async def __aenter__(self) -> BinanceHttp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def get(self, path: str, params: Iterable[tuple[str, str]] = ()) -> Any:
        """An unsigned GET (raises like :meth:`request`)."""
        return await self.request("GET", path, encode_query(params))

    async def request(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """One exchange; the parsed JSON body (``None`` if unreadable), else a ``BinanceError``.

        ``ExchangeUnreachable`` when the connection could not be opened (nothing was sent),
        ``OutcomeUnknownAtExchange`` when it broke after sending, ``RateLimited`` at once
        while the gate is closed. Waits first if the request's weight would exceed the
        window's limit.
        """
        self.gate.check()
        weight = request_weight(method, path)
        window = await self.pacer.acquire(weight)
        try:
            self.gate.check()  # a 429 may have come in while this request waited
        except RateLimited:
            self.pacer.cancel(weight)
            raise
        url = f"{path}?{query}" if query else path
        response: httpx.Response | None = None
        try:
            response = await self._client.request(method, url, headers=headers)
        except CONNECT_ERRORS as exc:
            msg = f"cannot connect to {self.rest_url} ({type(exc).__name__}); nothing was sent"
            raise ExchangeUnreachable(NO_CODE, msg) from None
        except httpx.TransportError as exc:
            msg = f"{method} {path}: {type(exc).__name__}, outcome unknown"
            raise OutcomeUnknownAtExchange(NO_CODE, msg) from None
        finally:
            self.pacer.done(weight, window, self._used_weight(response))
        if response.is_success:
            return _json(response)
        error = error_from_reply(
            response.status_code, _json(response), response.headers.get("Retry-After")
        )
        if isinstance(error, RateLimited):
            self.gate.close_for(error.retry_after, banned=isinstance(error, IpBanned))
            log.warning("%s %s: %s", method, path, error.msg)
        raise error

    def _used_weight(self, response: httpx.Response | None) -> int | None:
        raw = None if response is None else response.headers.get(self.pacer.limit.header)
        if raw is None or not raw.isdigit():
            return None
        self.used_weight = int(raw)
        return self.used_weight


def _json(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
