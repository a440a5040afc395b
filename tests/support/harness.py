"""A running service (real database, real fake exchange over loopback) driven through ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from criptoren.api.app import create_app
from criptoren.bootstrap import Container, build_container
from criptoren.config import Settings
from criptoren.db.models import Trade
from criptoren.db.repositories import SymbolRepository
from criptoren.fake_exchange import FakeExchange, FakeExchangeConfig
from tests.support.served import uvicorn_on_loopback

ADMIN_TOKEN = "admin-token-for-tests-0123456789"
BTC_START = Decimal("61837.63")


@dataclass
class Harness:
    """What a test drives: the HTTP client, the container and the fake exchange."""

    http: httpx.AsyncClient
    container: Container
    exchange: FakeExchange
    ws_url: str | None = None
    """Where the app is served over real sockets (``served=True``), e.g. ``ws://127.0.0.1:N``."""
    stop: Callable[[], Awaitable[None]] | None = None
    """Shut the served app down (as SIGTERM would)."""
    app: FastAPI | None = None
    """The application (set when driven over ASGI in this process)."""

    async def new_client(self, name: str = "alice") -> tuple[int, dict[str, str]]:
        """Create a client through the admin API; returns its id and auth header."""
        response = await self.http.post("/api/v1/clients", json={"name": name}, headers=self.admin)
        assert response.status_code == 201, response.text
        body = response.json()
        return body["id"], {"Authorization": f"Bearer {body['token']}"}

    @property
    def admin(self) -> dict[str, str]:
        """The operator's auth header."""
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    async def insert_trade(self, client_id: int, symbol: str = "BTCUSDT", **fields: Any) -> None:
        """A trade row written behind the service's back (as the user's own SQL could)."""
        async with self.container.session_factory() as session, session.begin():
            rules = await SymbolRepository(session).get(symbol)
            assert rules is not None
            row = Trade(client_id=client_id, symbol_id=rules.symbol_id, symbol=symbol, **fields)
            session.add(row)

    async def buy(self, headers: dict[str, str], client_id: int, **body: Any) -> httpx.Response:
        """``registrar-compra`` with defaults."""
        payload = {"cliente_id": client_id, "symbol": "BTCUSDT", **body}
        return await self.http.post("/registrar-compra", json=payload, headers=headers)


def settings_for(database_url: str, exchange: FakeExchange, **extra: Any) -> Settings:
    """Settings pointing at the test database and the fake exchange."""
    chosen: dict[str, Any] = {"rate_limit_per_second": 0, **extra}  # the rate tests set one
    return Settings(
        database_url=database_url,
        binance_rest_url=exchange.rest_url,
        binance_ws_url=exchange.ws_url,
        admin_token=SecretStr(ADMIN_TOKEN),
        **chosen,
    )


@asynccontextmanager
async def running_service(
    database_url: str,
    exchange_info: Path | None = None,
    prepare: Callable[[FakeExchange], None] | None = None,
    before_start: Callable[[Settings], Awaitable[None]] | None = None,
    *,
    served: bool = False,
    send_buffer: int | None = None,
    exchange_config: Mapping[str, Any] | None = None,
    **extra: Any,
) -> AsyncIterator[Harness]:
    """Fake exchange + service (lifespan run) + HTTP client over ASGI, or over loopback
    sockets with uvicorn when ``served`` (for WebSocket clients)."""
    # a trade a test emits is later than the orders it placed before (see the option)
    options = {"fresh_millisecond": True, **(exchange_config or {})}
    config = FakeExchangeConfig(exchange_info=exchange_info, **options)
    async with FakeExchange(config) as exchange:
        exchange.emit_prices("BTCUSDT", [BTC_START])
        exchange.emit_prices("ETHUSDT", [Decimal("2600.00")])
        if prepare is not None:
            prepare(exchange)
        async with service_on(
            exchange, database_url, before_start, served=served, send_buffer=send_buffer, **extra
        ) as harness:
            yield harness


@asynccontextmanager
async def service_on(
    exchange: FakeExchange,
    database_url: str,
    before_start: Callable[[Settings], Awaitable[None]] | None = None,
    *,
    served: bool = False,
    send_buffer: int | None = None,
    **extra: Any,
) -> AsyncIterator[Harness]:
    """The service on an exchange already running (a restart keeps the exchange's trades)."""
    settings = settings_for(database_url, exchange, **extra)
    if before_start is not None:
        await before_start(settings)
    container = build_container(settings)
    app = create_app(container=container)
    if served:
        async with (
            uvicorn_on_loopback(app, container.settings, send_buffer) as (base_url, stop),
            httpx.AsyncClient(base_url=base_url) as http,
        ):
            ws_url = base_url.replace("http://", "ws://")
            yield Harness(http, container, exchange, ws_url, stop)
        return
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Harness(http, container, exchange, app=app)
