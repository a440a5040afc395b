"""Run the Alembic history programmatically (CLI, ``make run`` and tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from criptoren.db.availability import database_unreachable, describe
from criptoren.db.session import create_engine

MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass(frozen=True, slots=True)
class Upgrade:
    """The schema revision before and after an upgrade."""

    before: str | None
    after: str | None

    def summary(self) -> str:
        """What happened, in one line for a person."""
        if self.before is None:
            return f"created the database schema (revision {self.after})"
        if self.before == self.after:
            return f"database schema already up to date (revision {self.after})"
        return f"upgraded the database schema from revision {self.before} to {self.after}"


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(url: str, revision: str = "head") -> Upgrade:
    """Bring the database at ``url`` to ``revision``; says what it changed."""
    config = alembic_config(url)

    def _upgrade(connection: Connection) -> Upgrade:
        config.attributes["connection"] = connection
        before = _revision(connection)
        connection.rollback()  # the environment must start outside a transaction
        command.upgrade(config, revision)
        return Upgrade(before, _revision(connection))

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:  # the migration environment begins
            return await connection.run_sync(_upgrade)
    finally:
        await engine.dispose()


async def schema_problem(url: str) -> str | None:
    """``None`` when the database answers and has a schema, else one sentence saying why not."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            revision = await connection.run_sync(_revision)
    except Exception as exc:
        if not database_unreachable(exc):
            raise
        return f"{describe(url, exc)}; start it or fix CRIPTOREN_DATABASE_URL"
    finally:
        await engine.dispose()
    if revision is None:
        return "the database has no schema yet: run `criptoren migrate` first"
    return None
