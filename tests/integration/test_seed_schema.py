"""The live schema keeps every column and reference of the seed's ``CREATE TABLE``s."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Boolean, DateTime, Integer, Numeric, String, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeEngine

from criptoren.db.models import Base
from criptoren.db.session import create_engine
from criptoren.db.types import Money
from tests.support.paths import REPO_ROOT

SEED = REPO_ROOT / "docs" / "seed-schema.sql"
CREATE_TABLE = re.compile(r"CREATE TABLE (\w+)\s*\((.*?)\);", re.S | re.I)
REFERENCE = re.compile(r"REFERENCES\s+(\w+)\s*\(\s*(\w+)\s*\)", re.I)
TABLE_CONSTRAINTS = {"CONSTRAINT", "PRIMARY", "FOREIGN", "UNIQUE", "CHECK"}
SEED_FAMILIES = {
    "SERIAL": "integer",
    "INT": "integer",
    "INTEGER": "integer",
    "DECIMAL": "decimal",
    "NUMERIC": "decimal",
    "VARCHAR": "text",
    "TEXT": "text",
    "TIMESTAMP": "timestamp",
    "BOOLEAN": "boolean",
}


@dataclass(frozen=True)
class SeedColumn:
    """One column of the seed, as its ``CREATE TABLE`` declares it."""

    table: str
    name: str
    family: str
    not_null: bool
    references: tuple[str, str] | None


def _items(body: str) -> list[str]:
    """The comma-separated items of a ``CREATE TABLE`` body (commas inside parentheses kept)."""
    items, depth, current = [], 0, ""
    for char in body:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(current.strip())
            current = ""
        else:
            current += char
    return [*items, current.strip()]


def seed_columns() -> list[SeedColumn]:
    """Every column declared in ``docs/seed-schema.sql``."""
    sql = re.sub(r"--[^\n]*", "", SEED.read_text())
    columns = []
    for table, body in CREATE_TABLE.findall(sql):
        for item in _items(body):
            name, declaration = item.split(None, 1)
            if name.upper() in TABLE_CONSTRAINTS:
                continue
            upper = declaration.upper()
            reference = REFERENCE.search(declaration)
            columns.append(
                SeedColumn(
                    table,
                    name,
                    SEED_FAMILIES[re.match(r"\w+", upper).group()],  # type: ignore[union-attr]
                    "NOT NULL" in upper or "PRIMARY KEY" in upper,
                    (reference.group(1), reference.group(2)) if reference else None,
                )
            )
    return columns


def expected_family(seed: SeedColumn, dialect: str) -> str:
    """The seed's family as stored by ``dialect``."""
    if seed.family == "decimal" and dialect == "sqlite":
        # SQLite keeps DECIMAL(18,8) as exact text (Money): its NUMERIC affinity rounds
        assert isinstance(Base.metadata.tables[seed.table].c[seed.name].type, Money)
        return "text"
    return seed.family


def live_family(column_type: TypeEngine[object]) -> str:
    """The family of a reflected column type."""
    for family, kind in (
        ("boolean", Boolean),
        ("integer", Integer),
        ("decimal", Numeric),
        ("timestamp", DateTime),
        ("text", String),
    ):
        if isinstance(column_type, kind):
            return family
    raise AssertionError(f"unexpected column type {column_type!r}")


@dataclass(frozen=True)
class LiveSchema:
    """What the database says of the seed's tables."""

    dialect: str
    columns: dict[tuple[str, str], tuple[str, bool]]  # (table, column) -> (family, NOT NULL)
    references: dict[tuple[str, str], tuple[str, str]]  # (table, column) -> (table, column)


def _live_schema(connection: Connection) -> LiveSchema:
    inspector = inspect(connection)
    tables = {column.table for column in seed_columns()}
    columns = {
        (table, column["name"]): (
            live_family(column["type"]),
            not column["nullable"],
        )
        for table in tables
        for column in inspector.get_columns(table)
    }
    references = {
        (table, fk["constrained_columns"][0]): (fk["referred_table"], fk["referred_columns"][0])
        for table in tables
        for fk in inspector.get_foreign_keys(table)
    }
    return LiveSchema(connection.dialect.name, columns, references)


def test_the_reconstructed_seed_is_valid_sql() -> None:
    connection = sqlite3.connect(":memory:")
    connection.executescript(SEED.read_text())
    names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"clients", "symbols", "positioned_orders", "trades"} <= names
    per_table = Counter(column.table for column in seed_columns())
    assert per_table == {"clients": 4, "symbols": 5, "positioned_orders": 8, "trades": 9}
    assert sum(column.references is not None for column in seed_columns()) == 4


async def test_live_schema_keeps_every_seed_column_and_reference(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            live = await connection.run_sync(_live_schema)
    finally:
        await engine.dispose()
    columns, references, dialect = live.columns, live.references, live.dialect
    for seed in seed_columns():
        where = f"{seed.table}.{seed.name}"
        assert (seed.table, seed.name) in columns, f"{where} is missing"
        family, not_null = columns[(seed.table, seed.name)]
        expected = expected_family(seed, dialect)
        assert family == expected, f"{where} is {family}, the seed says {seed.family}"
        assert not_null or not seed.not_null, f"{where} accepts NULL, the seed does not"
        if seed.references is not None:
            assert references.get((seed.table, seed.name)) == seed.references, where
