"""``FakeExchange``: the stream server, the REST server and their test controls, together."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import orjson
import uvicorn

from criptoren.binance.pacing import WeightLimit, weight_limit
from criptoren.fake_exchange import data, sources
from criptoren.fake_exchange.gateway import Gateway
from criptoren.fake_exchange.market import Market
from criptoren.fake_exchange.records import read_session
from criptoren.fake_exchange.rest import build_app
from criptoren.fake_exchange.streams import StreamServer
from criptoren.fake_exchange.trading import CommissionAsset, Trading
from criptoren.fake_exchange.trading_controls import TradingControls

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FakeExchangeConfig:
    """How the fake exchange listens and behaves; times in seconds."""

    host: str = "127.0.0.1"
    ws_port: int = 0
    rest_port: int = 0
    ping_interval: float = 20.0
    pong_timeout: float = 60.0
    rate_limit: int = 5
    ticker_interval: float = 1.0
    keep_times: bool = False
    exchange_info: Path | None = None
    api_keys: Mapping[str, str] = field(default_factory=dict)  # API key -> secret
    commission_rate: Decimal = Decimal("0.001")
    commission_asset: CommissionAsset = "quote"
    # REQUEST_WEIGHT enforced (429 past it) and announced in exchangeInfo.rateLimits;
    # None: the recorded exchangeInfo's own limit (6000 per minute)
    weight_limit: WeightLimit | None = None
    # test control: emit_prices stamped "now" waits for the next millisecond first, so its
    # trades are later, by the millisecond clock, than anything the caller did before (an
    # order created in the trade's own millisecond does not count that trade)
    fresh_millisecond: bool = False


class FakeExchange(TradingControls):
    """A Binance look-alike on loopback; start it in a test's event loop or a process."""

    def __init__(self, config: FakeExchangeConfig | None = None) -> None:
        self.config = config or FakeExchangeConfig()
        self.market = Market(keep_times=self.config.keep_times)
        self.streams = StreamServer(
            self.market,
            ping_interval=self.config.ping_interval,
            pong_timeout=self.config.pong_timeout,
            rate_limit=self.config.rate_limit,
            ticker_interval=self.config.ticker_interval,
        )
        self._info_path = self.config.exchange_info or data.default_exchange_info()
        self._info: dict[str, Any] | None = None
        self._listed: set[str] | None = None
        self._rest: uvicorn.Server | None = None
        self._rest_task: asyncio.Task[None] | None = None
        self._rest_port = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.time_endpoint_skew_ms = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._symbols: dict[str, dict[str, Any] | None] = {}
        self.trading = Trading(
            self.market, self.symbol_info, self.config.commission_rate, self.config.commission_asset
        )
        for api_key, secret in self.config.api_keys.items():
            self.trading.add_account(api_key, secret)
        self.gateway = Gateway(build_app(self), self.trading.faults, self._weight_limit())

    @property
    def ws_url(self) -> str:
        """``ws://host:port`` of the stream server."""
        return f"ws://{self.config.host}:{self.streams.port}"

    @property
    def rest_url(self) -> str:
        """``http://host:port`` of the REST server."""
        return f"http://{self.config.host}:{self._rest_port}"

    async def start(self) -> None:
        """Start both servers; returns once they accept connections."""
        self._loop = asyncio.get_running_loop()
        await self.streams.start(self.config.host, self.config.ws_port)
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on such sockets, and without
        # it Nagle + delayed ACKs add ~40 ms to every REST reply
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.config.host, self.config.rest_port))
        self._rest_port = sock.getsockname()[1]
        uv_config = uvicorn.Config(
            self.gateway,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
        )
        self._rest = uvicorn.Server(uv_config)
        self._rest_task = asyncio.create_task(self._rest.serve(sockets=[sock]))
        # the asyncio server created by uvicorn owns ``sock`` and closes it on shutdown
        while not self._rest.started:
            if self._rest_task.done():
                self._rest_task.result()
                raise RuntimeError("REST server did not start")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop sources, close every connection and both servers."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.streams.stop()
        self.trading.faults.release_all()
        if self._rest is not None and self._rest_task is not None:
            await self._stop_rest(self._rest, self._rest_task)

    @staticmethod
    async def _stop_rest(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
        """Close the REST server now (``should_exit`` costs two of uvicorn's 0.1 s ticks).

        As uvicorn's own shutdown: no new connections, idle ones closed, replies in flight
        (faults released) finished before returning.
        """
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for listener in server.servers:
            listener.close()
        for connection in list(server.server_state.connections):
            connection.shutdown()
        await asyncio.gather(*server.server_state.tasks, return_exceptions=True)
        for listener in server.servers:
            await listener.wait_closed()

    async def __aenter__(self) -> FakeExchange:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        return self._call(self._spawn_here, coro)

    def _spawn_here(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the exchange's loop: controls may be called from another thread."""
        loop = self._loop
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop or not loop.is_running():
            return fn(*args)

        async def call() -> T:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(call(), loop).result(10)

    # --- exchange info ----------------------------------------------------------------

    def exchange_info(self, symbols: list[str] | None = None) -> dict[str, Any]:
        """The recorded exchangeInfo body (``serverTime`` refreshed), optionally filtered."""
        if self._info is None:
            self._info = orjson.loads(self._info_path.read_bytes())
        body = dict(self._info)
        body["serverTime"] = self.market.now_ms()
        if symbols is not None:
            body["symbols"] = [s for s in body["symbols"] if s["symbol"] in set(symbols)]
        return body

    def _weight_limit(self) -> WeightLimit:
        """The configured limit, written into exchangeInfo; else the recorded one."""
        configured = self.config.weight_limit
        if configured is None:
            return weight_limit(self.exchange_info().get("rateLimits") or ()) or WeightLimit()
        body = self.exchange_info()
        others = [r for r in body.get("rateLimits") or () if r["rateLimitType"] != "REQUEST_WEIGHT"]
        body["rateLimits"] = [configured.rate_limit(), *others]
        self._info = body
        return configured

    def set_symbol_status(self, symbol: str, status: str) -> None:
        """Change one symbol's ``status`` in the exchangeInfo served from now on (e.g. BREAK)."""
        body = self.exchange_info()
        body["symbols"] = [
            {**s, "status": status} if s["symbol"] == symbol else s for s in body["symbols"]
        ]
        self._info = body

    def knows_symbol(self, symbol: str) -> bool:
        """A symbol of exchangeInfo, or one that has traded here."""
        if symbol in self.market.tapes:
            return True
        if self._listed is None:
            self._listed = {s["symbol"] for s in self.exchange_info()["symbols"]}
        return symbol in self._listed

    # --- price sources ----------------------------------------------------------------

    def replay(self, path: Path, speed: float = 1.0) -> asyncio.Task[None]:
        """Replay a recorded session in the background (0 = as fast as possible)."""
        return self._spawn(sources.replay(self.market, read_session(path), speed))

    def random_walk(
        self, symbols: dict[str, Decimal], interval: float = 0.25
    ) -> asyncio.Task[None]:
        """Emit random-walk prices for ``symbols`` (start prices) in the background."""
        return self._spawn(sources.random_walk(self.market, symbols, interval))

    def emit_prices(
        self, symbol: str, prices: list[Decimal | str], times_ms: list[int] | None = None
    ) -> None:
        """Emit one trade per price, now (or at ``times_ms``: scripted candles)."""
        fresh = self.config.fresh_millisecond and times_ms is None
        self._call(self._emit_prices, symbol, prices, times_ms, fresh)

    def _emit_prices(
        self, symbol: str, prices: list[Decimal | str], times_ms: list[int] | None, fresh: bool
    ) -> None:
        if fresh:
            self.market.next_millisecond()
        self.market.emit_prices(symbol, prices, "0.001", times_ms)

    def close_klines(self, symbol: str) -> None:
        """Close ``symbol``'s running klines (``x: true``) and move the clock past them."""
        self._call(self.streams.close_klines, symbol)

    def blast(self, symbol: str, count: int, path: Path | None = None) -> asyncio.Task[None]:
        """Emit ``count`` recorded trades relabelled to ``symbol`` as fast as possible."""
        template = [t.record for t in read_session(path or data.btcusdt_trades())]
        return self._spawn(
            sources.blast(self.market, symbol, template, count, self.streams.wait_backlog)
        )

    # --- test controls ----------------------------------------------------------------

    def rate_limit_market_data(self, count: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``count`` market-data GETs with 429 and ``Retry-After``."""
        self.gateway.rate_limits.extend([retry_after] * count)

    def weight_refused(self) -> list[tuple[str, str, float]]:
        """Requests answered 429 because the window's weight was spent: (method, path, time)."""
        return list(self.gateway.weight.refused)

    def market_data_requests(self) -> list[tuple[str, float, int]]:
        """Every market-data GET received: (path, monotonic time, status answered)."""
        return list(self.gateway.market_requests)

    def skew_time_endpoint(self, skew_ms: int) -> None:
        """Make ``/api/v3/time`` lie by ``skew_ms`` (a client trusting it signs bad timestamps)."""
        self.time_endpoint_skew_ms = skew_ms

    def reset_trade_ids(self, symbol: str) -> None:
        """Forget ``symbol``'s trades: later ones get ids from the start again (a venue reset)."""
        self._call(self.market.reset_ids, symbol)

    def pause(self, symbol: str) -> None:
        """Stop streaming ``symbol`` while its trades go on (served by REST only)."""
        self._call(self.market.paused.add, symbol)

    def resume(self, symbol: str) -> None:
        """Stream ``symbol`` again."""
        self._call(self.market.paused.discard, symbol)

    def drop_connections(self) -> None:
        """Cut every stream connection abruptly."""
        self._call(self.streams.drop_all)

    def stall(self, stalled: bool = True) -> None:
        """Stop sending anything on the current connections (without closing them)."""
        self._call(self.streams.stall_all, stalled)

    def server_shutdown(self, close_after: float = 1.0) -> None:
        """Send ``serverShutdown`` everywhere and close the connections ``close_after`` later."""
        self._call(self.streams.server_shutdown, close_after)

    # --- awaitable conditions ---------------------------------------------------------

    async def wait_emitted(self, symbol: str, count: int, within: float = 10.0) -> None:
        """Wait until ``count`` aggregate trades of ``symbol`` were emitted."""
        await self.market.wait_for(lambda: self.market.emitted(symbol) >= count, within)

    async def wait_subscribed(self, stream: str, count: int = 1, within: float = 10.0) -> None:
        """Wait until ``count`` connections carry ``stream``."""
        await self.market.wait_for(lambda: self.streams.subscribers(stream) >= count, within)

    async def wait_unsubscribed(self, stream: str, within: float = 10.0) -> None:
        """Wait until no connection carries ``stream``."""
        await self.market.wait_for(lambda: self.streams.subscribers(stream) == 0, within)

    async def wait_log(self, predicate: Any, within: float = 10.0) -> None:
        """Wait until ``predicate(connection_log)`` holds."""
        await self.market.wait_for(lambda: bool(predicate(self.streams.log)), within)

    def status(self) -> dict[str, Any]:
        """Connections, subscriptions and emitted counts."""
        return {
            "connections": len(self.streams.conns),
            "streams": {k: len(v) for k, v in self.streams.subs.items() if v},
            "emitted": {s: len(t.records) for s, t in self.market.tapes.items()},
            "paused": sorted(self.market.paused),
        }

    async def control(self, action: str, params: dict[str, Any]) -> Any:
        """The ``/_control/<action>`` entry point for a separate process."""
        from criptoren.fake_exchange.remote import run_control

        return await run_control(self, action, params)
