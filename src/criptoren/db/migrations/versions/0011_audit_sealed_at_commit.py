"""PostgreSQL links audit rows at commit: ``audit_log_staged`` and its deferred trigger.

A transaction stages its audit entries (each row's canonical bytes, split around the id it
does not know yet: ``domain.audit.row_parts``); a deferred constraint trigger runs as it
commits, takes the chain's lock and head (``audit_log_head()``), and moves every staged
row of the transaction into ``audit_log`` with the next ids and
``hash = sha256(prev_hash ‖ before ‖ id ‖ after)``, the link of ``domain.audit.chain``.
The lock is then held only for the trigger and the commit's WAL flush, no longer across
the client's round trips (lock, head; then insert; then COMMIT): writers that appended
one after another at that pace now overlap all but their commits.

SQLite keeps appending directly (its writer holds the whole database anyway); the table
exists there too, unused, so one schema matches the models on both.

Revision ID: 0011_audit_sealed_at_commit
Revises: 0010_alerts_updated_at
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from criptoren.db.types import UTCDateTime

revision = "0011_audit_sealed_at_commit"
down_revision = "0010_alerts_updated_at"
branch_labels = None
depends_on = None

# Every staged row visible here is this transaction's (others' are uncommitted, and a
# commit never leaves one behind), so the first firing (for the transaction's first staged
# row: deferred events fire in order) seals them all, in staging order, and later firings
# of the same commit find their row gone. ``id >= NEW.id`` lets the scan use the primary
# key instead of reading the dead rows every commit leaves until vacuum.
PG_SEAL = """
CREATE FUNCTION audit_log_seal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_id bigint;
    prev text;
    staged_row audit_log_staged%ROWTYPE;
    staged bigint[] := '{}';
    prevs text[] := '{}';
    hashes text[] := '{}';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM audit_log_staged WHERE id = NEW.id) THEN
        RETURN NULL;
    END IF;
    SELECT head_id, head_hash INTO last_id, prev FROM audit_log_head();
    last_id := coalesce(last_id, 0);
    prev := coalesce(prev, repeat('0', 64));
    FOR staged_row IN
        SELECT * FROM audit_log_staged WHERE id >= NEW.id ORDER BY id
    LOOP
        staged := staged || staged_row.id;
        prevs := prevs || prev;
        prev := encode(sha256(
            convert_to(prev, 'UTF8') || staged_row.row_before
            || convert_to((last_id + cardinality(staged))::text, 'UTF8')
            || staged_row.row_after
        ), 'hex');
        hashes := hashes || prev;
    END LOOP;
    INSERT INTO audit_log (id, at, actor, action, entity, entity_id, client_id, data,
                           request_id, prev_hash, hash)
    SELECT last_id + n, s.at, s.actor, s.action, s.entity, s.entity_id, s.client_id, s.data,
           s.request_id, prevs[n], hashes[n]
    FROM unnest(staged) WITH ORDINALITY AS u(staged_id, n)
    JOIN audit_log_staged s ON s.id = u.staged_id;
    DELETE FROM audit_log_staged WHERE id = ANY(staged);
    RETURN NULL;
END
$$
"""
PG_TRIGGER = """
CREATE CONSTRAINT TRIGGER audit_log_staged_seal AFTER INSERT ON audit_log_staged
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_log_seal()
"""


def upgrade() -> None:
    op.create_table(
        "audit_log_staged",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(40), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=True),
        sa.Column("client_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("row_before", sa.LargeBinary(), nullable=False),
        sa.Column("row_after", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log_staged"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_SEAL)
        op.execute(PG_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_staged_seal ON audit_log_staged")
        op.execute("DROP FUNCTION audit_log_seal()")
    op.drop_table("audit_log_staged")
