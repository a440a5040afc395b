"""Signed Binance REST calls (orders, account): HMAC signing, clock offset, read retries."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import SecretStr

from criptoren.binance.errors import (
    NO_CODE,
    InvalidTimestamp,
    OutcomeUnknownAtExchange,
    TemporaryError,
)
from criptoren.binance.signing import signed_query
from criptoren.binance.transport import BinanceHttp
from criptoren.domain.money import plain

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_RECV_WINDOW_MS = 60_000
Params = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How idempotent reads are retried on ``TemporaryError``: capped exponential backoff."""

    attempts: int = 3
    base_delay: float = 0.2
    max_delay: float = 2.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        return float(min(self.max_delay, self.base_delay * 2**attempt))


class BinanceSignedRest:
    """Signed calls against ``{rest_url}/api/v3``; ``POST /order`` is never retried here."""

    def __init__(
        self,
        http: BinanceHttp,
        api_key: SecretStr,
        api_secret: SecretStr,
        *,
        recv_window_ms: int = 5000,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not 0 < recv_window_ms <= MAX_RECV_WINDOW_MS:
            raise ValueError(f"recvWindow must be in 1..{MAX_RECV_WINDOW_MS} ms")
        self.http = http
        self._api_key = api_key
        self._api_secret = api_secret
        self.recv_window_ms = recv_window_ms
        self.retry = retry or RetryPolicy()
        self.time_offset_ms: int | None = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(rest_url={self.http.rest_url!r}, "
            f"api_key={self._api_key!r}, recv_window_ms={self.recv_window_ms})"
        )

    __str__ = __repr__

    # --- public API ---------------------------------------------------------------------

    async def server_time(self) -> int:
        """``GET /api/v3/time``: the exchange's clock in ms (retried when temporary)."""
        body = await self._retrying(lambda: self.http.request("GET", "/api/v3/time"))
        return int(body["serverTime"])

    async def sync_time(self) -> int:
        """Learn the offset between the exchange's clock and ours (ms); returns it."""
        before = time.time()
        server = await self.server_time()
        after = time.time()
        self.time_offset_ms = server - round((before + after) * 500)
        return self.time_offset_ms

    def timestamp_ms(self) -> int:
        """Now on the exchange's clock, as far as we know (local ms + learnt offset)."""
        return round(time.time() * 1000) + (self.time_offset_ms or 0)

    async def new_order(
        self,
        symbol: str,
        side: str,
        type: str,
        quantity: Decimal,
        new_client_order_id: str,
        resp_type: str = "FULL",
        test: bool = False,
    ) -> dict[str, Any]:
        """``POST /api/v3/order`` (or ``/order/test``); sent once, never retried."""
        params: Params = [
            ("symbol", symbol),
            ("side", side),
            ("type", type),
            ("quantity", plain(quantity)),
            ("newClientOrderId", new_client_order_id),
            ("newOrderRespType", resp_type),
        ]
        path = "/api/v3/order/test" if test else "/api/v3/order"
        return _as_dict(await self._signed("POST", path, params), path)

    async def get_order(self, symbol: str, orig_client_order_id: str) -> dict[str, Any]:
        """``GET /api/v3/order?symbol=&origClientOrderId=``."""
        params = [("symbol", symbol), ("origClientOrderId", orig_client_order_id)]
        return _as_dict(await self._read("/api/v3/order", params), "order")

    async def my_trades(self, symbol: str, order_id: int | str) -> list[dict[str, Any]]:
        """``GET /api/v3/myTrades?symbol=&orderId=``: the trades of one order."""
        params = [("symbol", symbol), ("orderId", str(order_id))]
        body = await self._read("/api/v3/myTrades", params)
        if not isinstance(body, list):
            raise OutcomeUnknownAtExchange(NO_CODE, "myTrades answer is not a list")
        return [dict(item) for item in body]

    async def account(self) -> dict[str, Any]:
        """``GET /api/v3/account``: balances and permissions."""
        return _as_dict(await self._read("/api/v3/account", []), "account")

    # --- plumbing -----------------------------------------------------------------------

    async def _read(self, path: str, params: Params) -> Any:
        return await self._retrying(lambda: self._signed("GET", path, params))

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Retry ``TemporaryError`` with capped backoff, and one ``-1021`` (offset re-learnt)."""
        attempt, timestamp_retried = 0, False
        while True:
            try:
                return await call()
            except InvalidTimestamp:
                if timestamp_retried:
                    raise
                timestamp_retried = True
            except TemporaryError:
                if attempt + 1 >= self.retry.attempts:
                    raise
                await asyncio.sleep(self.retry.delay(attempt))
                attempt += 1

    async def _signed(self, method: str, path: str, params: Iterable[tuple[str, str]]) -> Any:
        if self.time_offset_ms is None:
            await self.sync_time()
        stamped = [
            *params,
            ("recvWindow", str(self.recv_window_ms)),
            ("timestamp", str(self.timestamp_ms())),
        ]
        query = signed_query(self._api_secret, stamped)
        headers = {"X-MBX-APIKEY": self._api_key.get_secret_value()}
        try:
            return await self.http.request(method, path, query, headers)
        except InvalidTimestamp:
            self.time_offset_ms = None  # re-learnt before the next signed request
            raise


def _as_dict(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        # a success status whose body we cannot read: whatever was asked may have happened
        raise OutcomeUnknownAtExchange(NO_CODE, f"{what} answer is not a JSON object")
    return body
