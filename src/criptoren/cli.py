"""The ``criptoren`` command line: serve, migrate, clients, symbols, fake exchange."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from criptoren.bootstrap import Container, build_container
from criptoren.config import get_settings
from criptoren.db.migrate import upgrade
from criptoren.errors import CriptorenError
from criptoren.fake_exchange.cli import fake_exchange_command

app = typer.Typer(help="Criptoren: conditional orders over Binance spot.", no_args_is_help=True)
clients_app = typer.Typer(help="Create clients and manage their API tokens.", no_args_is_help=True)
symbols_app = typer.Typer(help="Symbols and their exchange rules.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
app.add_typer(symbols_app, name="symbols")

T = TypeVar("T")


def _run_in_session(work: Callable[[Container, AsyncSession], Awaitable[T]]) -> T:
    async def _main() -> T:
        container = build_container(get_settings())
        try:
            async with container.session_factory() as session, session.begin():
                return await work(container, session)
        finally:
            await container.aclose()

    try:
        return asyncio.run(_main())
    except CriptorenError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from exc


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    settings = get_settings()
    asyncio.run(upgrade(settings.database_url))
    typer.echo("database is up to date")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
) -> None:
    """Run the HTTP API, the push stream and the market engine in one process."""
    from criptoren.api.app import create_app
    from criptoren.api.serving import serve as run_server

    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run_server(create_app(settings), settings, host or settings.host, port or settings.port)


@clients_app.command("create")
def clients_create(
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a client and print its token (shown only this once)."""
    issued = _run_in_session(lambda c, s: c.clients.create(s, name))
    if as_json:
        body = {"id": issued.client.id, "name": issued.client.name, "token": issued.token}
        typer.echo(json.dumps(body))
        return
    typer.echo(f"client {issued.client.id} ({issued.client.name}) created")
    typer.echo(f"token: {issued.token}")
    typer.echo("store it now: it is not shown again")


@clients_app.command("list")
def clients_list() -> None:
    """List clients (never their tokens)."""
    for view in _run_in_session(lambda c, s: c.clients.list(s)):
        state = "active" if view.active else "revoked"
        typer.echo(f"{view.id}\t{view.name}\t{state}\t{view.created_at.isoformat()}")


@clients_app.command("rotate")
def clients_rotate(client_id: int) -> None:
    """Issue a new token for a client; the old one stops working."""
    issued = _run_in_session(lambda c, s: c.clients.rotate(s, client_id))
    typer.echo(f"token: {issued.token}")


@clients_app.command("revoke")
def clients_revoke(client_id: int) -> None:
    """Disable a client's token."""
    view = _run_in_session(lambda c, s: c.clients.revoke(s, client_id))
    typer.echo(f"client {view.id} ({view.name}) revoked")


@symbols_app.command("sync")
def symbols_sync() -> None:
    """Refresh symbols and their rules from the exchange's exchangeInfo."""
    count = _run_in_session(lambda c, s: c.symbols.sync(s))
    typer.echo(f"{count} symbols synced")


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    database: Annotated[
        Path | None, typer.Option(help="SQLite file (default: a fresh temporary one).")
    ] = None,
    interval: Annotated[float, typer.Option(help="Seconds between generated trades.")] = 0.25,
) -> None:
    """Run the service against a fake exchange with moving prices, and a demo client."""
    from criptoren.demo import run_demo

    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run_demo(host, port, database, interval))


app.command("fake-exchange")(fake_exchange_command)


def main() -> None:
    """Console-script entry point."""
    app()
