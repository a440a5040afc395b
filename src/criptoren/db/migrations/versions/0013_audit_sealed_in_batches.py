"""PostgreSQL links staged audit rows in batches, after their commits, not in each commit.

Sealing in the commit (migrations 0011 and 0012) cost every audited write a deferred trigger,
the chain's lock, the head, the hashing and the insert into ``audit_log``, under a lock
held until the commit is visible. pgbench of the order insert with its staged row, 8
clients on the 2-core machine: 358 µs of the server's CPU per transaction without the
trigger, 509 with a trigger that does nothing, 830 with the sealer. Now a write only stages
its rows; ``audit_log_seal_staged()`` takes the chain's lock first, then links every
committed staged row, oldest id first, in one transaction: each process runs it a moment
after it staged rows (``db.audit_sealer.AuditSealer``), every second anyway (rows a stopped
process left behind), as it shuts down, and before the trail is read or exported. The lock
first: a sealer sees every row committed before it, so nothing done to an order can be
linked ahead of its placement. ``bench/api.py``'s ``posicionar-compra`` on PostgreSQL: the
server's CPU per request ≈ 1,000 → 650 µs, 740 → 850 req/s; ``bench/burst.py`` PostgreSQL
4,043-4,197 → 5,202-9,075 fills/s (same machine, same hour).

The function scans ``audit_log_staged`` through its primary key (``id > 0``, with
``enable_seqscan`` off): a sequential scan would read every dead row left since the last
vacuum at each call; ``jit`` is off too (a plan given the disabled scan's cost got compiled
at every call: ≈ 1,300 µs of the server's CPU per request).

Revision ID: 0013_audit_sealed_in_batches
Revises: 0012_audit_seal_once
Create Date: 2026-12-02
"""

from __future__ import annotations

from importlib import import_module

import sqlalchemy as sa
from alembic import op

revision = "0013_audit_sealed_in_batches"
down_revision = "0012_audit_seal_once"
branch_labels = None
depends_on = None

SEAL_STAGED = """
CREATE FUNCTION audit_log_seal_staged() RETURNS integer LANGUAGE plpgsql
SET enable_seqscan = off SET jit = off AS $$
DECLARE
    moved audit_log_staged[];
    staged_row audit_log_staged;
    last_id bigint;
    prev text;
    n integer := 0;
    prevs text[] := '{}';
    hashes text[] := '{}';
BEGIN
    -- the lock first: a sealer then sees every row committed before it, oldest id first, so
    -- the trail lists an order's placement before anything a later transaction did to it
    SELECT head_id, head_hash INTO last_id, prev FROM audit_log_head();
    -- through the primary key (every id is > 0): a sequential scan would read every dead
    -- row left since the last vacuum, each time
    WITH gone AS (DELETE FROM audit_log_staged WHERE id > 0 RETURNING *)
    SELECT array_agg(gone ORDER BY gone.id) INTO moved FROM gone;
    IF moved IS NULL THEN
        RETURN 0;
    END IF;
    last_id := coalesce(last_id, 0);
    prev := coalesce(prev, repeat('0', 64));
    FOREACH staged_row IN ARRAY moved LOOP
        n := n + 1;
        prevs := prevs || prev;
        prev := encode(sha256(
            convert_to(prev, 'UTF8') || staged_row.row_before
            || convert_to((last_id + n)::text, 'UTF8')
            || staged_row.row_after
        ), 'hex');
        hashes := hashes || prev;
    END LOOP;
    -- set-returning functions in a select list run in lockstep: row i with its hashes
    INSERT INTO audit_log (id, at, actor, action, entity, entity_id, client_id, data,
                           request_id, prev_hash, hash)
    SELECT last_id + s.i, (s.r).at, (s.r).actor, (s.r).action, (s.r).entity, (s.r).entity_id,
           (s.r).client_id, (s.r).data, (s.r).request_id, s.prev_hash, s.hash
    FROM (SELECT unnest(moved) AS r, unnest(prevs) AS prev_hash, unnest(hashes) AS hash,
                 generate_series(1, n) AS i OFFSET 0) AS s;
    RETURN n;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_staged_seal ON audit_log_staged")
        op.execute("DROP FUNCTION audit_log_seal()")
    op.drop_column("audit_log_staged", "seals")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SEAL_STAGED)


def downgrade() -> None:
    op.add_column(
        "audit_log_staged",
        sa.Column("seals", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    if op.get_bind().dialect.name == "postgresql":
        versions = "criptoren.db.migrations.versions"
        previous = import_module(f"{versions}.0012_audit_seal_once")
        op.execute("DROP FUNCTION audit_log_seal_staged()")
        op.execute(previous.SEAL)
        op.execute(previous.TRIGGER.format(when="WHEN (NEW.seals)"))
