"""Live control messages on a stream connection: SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import orjson

from criptoren.fake_exchange.klines import KLINE_RE

if TYPE_CHECKING:
    from criptoren.fake_exchange.conn import Conn
    from criptoren.fake_exchange.streams import StreamServer

INT64 = 2**63
MAX_STREAMS = 1024
STREAM_RE = re.compile(r"^([a-z0-9]+)@(aggTrade|trade|miniTicker)$")


def valid_stream(name: str) -> bool:
    """Whether the fake serves this stream name."""
    return STREAM_RE.match(name) is not None or KLINE_RE.match(name) is not None


def _error(code: int, msg: str, request_id: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "msg": msg}, "id": request_id}


def _valid_id(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -INT64 <= value < INT64
    return isinstance(value, str) and len(value) <= 36


def handle_control(server: StreamServer, conn: Conn, message: str | bytes) -> dict[str, Any]:
    """Apply one control message and build Binance's reply."""
    try:
        req = orjson.loads(message)
    except orjson.JSONDecodeError as exc:
        return _error(3, f"Invalid JSON: {exc}")
    if not isinstance(req, dict):
        return _error(2, "Invalid request: request must be an object")
    request_id = req.get("id")
    if not _valid_id(request_id):
        return _error(2, "Invalid request: invalid request ID", None)
    for key in req:
        if key not in ("method", "params", "id"):
            return _error(0, f"Unknown property: {key}", request_id)
    method = req.get("method")
    if method == "LIST_SUBSCRIPTIONS":
        return {"result": sorted(conn.streams), "id": request_id}
    if method not in ("SUBSCRIBE", "UNSUBSCRIBE"):
        return _error(2, "Invalid request: unknown method", request_id)
    params = req.get("params")
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        return _error(1, "Invalid value type: expected array of strings", request_id)
    return _apply(server, conn, method, params, request_id)


def _apply(
    server: StreamServer, conn: Conn, method: str, params: list[str], request_id: Any
) -> dict[str, Any]:
    bad = [p for p in params if not valid_stream(p)]
    if bad:
        return _error(2, f"Invalid request: invalid stream name {bad[0]!r}", request_id)
    if method == "SUBSCRIBE":
        if len(conn.streams | set(params)) > MAX_STREAMS:
            return _error(2, f"Invalid request: more than {MAX_STREAMS} streams", request_id)
        server.subscribe_conn(conn, params)
    else:
        server.unsubscribe_conn(conn, params)
    return {"result": None, "id": request_id}
