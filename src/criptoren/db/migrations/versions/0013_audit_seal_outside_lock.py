"""The audit sealer moves its rows before it takes the chain's lock, and never scans the heap.

The chain's lock is held until the commit is visible, so every audited write on the server
waits for the sealer's work of the one before it. Migration 0012's sealer did all of its work
under the lock, and it found its staged rows with ``id >= NEW.id``, which the planner ran as a
sequential scan: ``audit_log_staged`` is nearly always empty and its statistics say so, but
each sealed row leaves a dead tuple behind until a vacuum, so every seal read every row ever
staged since the last one (``bench/api.py`` on PostgreSQL: 8,000 dead rows after a 10 s run;
with autovacuum off, a pgbench of the order insert fell from 1,450 to 177 transactions/s once
47,000 had piled up). The sealer now takes its rows out (``DELETE … RETURNING``, through the
primary key: ``enable_seqscan`` is off inside it) before the lock, and under the lock only
reads the head, hashes and inserts. The order insert's pgbench: 1,500-1,700 → 2,100-2,700
transactions/s with 8 clients on 2 cores.

Revision ID: 0013_audit_seal_outside_lock
Revises: 0012_audit_seal_once
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0013_audit_seal_outside_lock"
down_revision = "0012_audit_seal_once"
branch_labels = None
depends_on = None

SEAL = """
CREATE OR REPLACE FUNCTION audit_log_seal() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $$
DECLARE
    moved audit_log_staged[];
    staged_row audit_log_staged;
    last_id bigint;
    prev text;
    n integer := 0;
    prevs text[] := '{}';
    hashes text[] := '{}';
BEGIN
    WITH gone AS (DELETE FROM audit_log_staged WHERE id >= NEW.id RETURNING *)
    SELECT array_agg(gone ORDER BY gone.id) INTO moved FROM gone;
    IF moved IS NULL THEN  -- an earlier firing of this transaction sealed this row too
        RETURN NULL;
    END IF;
    SELECT head_id, head_hash INTO last_id, prev FROM audit_log_head();
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
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SEAL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        from importlib import import_module

        previous = import_module("criptoren.db.migrations.versions.0012_audit_seal_once")
        op.execute(previous.SEAL)
