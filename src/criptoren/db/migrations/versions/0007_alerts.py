"""Price alerts of clients and their firings.

Revision ID: 0007_alerts
Revises: 0006_audit_log
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from criptoren.db.types import Money, UTCDateTime

revision = "0007_alerts"
down_revision = "0006_audit_log"
branch_labels = None
depends_on = None


def _created_at() -> sa.Column[object]:
    return sa.Column(
        "created_at", UTCDateTime(), nullable=False, server_default=sa.func.current_timestamp()
    )


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("symbol_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("condition", sa.String(10), nullable=False),
        sa.Column("price", Money(), nullable=True),
        sa.Column("percent", Money(), nullable=True),
        sa.Column("window_seconds", sa.Integer(), nullable=True),
        sa.Column("repeat", sa.Boolean(), nullable=False),
        sa.Column("cooldown_seconds", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("fire_count", sa.Integer(), nullable=False),
        sa.Column("last_fired_at", UTCDateTime(), nullable=True),
        sa.Column("last_fired_ms", sa.BigInteger(), nullable=True),
        _created_at(),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("status IN ('active','triggered','deleted')", name="ck_alerts_status"),
        sa.CheckConstraint(
            "condition IN ('gte','lte','cross','move_pct')", name="ck_alerts_condition"
        ),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name="fk_alerts_client_id_clients"),
        sa.ForeignKeyConstraint(["symbol_id"], ["symbols.id"], name="fk_alerts_symbol_id_symbols"),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_client_status", "alerts", ["client_id", "status"])
    op.create_index("ix_alerts_status_symbol", "alerts", ["status", "symbol"])
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("trade_price", Money(), nullable=False),
        sa.Column("agg_trade_id", sa.BigInteger(), nullable=False),
        sa.Column("trade_time_ms", sa.BigInteger(), nullable=False),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_alert_events_alert_id_alerts"
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name="fk_alert_events_client_id_clients"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alert_events"),
    )
    op.create_index("ix_alert_events_alert_id", "alert_events", ["alert_id"])
    op.create_index("ix_alert_events_client_id", "alert_events", ["client_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_alert_events_client_id", table_name="alert_events")
    op.drop_index("ix_alert_events_alert_id", table_name="alert_events")
    op.drop_table("alert_events")
    op.drop_index("ix_alerts_status_symbol", table_name="alerts")
    op.drop_index("ix_alerts_client_status", table_name="alerts")
    op.drop_table("alerts")
