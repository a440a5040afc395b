"""``criptoren demo``: the service wired to a fake exchange with a generated price path."""

from __future__ import annotations

import secrets
import signal
import socket
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from types import FrameType

from pydantic import SecretStr

from criptoren.api.app import create_app
from criptoren.api.serving import StreamingServer, server_config
from criptoren.bootstrap import build_container
from criptoren.config import Settings
from criptoren.db.migrate import upgrade
from criptoren.errors import CriptorenError
from criptoren.fake_exchange import FakeExchange, FakeExchangeConfig

START_PRICES = {"BTCUSDT": Decimal("60000.00"), "ETHUSDT": Decimal("3000.00")}
BANNER_END = "Stop with Ctrl-C"


def banner(base: str, client_id: int, token: str, admin: str) -> str:
    """What the demo prints once it listens: where it is and the tour's variables."""
    return f"""
Criptoren demo: no internet needed, prices come from a fake exchange on loopback.

  API     {base}   (docs: {base}/docs)
  panel   {base}/painel   (log in with the TOKEN below; ADMIN_TOKEN opens the operator's view)
  client  id {client_id} ("demo")

Paste these lines into another shell, then follow the README's five-minute tour:

export BASE={base}
export TOKEN={token}
export ADMIN_TOKEN={admin}

{BANNER_END} (the demo's temporary database goes with it).
"""


def _listen(host: str, port: int) -> socket.socket:
    try:
        return socket.create_server((host, port))
    except OSError as exc:
        raise CriptorenError(
            f"cannot listen on {host}:{port} ({exc.strerror}); "
            f"choose another port: make demo PORT={port + 1}"
        ) from None


def _stop(_signum: int, _frame: FrameType | None) -> None:
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the
    # handler it found; this one unwinds the demo so its temporary folder is removed
    raise SystemExit(0)


async def run_demo(host: str, port: int, database: Path | None, interval: float) -> None:
    """Start the fake exchange, the service and a demo client; serve until interrupted."""
    # bound before anything starts, so every URL the banner prints already accepts connections
    with (
        _listen(host, port) as listener,
        tempfile.TemporaryDirectory(prefix="criptoren-demo-") as workdir,
    ):
        database_url = f"sqlite+aiosqlite:///{database or Path(workdir) / 'demo.db'}"
        async with FakeExchange(FakeExchangeConfig()) as exchange:
            for symbol, price in START_PRICES.items():
                exchange.emit_prices(symbol, [price])
            exchange.random_walk(START_PRICES, interval=interval)
            admin = secrets.token_urlsafe(24)
            settings = Settings(
                database_url=database_url,
                binance_rest_url=exchange.rest_url,
                binance_ws_url=exchange.ws_url,
                admin_token=SecretStr(admin),
                host=host,
                port=port,
            )
            await upgrade(database_url)
            container = build_container(settings)
            async with container.session_factory() as session, session.begin():
                issued = await container.clients.create(session, "demo")
            app = create_app(container=container)
            server = StreamingServer(server_config(app, settings, host, port), app)
            base = f"http://{host}:{port}"
            sys.stdout.write(banner(base, issued.client.id, issued.token, admin))
            sys.stdout.flush()
            for stop_signal in (signal.SIGINT, signal.SIGTERM):
                signal.signal(stop_signal, _stop)
            await server.serve(sockets=[listener])
