"""The audit sealer fires once per append, and links its rows from arrays.

Migration 0011's trigger fired for every staged row at commit (the first firing sealed them
all, each later one found its row gone), and it inserted the linked rows by joining the
staged table with the list of their ids, which the planner ran as a nested loop: a burst's
10,000 rows cost ≈ 340 ms of its commit. Each append now marks its first row (``seals``),
the trigger fires only for marked rows (its ``WHEN`` is checked as the row is inserted, so
unmarked rows queue no event at all), and the sealer gathers every column into arrays as it
links the rows, then inserts them with one ``unnest``.

Revision ID: 0012_audit_seal_once
Revises: 0011_audit_sealed_at_commit
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_audit_seal_once"
down_revision = "0011_audit_sealed_at_commit"
branch_labels = None
depends_on = None

SEAL = """
CREATE OR REPLACE FUNCTION audit_log_seal() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_id bigint;
    prev text;
    staged_row audit_log_staged%ROWTYPE;
    n integer := 0;
    staged bigint[] := '{}';
    ats timestamptz[] := '{}';
    actors text[] := '{}';
    actions text[] := '{}';
    entities text[] := '{}';
    entity_ids text[] := '{}';
    client_ids integer[] := '{}';
    datas text[] := '{}';
    request_ids text[] := '{}';
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
        n := n + 1;
        staged := staged || staged_row.id;
        ats := ats || staged_row.at;
        actors := actors || staged_row.actor::text;
        actions := actions || staged_row.action::text;
        entities := entities || staged_row.entity::text;
        entity_ids := entity_ids || staged_row.entity_id::text;
        client_ids := client_ids || staged_row.client_id;
        datas := datas || staged_row.data;
        request_ids := request_ids || staged_row.request_id::text;
        prevs := prevs || prev;
        prev := encode(sha256(
            convert_to(prev, 'UTF8') || staged_row.row_before
            || convert_to((last_id + n)::text, 'UTF8')
            || staged_row.row_after
        ), 'hex');
        hashes := hashes || prev;
    END LOOP;
    INSERT INTO audit_log (id, at, actor, action, entity, entity_id, client_id, data,
                           request_id, prev_hash, hash)
    SELECT last_id + u.n, u.at, u.actor, u.action, u.entity, u.entity_id, u.client_id,
           u.data, u.request_id, u.prev_hash, u.hash
    FROM unnest(ats, actors, actions, entities, entity_ids, client_ids, datas, request_ids,
                prevs, hashes)
         WITH ORDINALITY AS u(at, actor, action, entity, entity_id, client_id, data,
                              request_id, prev_hash, hash, n);
    DELETE FROM audit_log_staged WHERE id = ANY(staged);
    RETURN NULL;
END
$$
"""
TRIGGER = """
CREATE CONSTRAINT TRIGGER audit_log_staged_seal AFTER INSERT ON audit_log_staged
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW {when} EXECUTE FUNCTION audit_log_seal()
"""


def upgrade() -> None:
    op.add_column(
        "audit_log_staged",
        sa.Column("seals", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SEAL)
        op.execute("DROP TRIGGER audit_log_staged_seal ON audit_log_staged")
        op.execute(TRIGGER.format(when="WHEN (NEW.seals)"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_staged_seal ON audit_log_staged")
        op.execute(TRIGGER.format(when=""))  # migration 0011's function is left as it is now
    op.drop_column("audit_log_staged", "seals")
