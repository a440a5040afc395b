"""One Alembic history that yields exactly the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from criptoren.db.models import Base
from criptoren.db.session import create_engine


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _columns(connection: Connection, table: str) -> dict[str, str]:
    return {c["name"]: str(c["type"]) for c in inspect(connection).get_columns(table)}


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            orders = await connection.run_sync(_columns, "positioned_orders")
    finally:
        await engine.dispose()
    original = {
        "id",
        "client_id",
        "symbol",
        "type",
        "target_price",
        "quantity",
        "status",
        "created_at",
    }
    assert original <= set(orders)
    if database_url.startswith("postgresql"):
        assert orders["target_price"] == "NUMERIC(18, 8)"
