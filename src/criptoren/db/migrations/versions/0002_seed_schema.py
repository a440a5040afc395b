"""The seed's columns and references: ``symbol_id`` on orders and trades, ``is_active``.

Existing rows keep their data: ``symbol_id`` is filled from the ``symbol`` string. A
symbol string with no ``symbols`` row gets a placeholder row (status ``UNKNOWN``, empty
assets, zero filters, inactive) that the next ``symbols sync`` completes if the exchange
lists the symbol. ``executed_trade_id`` gets its foreign key to ``trades``.

Revision ID: 0002_seed_schema
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from criptoren.db.types import FilterValue, utcnow

revision = "0002_seed_schema"
down_revision = "0001"
branch_labels = None
depends_on = None

PLACEHOLDER_STATUS = "UNKNOWN"
FILTERS = (
    "min_price",
    "max_price",
    "tick_size",
    "min_qty",
    "max_qty",
    "step_size",
    "market_min_qty",
    "market_max_qty",
    "market_step_size",
    "min_notional",
    "max_notional",
)
SYMBOLS = sa.table(
    "symbols",
    sa.column("symbol", sa.String()),
    sa.column("base_asset", sa.String()),
    sa.column("quote_asset", sa.String()),
    sa.column("status", sa.String()),
    sa.column("is_active", sa.Boolean()),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    *(sa.column(name, FilterValue()) for name in FILTERS),
)


def upgrade() -> None:
    op.add_column(
        "symbols", sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true())
    )
    op.execute("UPDATE symbols SET is_active = (status = 'TRADING')")
    _placeholder_symbols()
    for table in ("positioned_orders", "trades"):
        op.add_column(table, sa.Column("symbol_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE positioned_orders SET symbol_id = "
        "(SELECT symbols.id FROM symbols WHERE symbols.symbol = positioned_orders.symbol)"
    )
    op.execute(
        "UPDATE trades SET symbol_id = "
        "(SELECT symbols.id FROM symbols WHERE symbols.symbol = trades.symbol)"
    )
    with op.batch_alter_table("positioned_orders") as batch:
        batch.alter_column("symbol_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            "fk_positioned_orders_symbol_id_symbols", "symbols", ["symbol_id"], ["id"]
        )
        batch.create_foreign_key(
            "fk_positioned_orders_executed_trade_id_trades", "trades", ["executed_trade_id"], ["id"]
        )
    with op.batch_alter_table("trades") as batch:
        batch.alter_column("symbol_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key("fk_trades_symbol_id_symbols", "symbols", ["symbol_id"], ["id"])
        batch.drop_index("ix_trades_client_symbol")
        batch.create_index("ix_trades_client_symbol_id", ["client_id", "symbol_id", "id"])


def _placeholder_symbols() -> None:
    """A ``symbols`` row for every symbol string that orders or trades use but none describes."""
    missing = op.get_bind().execute(
        sa.text(
            "SELECT symbol FROM positioned_orders UNION SELECT symbol FROM trades "
            "EXCEPT SELECT symbol FROM symbols"
        )
    )
    rows = [
        {
            "symbol": symbol,
            "base_asset": "",
            "quote_asset": "",
            "status": PLACEHOLDER_STATUS,
            "is_active": False,
            "updated_at": utcnow(),
            **dict.fromkeys(FILTERS, 0),
        }
        for symbol in missing.scalars()
    ]
    if rows:
        op.bulk_insert(SYMBOLS, rows)


def downgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.drop_index("ix_trades_client_symbol_id")
        batch.create_index("ix_trades_client_symbol", ["client_id", "symbol", "id"])
        batch.drop_constraint("fk_trades_symbol_id_symbols", type_="foreignkey")
        batch.drop_column("symbol_id")
    with op.batch_alter_table("positioned_orders") as batch:
        batch.drop_constraint("fk_positioned_orders_executed_trade_id_trades", type_="foreignkey")
        batch.drop_constraint("fk_positioned_orders_symbol_id_symbols", type_="foreignkey")
        batch.drop_column("symbol_id")
    with op.batch_alter_table("symbols") as batch:
        batch.drop_column("is_active")
