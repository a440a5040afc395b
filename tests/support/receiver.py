"""A real HTTP receiver on loopback for webhook (and apprise ``json://``) deliveries.

A small HTTP/1.1 server on ``asyncio.start_server`` (keep-alive, ``Content-Length``
bodies): it records every request, checks each webhook's ``X-Criptoren-Signature``
against the channel's secret, and answers what the test scripts (an HTTP status per
request number, or a hold until released).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool | None
    """``None`` when no secret was set (apprise), else whether the signature verified."""

    @property
    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)

    @property
    def event_id(self) -> str | None:
        """``X-Criptoren-Event-Id``."""
        return self.headers.get("x-criptoren-event-id")


def verify(secret: str, header: str, body: bytes) -> bool:
    """An independent check of ``t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])


@dataclass
class WebhookReceiver:
    """A loopback HTTP server recording deliveries; ``status_for(n)`` answers request n."""

    secret: str | None = None
    status_for: Callable[[int], int] = lambda _n: 200
    hold: asyncio.Event | None = None
    """While set to an unset event, requests are held unanswered (the service may die)."""
    port: int = 0
    received: list[Received] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        """The base URL (``http://127.0.0.1:<port>``)."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> WebhookReceiver:
        """Listen (on ``port``, or a free one)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and drop open connections (a receiver gone for good)."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            if self.hold is not None:
                self.hold.set()  # a held request ends too
            # each handler sees its connection closed and returns (never left to be cancelled)
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def wait_for(self, done: Callable[[list[Received]], bool], timeout: float = 15) -> None:
        """Until ``done(received)`` holds."""
        async with asyncio.timeout(timeout):
            while not done(self.received):
                self._changed.clear()
                await self._changed.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._handlers.discard(task)

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        line = await reader.readline()
        if not line:
            return False
        _method, path, _version = line.decode().split(" ", 2)
        headers: dict[str, str] = {}
        while (header := await reader.readline()) not in (b"\r\n", b""):
            name, value = header.decode().split(":", 1)
            headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        signed = headers.get("x-criptoren-signature")
        ok = None if self.secret is None or signed is None else verify(self.secret, signed, body)
        self.received.append(Received(path, headers, body, ok))
        number = len(self.received)
        self._changed.set()
        if self.hold is not None:
            await self.hold.wait()
        status = self.status_for(number)
        answer = b'{"ok":true}' if status < 300 else b"receiver says no " + b"x" * 4000
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(answer)}\r\n\r\n".encode()
            + answer
        )
        await writer.drain()
        return True
