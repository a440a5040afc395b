"""The fake exchange's REST API (``/api/v3/...``) and its test controls (``/_control/...``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from criptoren.fake_exchange.errors import BinanceError, json_response
from criptoren.fake_exchange.tape import INTERVAL_MS
from criptoren.fake_exchange.trading_rest import trading_routes

if TYPE_CHECKING:
    from criptoren.fake_exchange.server import FakeExchange


def _int(request: Request, name: str, default: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise BinanceError(-1100, f"Illegal characters found in parameter '{name}'.") from None


def _limit(request: Request, default: int = 500) -> int:
    limit = _int(request, "limit", default)
    assert limit is not None
    if not 1 <= limit <= 1000:
        raise BinanceError(-1130, "Invalid data sent for a parameter.")
    return limit


def _symbol(request: Request, fake: FakeExchange) -> str:
    symbol = request.query_params.get("symbol")
    if not symbol:
        raise BinanceError(-1102, "Mandatory parameter 'symbol' was not sent.")
    if not fake.knows_symbol(symbol):
        raise BinanceError(-1121, "Invalid symbol.")
    return symbol


def _endpoint(handler: Callable[[Request], Awaitable[Any]]) -> Callable[..., Any]:
    async def run(request: Request) -> Response:
        """JSON reply, or Binance's error body."""
        try:
            return json_response(await handler(request))
        except BinanceError as exc:
            return json_response({"code": exc.code, "msg": exc.msg}, exc.status)

    return run


class _Api:
    """Request handlers over one fake exchange."""

    def __init__(self, fake: FakeExchange) -> None:
        self.fake = fake

    async def exchange_info(self, request: Request) -> Any:
        """GET /api/v3/exchangeInfo (``symbol=`` or ``symbols=[...]``)."""
        one = request.query_params.get("symbol")
        many = request.query_params.get("symbols")
        wanted: list[str] | None = [one] if one else None
        if many:
            try:
                wanted = [str(s) for s in orjson.loads(many)]
            except orjson.JSONDecodeError as exc:
                msg = "Illegal characters found in parameter 'symbols'."
                raise BinanceError(-1100, msg) from exc
        return self.fake.exchange_info(wanted)

    async def server_time(self, request: Request) -> Any:
        """GET /api/v3/time."""
        return {"serverTime": self.fake.trading.now_ms() + self.fake.time_endpoint_skew_ms}

    async def ping(self, request: Request) -> Any:
        """GET /api/v3/ping."""
        return {}

    async def ticker_price(self, request: Request) -> Any:
        """GET /api/v3/ticker/price?symbol=."""
        symbol = _symbol(request, self.fake)
        last = self.fake.market.tape(symbol).last
        if last is None:
            raise BinanceError(-1121, "Invalid symbol.")
        return {"symbol": symbol, "price": last.p}

    async def agg_trades(self, request: Request) -> Any:
        """GET /api/v3/aggTrades (fromId, startTime, endTime, limit <= 1000)."""
        tape = self.fake.market.tape(_symbol(request, self.fake))
        return tape.agg_trades(
            _int(request, "fromId"),
            _int(request, "startTime"),
            _int(request, "endTime"),
            _limit(request),
        )

    async def klines(self, request: Request) -> Any:
        """GET /api/v3/klines computed from the emitted trades."""
        tape = self.fake.market.tape(_symbol(request, self.fake))
        interval = request.query_params.get("interval", "")
        if interval not in INTERVAL_MS:
            raise BinanceError(-1120, "Invalid interval.")
        start, end = _int(request, "startTime"), _int(request, "endTime")
        return tape.klines(interval, start, end, _limit(request))

    async def control(self, request: Request) -> Any:
        """GET/POST /_control/<action>: drive the fake from another process."""
        params = dict(request.query_params)
        body = await request.body()
        if body:
            params.update(orjson.loads(body))
        try:
            return await self.fake.control(request.path_params["action"], params)
        except (KeyError, ValueError, TypeError) as exc:
            raise BinanceError(-1100, f"bad control request: {exc!r}") from exc


def build_app(fake: FakeExchange) -> Starlette:
    """The Starlette app serving ``fake``."""
    api = _Api(fake)
    routes = [
        Route("/api/v3/exchangeInfo", _endpoint(api.exchange_info)),
        Route("/api/v3/time", _endpoint(api.server_time)),
        Route("/api/v3/ping", _endpoint(api.ping)),
        Route("/api/v3/ticker/price", _endpoint(api.ticker_price)),
        Route("/api/v3/aggTrades", _endpoint(api.agg_trades)),
        Route("/api/v3/klines", _endpoint(api.klines)),
        *trading_routes(fake),
        Route("/_control/{action}", _endpoint(api.control), methods=["GET", "POST"]),
    ]
    return Starlette(routes=routes)
