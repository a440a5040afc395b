"""Feed cursors remember the venue whose aggregate-trade ids they count.

An empty venue marks a cursor written before this revision: it is trusted once and
rewritten with the current venue on the next save.

Revision ID: 0003_feed_cursor_venue
Revises: 0002_seed_schema
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_feed_cursor_venue"
down_revision = "0002_seed_schema"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feed_cursors") as batch:
        batch.add_column(sa.Column("venue", sa.String(255), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("feed_cursors") as batch:
        batch.drop_column("venue")
