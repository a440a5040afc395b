"""Token buckets of the per-client rate limit, shared by every API worker (PostgreSQL store).

Unlogged on PostgreSQL: the buckets are worth a second of traffic, a crash may forget them.

Revision ID: 0009_rate_limit_buckets
Revises: 0008_notifications
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_rate_limit_buckets"
down_revision = "0008_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    unlogged = ["UNLOGGED"] if op.get_bind().dialect.name == "postgresql" else []
    op.create_table(
        "rate_limit_buckets",
        sa.Column("client_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("refilled_at", sa.Float(), nullable=False),
        sa.Column("granted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name="pk_rate_limit_buckets"),
        prefixes=unlogged,
    )


def downgrade() -> None:
    op.drop_table("rate_limit_buckets")
