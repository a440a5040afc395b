"""Per-client watchlists; the former global list stays as the operator's (admin's) list.

Revision ID: 0004_client_watchlists
Revises: 0003_feed_cursor_venue
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from criptoren.db.types import UTCDateTime

revision = "0004_client_watchlists"
down_revision = "0003_feed_cursor_venue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # monitored_symbols keeps its rows: they become the admin token's watchlist
    op.create_table(
        "client_watchlists",
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name="fk_client_watchlists_client_id_clients"
        ),
        sa.PrimaryKeyConstraint("client_id", "symbol", name="pk_client_watchlists"),
    )


def downgrade() -> None:
    op.drop_table("client_watchlists")
