"""One WebSocket connection to a combined stream: reader task, control requests, close."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from criptoren.market.config import FeedConfig
from criptoren.market.pacer import Pacer

if TYPE_CHECKING:
    from criptoren.market.slot import Slot

log = logging.getLogger(__name__)


class ControlError(Exception):
    """The exchange answered a control message with an error, or not at all."""


class Link:
    """A live connection; ``on_message(link, raw)`` runs synchronously for every frame."""

    _ids = itertools.count(1)

    def __init__(
        self,
        ws: ClientConnection,
        on_message: Callable[[Link, bytes], None],
        config: FeedConfig,
        slot: Slot | None = None,
    ) -> None:
        self.ws = ws
        self.slot = slot
        self.id = next(Link._ids)
        self.config = config
        self.subscribed: set[str] = set()
        self.opened_at = time.monotonic()
        self.ready_at: float | None = None
        self.closed = asyncio.Event()
        self.closed_callback: Callable[[], None] | None = None
        self._on_message = on_message
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._request_ids = itertools.count(1)
        self._pacer = Pacer(config.control_rate)
        self._reader = asyncio.create_task(self._read(), name=f"feed-link-{self.id}")

    @classmethod
    async def open(
        cls,
        on_message: Callable[[Link, bytes], None],
        config: FeedConfig,
        slot: Slot | None = None,
    ) -> Link:
        """Connect to ``{ws_url}/stream`` (subscriptions are sent afterwards)."""
        ws = await connect(
            f"{config.ws_url}/stream",
            compression=None,
            ping_interval=None,  # the server pings us; our own pings would cost message budget
            open_timeout=config.open_timeout,
            close_timeout=config.close_timeout,
            max_size=2**24,
            max_queue=256,
        )
        return cls(ws, on_message, config, slot)

    async def _read(self) -> None:
        ws = self.ws
        handler = self._on_message
        try:
            while True:
                raw = await ws.recv(decode=False)
                try:
                    handler(self, raw)
                except Exception:
                    log.exception("feed link %d: frame skipped: %.200r", self.id, raw)
        except ConnectionClosed:
            pass
        finally:
            self._fail_pending()
            self.closed.set()
            if self.closed_callback is not None:
                self.closed_callback()

    def _fail_pending(self) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ControlError("connection closed"))
        self._pending.clear()

    def resolve(self, reply: dict[str, Any]) -> None:
        """Complete the request whose ``id`` the reply echoes."""
        fut = self._pending.pop(reply.get("id"), None)  # type: ignore[arg-type]
        if fut is None or fut.done():
            return
        if "error" in reply:
            fut.set_exception(ControlError(str(reply["error"])))
        else:
            fut.set_result(reply.get("result"))

    async def request(self, method: str, params: list[str] | None = None) -> Any:
        """Send one paced control message and wait for its reply."""
        await self._pacer.acquire()
        if self.closed.is_set():
            raise ControlError("connection closed")
        request_id = next(self._request_ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        body: dict[str, Any] = {"method": method, "id": request_id}
        if params is not None:
            body["params"] = params
        await self.ws.send(orjson.dumps(body).decode())
        try:
            # not wait_for: on 3.11 it swallows a cancel that lands as the reply arrives, and
            # the slot being stopped would then never stop
            async with asyncio.timeout(self.config.reply_timeout):
                return await fut
        except TimeoutError as exc:
            raise ControlError(f"no reply to {method} within {self.config.reply_timeout}s") from exc
        finally:
            self._pending.pop(request_id, None)

    @property
    def age(self) -> float:
        """Seconds since the connection opened."""
        return time.monotonic() - self.opened_at

    async def close(self) -> None:
        """Close the connection and wait for the reader to finish."""
        try:
            await self.ws.close()
        finally:
            if not self._reader.done():
                self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
