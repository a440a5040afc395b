"""``criptoren demo``: the service wired to a fake exchange with a generated price path."""

from __future__ import annotations

import json
import secrets
import socket
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import uvicorn
from pydantic import SecretStr

from criptoren.api.app import create_app
from criptoren.bootstrap import build_container
from criptoren.config import Settings
from criptoren.db.migrate import upgrade
from criptoren.fake_exchange import FakeExchange, FakeExchangeConfig

START_PRICES = {"BTCUSDT": Decimal("60000.00"), "ETHUSDT": Decimal("3000.00")}


def _banner(host: str, port: int, client_id: int, token: str, admin: str) -> str:
    base = f"http://{host}:{port}"
    order = {"cliente_id": client_id, "symbol": "BTCUSDT", "preco_alvo": 59990, "quantidade": 0.001}
    body = json.dumps(order)
    return f"""
Criptoren demo: no internet needed, prices come from a fake exchange on loopback.

  API        {base}
  docs       {base}/docs
  client     id {client_id}, token {token}
  admin      token {admin}

Try:
  export AUTH='Authorization: Bearer {token}'
  curl -H "$AUTH" {base}/monitorar-par/BTCUSDT
  curl -H "$AUTH" -H 'Content-Type: application/json' {base}/posicionar-compra \\
       -d '{body}'
  curl -H "$AUTH" {base}/ordens
  curl -H "$AUTH" {base}/posicoes
"""


async def run_demo(host: str, port: int, database: Path | None, interval: float) -> None:
    """Start the fake exchange, the service and a demo client; serve until interrupted."""
    workdir = Path(tempfile.mkdtemp(prefix="criptoren-demo-"))
    db_path = database or workdir / "demo.db"
    async with FakeExchange(FakeExchangeConfig()) as exchange:
        exchange.emit_prices("BTCUSDT", [START_PRICES["BTCUSDT"]])
        exchange.emit_prices("ETHUSDT", [START_PRICES["ETHUSDT"]])
        exchange.random_walk(START_PRICES, interval=interval)
        admin = secrets.token_urlsafe(24)
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{db_path}",
            binance_rest_url=exchange.rest_url,
            binance_ws_url=exchange.ws_url,
            admin_token=SecretStr(admin),
            host=host,
            port=port,
        )
        await upgrade(settings.database_url)
        container = build_container(settings)
        async with container.session_factory() as session, session.begin():
            issued = await container.clients.create(session, "demo")
        server = uvicorn.Server(uvicorn.Config(create_app(container=container), host, port))
        # bound before the banner, so every URL it prints already accepts connections
        with socket.create_server((host, port)) as listener:
            sys.stdout.write(_banner(host, port, issued.client.id, issued.token, admin))
            sys.stdout.flush()
            await server.serve(sockets=[listener])
