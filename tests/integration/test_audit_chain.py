"""``criptoren audit verify``/``export``: an edited, deleted, forged or reordered row is named;
PostgreSQL itself refuses to change the trail."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner, Result

from criptoren.cli import app
from criptoren.config import get_settings
from criptoren.db import audit
from criptoren.db.audit_sealer import AuditSealer
from criptoren.db.session import Database, TransactionRunner, create_engine
from criptoren.domain.audit import GENESIS, AuditEntry, chain, verify_chain
from tests.support.databases import skip_or_fail, sqlite_copy, truncate

BATCHES = (1, 3, 2)  # rows per append: 6 rows, ids 1..6


def _entries(count: int, first: int) -> list[AuditEntry]:
    return [
        AuditEntry(
            "client:1", "order.placed", "order", first + i, {"price": Decimal("1.5"), "n": i}, 1
        )
        for i in range(count)
    ]


async def _fill(url: str) -> None:
    engine = create_engine(url)
    try:
        for n, count in enumerate(BATCHES):
            async with engine.begin() as connection:
                await connection.run_sync(audit.append, _entries(count, n * 10))
        async with engine.begin() as connection:  # PostgreSQL: link the staged rows
            await connection.run_sync(audit.seal_staged)
    finally:
        await engine.dispose()


def _cli(url: str, *args: str) -> Result:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, ["audit", *args], env={"CRIPTOREN_DATABASE_URL": url})
    finally:
        get_settings.cache_clear()


@pytest.fixture
def sqlite_trail(tmp_path: Path, sqlite_template: Path) -> tuple[str, Path]:
    """A SQLite database holding a 6-row trail, and its file."""
    path = tmp_path / "criptoren.db"
    url = sqlite_copy(sqlite_template, path)
    asyncio.run(_fill(url))
    return url, path


def _tamper(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as db:  # whoever can write the file can drop the triggers
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("DROP TRIGGER audit_log_no_delete")
        for statement in statements:
            db.execute(statement)


def test_an_intact_chain_verifies(sqlite_trail: tuple[str, Path]) -> None:
    url, path = sqlite_trail
    done = _cli(url, "verify")
    assert done.exit_code == 0, done.output
    with sqlite3.connect(path) as db:
        head = db.execute("SELECT hash FROM audit_log WHERE id = 6").fetchone()[0]
    assert done.output == f"6 rows, chain intact, head {head}\n"


def test_sqlite_triggers_refuse_plain_edits(sqlite_trail: tuple[str, Path]) -> None:
    _, path = sqlite_trail
    with sqlite3.connect(path) as db:
        for statement in ("UPDATE audit_log SET actor = 'admin'", "DELETE FROM audit_log"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(statement)


FORGED = (
    "INSERT INTO audit_log (id, at, actor, action, entity, entity_id, client_id, data, "
    "request_id, prev_hash, hash) SELECT 7, at, 'admin', 'client.revoked', 'client', '1', 1, "
    "'{}', NULL, hash, hash FROM audit_log WHERE id = 6"
)


@pytest.mark.parametrize(
    ("statements", "bad_id"),
    [
        (['UPDATE audit_log SET data = \'{"n":9,"price":"1.5"}\' WHERE id = 3'], 3),
        (["UPDATE audit_log SET client_id = 2 WHERE id = 5"], 5),
        (["DELETE FROM audit_log WHERE id = 3"], 4),
        ([FORGED], 7),
        (
            [
                "UPDATE audit_log SET id = -1 WHERE id = 2",
                "UPDATE audit_log SET id = 2 WHERE id = 4",
                "UPDATE audit_log SET id = 4 WHERE id = -1",
            ],
            2,
        ),
    ],
    ids=["edited-data", "edited-owner", "deleted", "forged", "swapped"],
)
def test_tampering_names_the_first_bad_row(
    sqlite_trail: tuple[str, Path], statements: list[str], bad_id: int
) -> None:
    url, path = sqlite_trail
    _tamper(path, *statements)
    done = _cli(url, "verify")
    assert done.exit_code == 1
    assert done.output.startswith(f"chain broken at row {bad_id}: "), done.output


def test_an_export_from_since_verifies_from_its_anchor(
    sqlite_trail: tuple[str, Path], tmp_path: Path
) -> None:
    url, path = sqlite_trail
    with sqlite3.connect(path) as db:
        since = db.execute("SELECT at FROM audit_log WHERE id = 2").fetchone()[0]
    exported = _cli(url, "export", "--since", since.replace(" ", "T") + "+00:00")
    assert exported.exit_code == 0, exported.output
    lines = exported.output.splitlines()
    assert len(lines) == 5  # ids 2..6: from the first row at or after --since, every later row
    export = tmp_path / "export.jsonl"
    export.write_text(exported.output)
    checked = _cli(url, "verify", "--from", str(export))
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("5 rows, chain intact, head ")
    export.write_text(exported.output.replace('"n":1', '"n":7', 1))
    tampered = _cli(url, "verify", "--from", str(export))
    assert tampered.exit_code == 1
    assert tampered.output.startswith("chain broken at row 3: ")


@pytest.fixture
async def postgres_trail(postgres_url: tuple[str | None, str]) -> str:
    """A PostgreSQL database holding a 6-row trail (CI fails without PostgreSQL)."""
    url, reason = postgres_url
    if url is None:
        skip_or_fail(reason)
        raise AssertionError("unreachable")
    await truncate(url)
    await _fill(url)
    return url


async def test_postgres_refuses_update_delete_and_truncate(postgres_trail: str) -> None:
    engine = create_engine(postgres_trail)
    try:
        for statement in (
            "UPDATE audit_log SET data = '{}' WHERE id = 3",
            "DELETE FROM audit_log WHERE id = 3",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                async with engine.begin() as connection:
                    await connection.execute(text(statement))
        async with engine.connect() as connection:
            count = (await connection.execute(text("SELECT count(*) FROM audit_log"))).scalar()
    finally:
        await engine.dispose()
    assert count == 6


async def _append_then_fail(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(audit.append, _entries(2, 99))
        raise RuntimeError("rolled back")


async def test_postgres_links_rows_at_commit_as_the_domain_chains_them(
    postgres_trail: str,
) -> None:
    """PostgreSQL's sealer (migration 0013) gives the ids and hashes ``domain.audit.chain``
    gives the same entries; a rolled-back transaction leaves nothing, staged or linked."""
    engine = create_engine(postgres_trail)
    try:
        with pytest.raises(RuntimeError, match="rolled back"):
            await _append_then_fail(engine)
        async with engine.connect() as connection:
            stored = await connection.run_sync(audit.read_records)
            staged = await connection.execute(text("SELECT count(*) FROM audit_log_staged"))
            left_staged = staged.scalar()
    finally:
        await engine.dispose()
    expected, head, last_id = [], GENESIS, 0
    for n, count in enumerate(BATCHES):  # each batch shares its transaction's time
        at = stored[last_id].at
        expected += chain(last_id, head, at, _entries(count, n * 10))
        head, last_id = expected[-1].hash, expected[-1].id
    assert stored == expected
    assert verify_chain(stored).intact
    assert left_staged == 0


async def _stage(url: str, batches: int, first: int) -> None:
    engine = create_engine(url)
    try:
        for n in range(batches):
            async with engine.begin() as connection:
                await connection.run_sync(audit.append, _entries(2, first + n * 10))
    finally:
        await engine.dispose()


async def _seal_on_its_own_connection(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(audit.seal_staged)
    finally:
        await engine.dispose()


async def test_postgres_concurrent_sealers_link_each_committed_row_once(
    postgres_trail: str,
) -> None:
    """Rows committed but not yet linked wait in ``audit_log_staged``; sealers running at once
    (two processes) link each row once, into one chain, and ``audit verify`` links first."""
    await _stage(postgres_trail, 20, 100)
    linked = await asyncio.gather(*(_seal_on_its_own_connection(postgres_trail) for _ in range(4)))
    assert sum(linked) == 40
    await _stage(postgres_trail, 2, 900)  # staged and committed, linked by nobody yet
    done = await asyncio.to_thread(_cli, postgres_trail, "verify")
    assert done.exit_code == 0, done.output
    assert done.output.startswith("50 rows, chain intact, head ")  # 6 + 40 + 4
    engine = create_engine(postgres_trail)
    try:
        async with engine.connect() as connection:
            stored = await connection.run_sync(audit.read_records)
            staged = (
                await connection.execute(text("SELECT count(*) FROM audit_log_staged"))
            ).scalar()
    finally:
        await engine.dispose()
    assert [r.id for r in stored] == list(range(1, 51))
    assert len({r.entity_id for r in stored}) == 50  # every entry once (each has its own id)
    assert staged == 0


async def test_postgres_a_stopping_process_links_what_is_staged(postgres_trail: str) -> None:
    """A process stopping before its sealer's next turn links the staged rows as it stops."""
    engine = create_engine(postgres_trail)
    runner = TransactionRunner(postgres_trail, engine)
    database = Database(postgres_trail, engine, runner)
    sealer = AuditSealer(database, delay=3600, sweep=3600)  # no turn of its own in this test
    try:
        sealer.start()
        await _stage(postgres_trail, 3, 500)
        async with engine.connect() as connection:
            before = len(await connection.run_sync(audit.read_records))
        await sealer.stop()
        async with engine.connect() as connection:
            after = await connection.run_sync(audit.read_records)
    finally:
        await database.aclose()
        await runner.aclose()
        await engine.dispose()
    assert (before, len(after)) == (6, 12)
    assert verify_chain(after).intact
