"""``criptoren fake-exchange``: run the fake Binance exchange as its own process."""

from __future__ import annotations

import asyncio
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer

from criptoren.fake_exchange.server import FakeExchange, FakeExchangeConfig

DEFAULT_START = {"BTCUSDT": Decimal("60000.00"), "ETHUSDT": Decimal("3000.00")}


def parse_generate(spec: str) -> dict[str, Decimal]:
    """``"BTCUSDT,ETHUSDT=2500"`` -> start prices (known defaults, else 100)."""
    prices: dict[str, Decimal] = {}
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        symbol, _, price = item.partition("=")
        symbol = symbol.upper()
        prices[symbol] = Decimal(price) if price else DEFAULT_START.get(symbol, Decimal(100))
    return prices


def fake_exchange_command(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    ws_port: Annotated[int, typer.Option(help="Stream (WebSocket) port; 0 = any.")] = 9443,
    rest_port: Annotated[int, typer.Option(help="REST port; 0 = any.")] = 8443,
    replay: Annotated[Path | None, typer.Option(help="Recorded session to replay.")] = None,
    speed: Annotated[
        float, typer.Option(help="Replay speed factor; 0 = as fast as possible.")
    ] = 1.0,
    generate: Annotated[
        str | None, typer.Option(help="Random-walk symbols, e.g. BTCUSDT,ETHUSDT=2500.")
    ] = None,
    exchange_info: Annotated[
        Path | None, typer.Option(help="exchangeInfo JSON to serve (default: 2025 subset).")
    ] = None,
) -> None:
    """Run a fake Binance spot exchange (streams + REST) on loopback until interrupted."""
    config = FakeExchangeConfig(
        host=host, ws_port=ws_port, rest_port=rest_port, exchange_info=exchange_info
    )
    asyncio.run(_serve(config, replay, speed, generate))


async def _serve(
    config: FakeExchangeConfig, replay: Path | None, speed: float, generate: str | None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with FakeExchange(config) as fake:
        if replay is not None:
            fake.replay(replay, speed)
        if generate:
            fake.random_walk(parse_generate(generate))
        sys.stdout.write(f"ws_url={fake.ws_url} rest_url={fake.rest_url}\n")
        sys.stdout.flush()
        await stop.wait()


def main() -> None:
    """Entry point for ``python -m criptoren.fake_exchange``."""
    typer.run(fake_exchange_command)
