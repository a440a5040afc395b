"""An index on ``alerts.updated_at``: the engine leader's catch-up reads the alerts changed
in the last seconds every ``CRIPTOREN_NOTIFY_CATCH_UP_SECONDS`` (scaled-out roles).

Revision ID: 0010_alerts_updated_at
Revises: 0009_rate_limit_buckets
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0010_alerts_updated_at"
down_revision = "0009_rate_limit_buckets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alerts_updated_at", "alerts", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_updated_at", table_name="alerts")
