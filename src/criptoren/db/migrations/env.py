"""Alembic environment: runs on the connection handed over by ``criptoren.db.migrate``."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from criptoren.db.models import Base
from criptoren.db.session import create_engine

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # batch mode rebuilds tables that other tables reference: SQLite must not check
        # foreign keys statement by statement meanwhile (checked as a whole below instead)
        _sqlite_foreign_keys(connection, on=False)
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
        transactional_ddl=True,  # SQLite's DDL is transactional too: one migration, one commit
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
            raise RuntimeError("the migration left rows whose foreign keys point nowhere")
    if sqlite:
        _sqlite_foreign_keys(connection, on=True)


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    """Switch SQLite's foreign keys, which only takes effect outside a transaction."""
    if connection.in_transaction():
        raise RuntimeError("SQLite migrations must start outside a transaction")
    cursor = connection.connection.cursor()  # the driver's own: no BEGIN is emitted
    cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    cursor.close()


async def _run_with_own_engine(url: str) -> None:
    engine = create_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_with_own_engine(config.get_main_option("sqlalchemy.url") or ""))
