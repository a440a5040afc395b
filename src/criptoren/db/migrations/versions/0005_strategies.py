"""Channel strategies; positioned orders say who placed them (``origin``, ``strategy_id``).

Revision ID: 0005_strategies
Revises: 0004_client_watchlists
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from criptoren.db.types import Money, UTCDateTime

revision = "0005_strategies"
down_revision = "0004_client_watchlists"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "strategies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("symbol_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("interval", sa.String(4), nullable=False),
        sa.Column("window", sa.Integer(), nullable=False),
        sa.Column("exit_window", sa.Integer(), nullable=True),
        sa.Column("quantity", Money(), nullable=True),
        sa.Column("quote_amount", Money(), nullable=True),
        sa.Column("stop_loss_pct", Money(), nullable=True),
        sa.Column("take_profit_pct", Money(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("last_close_ms", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False, server_default=sa.func.current_timestamp()
        ),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("status IN ('active','paused','deleted')", name="ck_strategies_status"),
        sa.CheckConstraint(
            "kind IN ('channel-breakout','channel-reversion')", name="ck_strategies_kind"
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name="fk_strategies_client_id_clients"
        ),
        sa.ForeignKeyConstraint(
            ["symbol_id"], ["symbols.id"], name="fk_strategies_symbol_id_symbols"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_strategies"),
    )
    op.create_index("ix_strategies_client_status", "strategies", ["client_id", "status"])
    with op.batch_alter_table("positioned_orders") as batch:
        batch.add_column(sa.Column("origin", sa.String(8), nullable=False, server_default="manual"))
        batch.add_column(sa.Column("strategy_id", sa.Integer(), nullable=True))
        batch.create_check_constraint("origin", "origin IN ('manual','strategy')")
        batch.create_foreign_key(
            "fk_positioned_orders_strategy_id_strategies", "strategies", ["strategy_id"], ["id"]
        )
        batch.create_index("ix_positioned_orders_strategy_id", ["strategy_id"])


def downgrade() -> None:
    with op.batch_alter_table("positioned_orders") as batch:
        batch.drop_index("ix_positioned_orders_strategy_id")
        batch.drop_constraint("fk_positioned_orders_strategy_id_strategies", type_="foreignkey")
        batch.drop_constraint("ck_positioned_orders_origin", type_="check")
        batch.drop_column("strategy_id")
        batch.drop_column("origin")
    op.drop_index("ix_strategies_client_status", table_name="strategies")
    op.drop_table("strategies")
