"""Initial schema: the original four tables plus monitored symbols and feed cursors.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from criptoren.db.types import FilterValue, Money, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = "'waiting','triggered','executed','failed','cancelled','expired'"
FILTER_COLUMNS = (
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


def _now() -> sa.sql.elements.TextClause:
    return sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    _clients_and_symbols()
    _orders()
    _trades()
    _engine_state()


def _clients_and_symbols() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("api_token", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False, server_default=_now()),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_clients"),
        sa.UniqueConstraint("api_token", name="uq_clients_api_token"),
    )
    op.create_table(
        "symbols",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("base_asset", sa.String(20), nullable=False),
        sa.Column("quote_asset", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        *(sa.Column(name, FilterValue(), nullable=False) for name in FILTER_COLUMNS),
        sa.Column("created_at", UTCDateTime(), nullable=False, server_default=_now()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_symbols"),
        sa.UniqueConstraint("symbol", name="uq_symbols_symbol"),
    )


def _orders() -> None:
    op.create_table(
        "positioned_orders",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("type", sa.String(4), nullable=False),
        sa.Column("target_price", Money(), nullable=False),
        sa.Column("quantity", Money(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="waiting"),
        sa.Column("created_at", UTCDateTime(), nullable=False, server_default=_now()),
        sa.Column("condition", sa.String(3), nullable=False),
        sa.Column("reference_price", Money(), nullable=True),
        sa.Column("client_order_id", sa.String(36), nullable=True),
        sa.Column("triggered_at", UTCDateTime(), nullable=True),
        sa.Column("executed_trade_id", sa.Integer(), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_positioned_orders"),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name="fk_positioned_orders_client_id_clients"
        ),
        sa.UniqueConstraint("client_order_id", name="uq_positioned_orders_client_order_id"),
        sa.CheckConstraint("type IN ('buy','sell')", name="type"),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="status"),
        sa.CheckConstraint("condition IN ('lte','gte')", name="condition"),
    )
    op.create_index(
        "ix_positioned_orders_client_status", "positioned_orders", ["client_id", "status"]
    )
    op.create_index("ix_positioned_orders_symbol_status", "positioned_orders", ["symbol", "status"])


def _trades() -> None:
    op.create_table(
        "trades",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("type", sa.String(4), nullable=False),
        sa.Column("price", Money(), nullable=False),
        sa.Column("quantity", Money(), nullable=False),
        sa.Column("fee", Money(), nullable=False, server_default="0"),
        sa.Column("executed_at", UTCDateTime(), nullable=False, server_default=_now()),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("positioned_order_id", sa.Integer(), nullable=True),
        sa.Column("fee_asset", sa.String(20), nullable=True),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("mode", sa.String(5), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_trades"),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name="fk_trades_client_id_clients"),
        sa.ForeignKeyConstraint(
            ["positioned_order_id"],
            ["positioned_orders.id"],
            name="fk_trades_positioned_order_id_positioned_orders",
        ),
        sa.UniqueConstraint("positioned_order_id", name="uq_trades_positioned_order_id"),
        sa.CheckConstraint("type IN ('buy','sell')", name="type"),
        sa.CheckConstraint("source IN ('engine','manual','strategy')", name="source"),
        sa.CheckConstraint("mode IN ('paper','live')", name="mode"),
    )
    op.create_index("ix_trades_client_symbol", "trades", ["client_id", "symbol", "id"])


def _engine_state() -> None:
    op.create_table(
        "monitored_symbols",
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", name="pk_monitored_symbols"),
    )
    op.create_table(
        "feed_cursors",
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("last_agg_id", sa.BigInteger(), nullable=False),
        sa.Column("last_trade_time_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", name="pk_feed_cursors"),
    )


def downgrade() -> None:
    for table in (
        "feed_cursors",
        "monitored_symbols",
        "trades",
        "positioned_orders",
        "symbols",
        "clients",
    ):
        op.drop_table(table)
