"""Webhook deliveries: a signed JSON ``POST``; any 2xx answer means delivered."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from criptoren.domain.notifications import MAX_ERROR_BYTES, Delivery, clip_error, signature
from criptoren.notify.urls import AddressGuard

USER_AGENT = "criptoren-webhooks/1"


class WebhookSender:
    """A ``NotificationSender`` that posts the event, signed with the channel's secret."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        guard: AddressGuard,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.http = http
        self.guard = guard
        self.clock = clock

    async def send(self, delivery: Delivery) -> str | None:
        """``None`` when the receiver answered 2xx; else why not (at most 1 KiB)."""
        refused = await self.guard.refusal(delivery.target)
        if refused is not None:
            return f"refused: {refused}"
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Criptoren-Event-Id": delivery.event_id,
            "X-Criptoren-Signature": signature(delivery.secret or "", int(self.clock()), body),
        }
        try:
            request = self.http.build_request("POST", delivery.target, content=body)
            request.headers.update(headers)
            response = await self.http.send(request, stream=True)
            try:
                if 200 <= response.status_code < 300:
                    return None
                text = await _head(response)
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            return clip_error(f"{type(exc).__name__}: {exc}")
        return clip_error(f"HTTP {response.status_code}: {text}")


async def _head(response: httpx.Response) -> str:
    """The first KiB of a response body (the rest is never read)."""
    kept = b""
    async for chunk in response.aiter_bytes():
        kept += chunk
        if len(kept) >= MAX_ERROR_BYTES:
            break
    return kept[:MAX_ERROR_BYTES].decode("utf-8", "replace")
