"""``criptoren audit``: check the hash chain (in the database or in an export) and export it."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.engine import Connection

from criptoren.config import get_settings
from criptoren.db.audit import each_record, first_id_since, seal_staged
from criptoren.db.session import create_engine
from criptoren.domain.audit import AuditRecord, Verdict, canonical_json, shown, verify_chain

audit_app = typer.Typer(help="The audit trail: verify its hash chain, export it.")
T = TypeVar("T")


async def _on_database(work: Any) -> Any:
    engine = create_engine(get_settings().database_url)
    try:
        async with engine.begin() as connection:  # PostgreSQL: every committed row linked
            await connection.run_sync(seal_staged)
        async with engine.connect() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


def _run(work: Any) -> Any:
    from criptoren.cli import _run as run_reporting

    return run_reporting(_on_database(work), get_settings().database_url)


@audit_app.command("verify")
def verify(
    from_: Annotated[
        Path | None, typer.Option("--from", help="Check this export (JSON lines) instead.")
    ] = None,
) -> None:
    """Recompute every hash: exit 0 if the chain is intact, else 1 naming the first bad row."""
    if from_ is None:
        verdict: Verdict = _run(lambda c: verify_chain(each_record(c)))
    else:
        with from_.open(encoding="utf-8") as lines:
            # an export may start mid-chain: its first row's prev_hash is the trusted anchor
            verdict = verify_chain(_parsed(lines), anchor=None)
    typer.echo(verdict.summary())
    if not verdict.intact:
        raise typer.Exit(code=1)


@audit_app.command("export")
def export(
    since: Annotated[
        str | None, typer.Option(help="From the first row written at or after (ISO 8601, UTC).")
    ] = None,
) -> None:
    """Print the trail as JSON lines (from ``--since`` on: every later row, in id order)."""
    start = _instant(since) if since is not None else None
    _run(partial(_export, since=start))


def _export(connection: Connection, since: datetime | None) -> None:
    first = 1 if since is None else first_id_since(connection, since)
    if first is None:
        return
    out = sys.stdout
    for record in each_record(connection, first):
        out.write(json.dumps(shown(record), sort_keys=True, separators=(",", ":")) + "\n")
    out.flush()


def _parsed(lines: Any) -> Iterator[AuditRecord]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, parse_float=Decimal)
            at = datetime.strptime(row["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            fields = row | {"at": at, "data": canonical_json(row["data"])}
            yield AuditRecord(**{name: fields[name] for name in AuditRecord.__dataclass_fields__})
        except (ValueError, KeyError, TypeError) as exc:
            typer.echo(f"line {number} is not an audit row: {exc}")
            raise typer.Exit(code=1) from None


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        typer.echo(f"error: --since {text!r} is not an ISO 8601 date or time", err=True)
        raise typer.Exit(code=1) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
