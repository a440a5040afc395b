"""The push stream: ``WS /api/v1/stream`` (and its Portuguese alias ``WS /monitoramento``)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from criptoren.api.deps import bearer_token
from criptoren.bootstrap import Container
from criptoren.errors import CriptorenError, Unauthorized
from criptoren.services import unit_of_work
from criptoren.services.auth import Principal, authenticate, hash_token
from criptoren.stream.connection import StreamConnection
from criptoren.stream.hub import UNAUTHORIZED
from criptoren.stream.render import dumps

router = APIRouter()
MAX_SYMBOLS_PER_MESSAGE = 100
PONG = dumps({"type": "pong"})


class _Sender:
    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def send(self, message: str) -> None:
        await self.websocket.send_text(message)


async def principal_for(container: Container, token: str | None) -> Principal:
    """The caller behind a stream's token (the one place a stream authenticates)."""
    read = container.database.read
    return await authenticate(read, token, container.settings.admin_token, container.tokens)


@router.websocket("/api/v1/stream")
@router.websocket("/monitoramento")
async def stream(websocket: WebSocket) -> None:
    """The caller's live prices, orders and positions, pushed as they happen."""
    container: Container = websocket.app.state.container
    await websocket.accept()
    token = await _token(websocket, container.settings.stream_auth_timeout_seconds)
    try:
        principal = await principal_for(container, token)
    except Unauthorized:
        await websocket.close(UNAUTHORIZED)
        return
    connection = StreamConnection(
        _Sender(websocket),
        principal.client_id,
        limit=container.settings.stream_buffer_messages,
        token_hash=None if principal.is_admin or token is None else hash_token(token),
    )
    try:
        await websocket.send_text(await container.streams.attach(connection))
        await _serve(websocket, container, principal, connection)
    except WebSocketDisconnect:
        pass
    finally:
        container.streams.detach(connection)
        connection.finished.set()


async def _token(websocket: WebSocket, timeout: float) -> str | None:
    """From the upgrade's ``Authorization`` header, else the first message (browsers)."""
    header = bearer_token(websocket.headers)
    if header is not None:
        return header
    try:
        async with asyncio.timeout(timeout):
            message = await websocket.receive()
    except TimeoutError:
        return None
    try:
        body = orjson.loads(message.get("text") or "")
    except orjson.JSONDecodeError:
        return None
    if isinstance(body, dict) and body.get("type") == "auth":
        token = body.get("token")
        return token if isinstance(token, str) else None
    return None


async def _serve(
    websocket: WebSocket, container: Container, principal: Principal, connection: StreamConnection
) -> None:
    tasks = {
        asyncio.create_task(connection.run()),
        asyncio.create_task(_read(websocket, container, principal, connection)),
        asyncio.create_task(connection.closing.wait()),
    }
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if connection.close_code is not None:
        container.streams.detach(connection)  # nothing more is buffered while the close waits
        with contextlib.suppress(Exception):  # the client may be gone already
            await websocket.close(connection.close_code)


async def _read(
    websocket: WebSocket, container: Container, principal: Principal, connection: StreamConnection
) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        reply = await _answer(container, principal, message.get("text"))
        if reply is not None:
            connection.push(reply)


async def _answer(container: Container, principal: Principal, text: str | None) -> str | None:
    """The reply to one client message (``None``: the change itself will be pushed)."""
    try:
        body = orjson.loads(text or "")
    except orjson.JSONDecodeError:
        return _error("invalid_message", "messages are JSON objects with a type")
    kind = body.get("type") if isinstance(body, dict) else None
    if kind == "ping":
        return PONG
    if kind in ("watch", "unwatch"):
        symbols = body.get("symbols")
        if not _symbol_list(symbols):
            return _error(
                "invalid_message",
                f"{kind} needs symbols: a list of 1 to {MAX_SYMBOLS_PER_MESSAGE} strings",
            )
        try:
            await _change_watchlist(container, principal, kind == "watch", symbols)
        except CriptorenError as exc:
            return _error(exc.code, exc.message)
        return None
    return _error("unknown_type", "known types: ping, watch, unwatch")


def _symbol_list(symbols: Any) -> bool:
    return (
        isinstance(symbols, list)
        and 0 < len(symbols) <= MAX_SYMBOLS_PER_MESSAGE
        and all(isinstance(s, str) for s in symbols)
    )


async def _change_watchlist(
    container: Container, principal: Principal, watch: bool, symbols: list[str]
) -> None:
    """Same effect as the REST watchlist: all the symbols, or none (unknown ones refused)."""
    service = container.watchlists
    change = service.watch if watch else service.unwatch
    async with unit_of_work.unit(container.session_factory, container.database) as work:
        for symbol in symbols:
            await change(work, principal, symbol)


def _error(code: str, message: str) -> str:
    return dumps({"type": "error", "code": code, "message": message})
