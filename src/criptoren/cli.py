"""The ``criptoren`` command line: serve, migrate, clients, symbols, backtest, fake exchange."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from criptoren.bootstrap import Container, build_container
from criptoren.cli_audit import audit_app
from criptoren.config import Mode, Role, Settings, get_settings, settings_problems
from criptoren.db.availability import database_unreachable, describe, missing_sqlite_folder
from criptoren.db.migrate import schema_problem, upgrade
from criptoren.db.session import is_sqlite
from criptoren.domain.audit import ADMIN
from criptoren.domain.strategies import StrategyKind
from criptoren.errors import CriptorenError
from criptoren.fake_exchange.cli import fake_exchange_command

app = typer.Typer(help="Criptoren: conditional orders over Binance spot.", no_args_is_help=True)
clients_app = typer.Typer(help="Create clients and manage their API tokens.", no_args_is_help=True)
symbols_app = typer.Typer(help="Symbols and their exchange rules.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
app.add_typer(symbols_app, name="symbols")

T = TypeVar("T")


def _fail(sentence: str) -> NoReturn:
    typer.echo(f"error: {sentence}", err=True)
    raise typer.Exit(code=1)


def _run(work: Coroutine[Any, Any, T], url: str) -> T:
    """Run ``work``; a user error or an unreachable database is one line and exit code 1."""
    if (problem := missing_sqlite_folder(url)) is not None:
        work.close()
        _fail(problem)
    try:
        return asyncio.run(work)
    except CriptorenError as exc:
        _fail(exc.message)
    except Exception as exc:
        if not database_unreachable(exc):
            raise
        _fail(describe(url, exc))


def _run_in_session(work: Callable[[Container, AsyncSession], Awaitable[T]]) -> T:
    settings = get_settings()
    problem = _run(schema_problem(settings.database_url), settings.database_url)
    if problem is not None:  # say "run migrate", not "cannot reach" a database that answered
        _fail(problem)

    async def _main() -> T:
        container = build_container(settings)
        try:
            async with container.session_factory() as session, session.begin():
                return await work(container, session)
        finally:
            await container.aclose()

    return _run(_main(), settings.database_url)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    settings = get_settings()
    done = _run(upgrade(settings.database_url), settings.database_url)
    typer.echo(done.summary())


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes (paper mode); each runs its own feed and engine, "
            "and the compare-and-set claim keeps every execution exactly-once.",
        ),
    ] = 1,
) -> None:
    """Run the HTTP API, the push stream and the market engine (exit 1 without a database)."""
    from criptoren.api.serving import serve as run_server

    os.environ["CRIPTOREN_ROLE"] = Role.ALL.value  # one process runs everything
    get_settings.cache_clear()
    settings = get_settings()
    # the engine rebuilds its index from the database at start-up: without one it cannot run
    problem = _run(schema_problem(settings.database_url), settings.database_url)
    if problem is not None:
        _fail(problem)
    if workers > 1 and settings.mode is Mode.LIVE:
        typer.echo("error: live mode runs one worker (one reconciler per venue account)", err=True)
        raise typer.Exit(code=1)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs every request's full URL at INFO: a webhook URL may carry a token
    logging.getLogger("httpx").setLevel(logging.WARNING)
    run_server(settings, host or settings.host, port or settings.port, workers)


def _scaled_out_settings(role: Role, command: str) -> Settings:
    """Settings for ``api``/``engine``: PostgreSQL with a current schema, or exit 1."""
    os.environ["CRIPTOREN_ROLE"] = role.value  # uvicorn's worker processes read it too
    get_settings.cache_clear()
    settings = get_settings()
    if is_sqlite(settings.database_url):
        _fail(
            f"`criptoren {command}` needs PostgreSQL (set CRIPTOREN_DATABASE_URL to a "
            "postgresql+asyncpg:// URL); on SQLite run everything in one `criptoren serve`"
        )
    problem = _run(schema_problem(settings.database_url), settings.database_url)
    if problem is not None:
        _fail(problem)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    return settings


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Run stateless HTTP and stream workers (PostgreSQL only; engines execute the orders)."""
    from criptoren.api.serving import serve as run_server

    settings = _scaled_out_settings(Role.API, "api")
    run_server(settings, host or settings.host, port if port is not None else settings.port,
               workers)  # fmt: skip


@app.command()
def engine(
    host: Annotated[str | None, typer.Option(help="Bind address of /healthz and /metrics.")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port of /healthz and /metrics (CRIPTOREN_ENGINE_PORT).")
    ] = None,
) -> None:
    """Run an engine: the leader executes orders, the others stand by (PostgreSQL only)."""
    from criptoren.api.serving import serve_engine

    settings = _scaled_out_settings(Role.ENGINE, "engine")
    serve_engine(settings, host or settings.host,
                 port if port is not None else settings.engine_port)  # fmt: skip


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
def clients_rotate(
    client_id: int,
    reactivate: Annotated[
        bool, typer.Option("--reactivate", help="Also re-enable a revoked client.")
    ] = False,
) -> None:
    """Issue a new token for a client; the old one stops working (a revoked client stays so)."""
    issued = _run_in_session(lambda c, s: c.clients.rotate(s, client_id, reactivate=reactivate))
    typer.echo(f"token: {issued.token}")
    if not issued.client.active:
        typer.echo(
            f"client {client_id} is revoked: this token is refused until you run "
            f"`criptoren clients rotate {client_id} --reactivate`",
            err=True,
        )


@clients_app.command("revoke")
def clients_revoke(client_id: int) -> None:
    """Disable a client's token."""
    view = _run_in_session(lambda c, s: c.clients.revoke(s, client_id))
    typer.echo(f"client {view.id} ({view.name}) revoked")


@symbols_app.command("sync")
def symbols_sync() -> None:
    """Refresh symbols and their rules from the exchange's exchangeInfo."""
    count = _run_in_session(lambda c, s: c.symbols.sync(s, ADMIN))
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
    try:
        asyncio.run(run_demo(host, port, database, interval))
    except CriptorenError as exc:
        _fail(exc.message)


@app.command()
def backtest(
    strategy: Annotated[StrategyKind, typer.Option(help="Which channel strategy.")],
    candles: Annotated[Path, typer.Option(help="Candle CSV (.gz ok) or Binance kline dump.")],
    window: Annotated[str, typer.Option(help="N, or START:STOP:STEP to sweep.")],
    exit_window: Annotated[int | None, typer.Option(help="M (breakout; default N//2).")] = None,
    quantity: Annotated[str | None, typer.Option(help="Fixed base quantity per entry.")] = None,
    quote_amount: Annotated[str | None, typer.Option(help="Quote spent per entry.")] = None,
    fee_rate: Annotated[str, typer.Option(help="Fee per fill, in quote.")] = "0.001",
    stop_loss_pct: Annotated[str | None, typer.Option(help="Stop below entry, %.")] = None,
    take_profit_pct: Annotated[str | None, typer.Option(help="Target above entry, %.")] = None,
    symbol: Annotated[str | None, typer.Option(help="Read its filters from the database.")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="First date (UTC).")] = None,
    to: Annotated[str | None, typer.Option(help="Last date (UTC, included).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write JSON here.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a PNG chart here.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write an interactive page here.")] = None,
) -> None:
    """Run a channel strategy over recorded candles (or sweep its window)."""
    from criptoren.backtest.command import BacktestOptions, run_backtest

    options = BacktestOptions(strategy, candles, window, exit_window, quantity, quote_amount,
                              fee_rate, stop_loss_pct, take_profit_pct, symbol, from_, to,
                              json_out, plot, html)  # fmt: skip
    try:
        run_backtest(options, get_settings().database_url)
    except CriptorenError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from exc


app.command("fake-exchange")(fake_exchange_command)
app.add_typer(audit_app, name="audit")


def main() -> None:
    """The ``criptoren`` command: settings that do not validate are one line each, exit 1."""
    try:
        app()
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        for problem in settings_problems(exc):
            typer.echo(f"error: {problem}", err=True)
        raise SystemExit(1) from None
