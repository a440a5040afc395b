"""The fake exchange's WebSocket stream server: combined and raw streams, Binance's rules."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from functools import partial
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from criptoren.fake_exchange.conn import Conn, rate_limited_connection
from criptoren.fake_exchange.control import MAX_STREAMS, handle_control, valid_stream
from criptoren.fake_exchange.frames import agg_trade_frames, encode, text_frame
from criptoren.fake_exchange.klines import KlineStreams
from criptoren.fake_exchange.market import Market
from criptoren.fake_exchange.records import AggRecord

log = logging.getLogger(__name__)


class StreamServer:
    """Serves ``/stream`` and ``/ws/<stream>`` and publishes the market's trades."""

    def __init__(
        self,
        market: Market,
        *,
        ping_interval: float = 20.0,
        pong_timeout: float = 60.0,
        rate_limit: int = 5,
        ticker_interval: float = 1.0,
    ) -> None:
        self.market = market
        self.ping_interval = ping_interval
        self.pong_timeout = pong_timeout
        self.rate_limit = rate_limit
        self.ticker_interval = ticker_interval
        self.conns: dict[int, Conn] = {}
        self.subs: dict[str, set[Conn]] = {}
        self.log: list[tuple[str, int]] = []
        self.port = 0
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.klines = KlineStreams(market)
        market.publisher = self

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (0 picks a free port)."""
        self._server = await serve(
            self._handle,
            host,
            port,
            create_connection=rate_limited_connection(self.rate_limit),
            process_request=_check_path,
            compression=None,
            ping_interval=self.ping_interval,
            ping_timeout=self.pong_timeout,
            max_size=2**20,
        )
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        self._spawn(self._ticker())

    async def stop(self) -> None:
        """Close every connection and the listener."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        combined, initial = _parse_path(ws.request.path)
        conn = Conn(ws, combined)
        self.conns[conn.id] = conn
        self.log.append(("open", conn.id))
        self.subscribe_conn(conn, initial)
        try:
            async for message in ws:
                if not getattr(ws, "offended", False):
                    self._on_text(conn, message)
        except ConnectionClosed:
            pass
        finally:
            self._forget(conn)
            await conn.close()

    def _forget(self, conn: Conn) -> None:
        self.conns.pop(conn.id, None)
        for stream in conn.streams:
            self.subs.get(stream, set()).discard(conn)
        self.log.append(("close", conn.id))
        self.market.notify()

    def _on_text(self, conn: Conn, message: str | bytes) -> None:
        reply = handle_control(self, conn, message)
        conn.push(text_frame(orjson.dumps(reply)))

    def subscribe_conn(self, conn: Conn, streams: Sequence[str]) -> None:
        """Add streams to a connection."""
        for stream in streams:
            conn.streams.add(stream)
            self.subs.setdefault(stream, set()).add(conn)
        self.market.notify()

    def unsubscribe_conn(self, conn: Conn, streams: Sequence[str]) -> None:
        """Remove streams from a connection."""
        for stream in streams:
            conn.streams.discard(stream)
            self.subs.get(stream, set()).discard(conn)
        self.market.notify()

    def subscribers(self, stream: str) -> int:
        """How many connections carry ``stream``."""
        return len(self.subs.get(stream, ()))

    # --- publishing -------------------------------------------------------------------

    def publish_trades(self, symbol: str, records: Sequence[AggRecord]) -> None:
        """Send trades to their subscribers, with kline events when someone follows klines."""
        if KlineStreams.streams(self.subs, symbol):
            self.klines.publish(
                self.subs, symbol, records, self._publish, partial(self._send_trades, symbol)
            )
        else:
            self._send_trades(symbol, records)

    def close_klines(self, symbol: str) -> None:
        """Close ``symbol``'s running klines now (``x: true``), as their interval's end would."""
        self.klines.close(self.subs, symbol, self._publish)

    def _send_trades(self, symbol: str, records: Sequence[AggRecord]) -> None:
        """Send trades to ``@aggTrade`` and ``@trade`` subscribers (frames encoded once)."""
        if not records:
            return
        low = symbol.lower()
        agg = f"{low}@aggTrade"
        conns = self.subs.get(agg)
        if conns:
            blobs: dict[bool, bytes] = {}
            for conn in list(conns):
                if conn.combined not in blobs:
                    blobs[conn.combined] = agg_trade_frames(agg, list(records), conn.combined)
                conn.push(blobs[conn.combined])
        raw = f"{low}@trade"
        if self.subs.get(raw):
            self._publish(raw, [t for rec in records for t in _trades_of(rec)])

    def _publish(self, stream: str, payloads: list[dict[str, Any]]) -> None:
        blobs: dict[bool, bytes] = {}
        for conn in list(self.subs.get(stream, ())):
            blob = blobs.get(conn.combined)
            if blob is None:
                blob = b"".join(encode(stream, p, conn.combined) for p in payloads)
                blobs[conn.combined] = blob
            conn.push(blob)

    async def wait_backlog(self, limit: int = 1 << 20) -> None:
        """Wait until every connection has less than ``limit`` bytes queued."""
        for conn in list(self.conns.values()):
            await conn.wait_backlog_below(limit)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.ticker_interval)
            for stream, conns in list(self.subs.items()):
                if conns and stream.endswith("@miniTicker"):
                    self._publish_ticker(stream)

    def _publish_ticker(self, stream: str) -> None:
        symbol = stream.split("@", 1)[0].upper()
        tape = self.market.tapes.get(symbol)
        if tape is None or not tape.records or symbol in self.market.paused:
            return
        s = tape.update_stats()
        data = {
            "e": "24hrMiniTicker",
            "E": self.market.now_ms(),
            "s": symbol,
            "c": str(s.close),
            "o": str(s.open),
            "h": str(s.high),
            "l": str(s.low),
            "v": str(s.volume),
            "q": str(s.quote_volume),
        }
        self._publish(stream, [data])

    # --- test controls ----------------------------------------------------------------

    def drop_all(self) -> None:
        """Cut every connection abruptly (no close frame)."""
        for conn in list(self.conns.values()):
            conn.ws.transport.abort()

    def stall_all(self, stalled: bool = True) -> None:
        """Stop (or resume) sending anything on the current connections, without closing."""
        for conn in self.conns.values():
            conn.stalled = stalled

    def server_shutdown(self, close_after: float = 1.0) -> None:
        """Send ``serverShutdown`` to every connection, then close them after ``close_after``."""
        now = self.market.now_ms()
        for conn in list(self.conns.values()):
            event = {"e": "serverShutdown", "E": now}
            conn.push(encode("!serverShutdown", event, conn.combined))
            self._spawn(self._close_later(conn, close_after))

    async def _close_later(self, conn: Conn, delay: float) -> None:
        await asyncio.sleep(delay)
        with contextlib.suppress(Exception):
            await conn.ws.close(1001, "server shutdown")


def _trades_of(rec: AggRecord) -> list[dict[str, Any]]:
    parts = rec.trades or [(rec.l, rec.q)]
    return [
        {"e": "trade", "E": rec.E, "s": rec.symbol, "t": t, "p": rec.p, "q": q}
        | {"T": rec.T, "m": rec.m, "M": True}
        for t, q in parts
    ]


def _parse_path(path: str) -> tuple[bool, list[str]]:
    parts = urlsplit(path)
    if parts.path.startswith("/ws/"):
        return False, [s for s in parts.path[4:].split("/") if s]
    if parts.path == "/ws":
        return False, []
    names = parse_qs(parts.query).get("streams", [""])[0]
    return True, [s for s in names.split("/") if s]


def _check_path(connection: ServerConnection, request: Request) -> Response | None:
    _combined, streams = _parse_path(request.path)
    path = urlsplit(request.path).path
    if path not in ("/stream", "/ws") and not path.startswith("/ws/"):
        return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
    if len(streams) > MAX_STREAMS or not all(valid_stream(s) for s in streams):
        return Response(400, "Bad Request", Headers(), b"Invalid stream\n")
    return None
