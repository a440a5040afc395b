"""The rate limit's buckets in PostgreSQL: one statement leases tokens (no lock held)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from functools import partial

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from criptoren.services.rate_limit import Lease

# EXCLUDED holds this lease's inputs: tokens = burst - want, granted = want, refilled_at =
# now. "avail" is the bucket refilled to now, capped at the burst: LEAST(EXCLUDED.tokens +
# EXCLUDED.granted, b.tokens + elapsed * rate); the update grants LEAST(want, FLOOR(avail)).
LEASE = text("""
INSERT INTO rate_limit_buckets AS b (client_id, tokens, refilled_at, granted)
VALUES (CAST(:client_id AS integer), CAST(:burst AS float8) - CAST(:want AS integer),
        CAST(:now AS float8), CAST(:want AS integer))
ON CONFLICT (client_id) DO UPDATE SET
  granted = CAST(LEAST(EXCLUDED.granted, FLOOR(LEAST(EXCLUDED.tokens + EXCLUDED.granted,
    b.tokens + GREATEST(EXCLUDED.refilled_at - b.refilled_at, 0) * CAST(:rate AS float8))))
    AS integer),
  tokens = LEAST(EXCLUDED.tokens + EXCLUDED.granted,
    b.tokens + GREATEST(EXCLUDED.refilled_at - b.refilled_at, 0) * CAST(:rate AS float8))
    - LEAST(EXCLUDED.granted, FLOOR(LEAST(EXCLUDED.tokens + EXCLUDED.granted,
    b.tokens + GREATEST(EXCLUDED.refilled_at - b.refilled_at, 0) * CAST(:rate AS float8)))),
  refilled_at = GREATEST(EXCLUDED.refilled_at, b.refilled_at)
RETURNING granted, tokens
""")


def lease_tokens(
    connection: Connection, client_id: int, want: int, rate: float, burst: float, now: float
) -> Lease:
    """Refill ``client_id``'s bucket to ``now`` and take up to ``want`` whole tokens."""
    params = {"client_id": client_id, "want": want, "rate": rate, "burst": burst, "now": now}
    granted, tokens = connection.execute(LEASE, params).one()
    return Lease(int(granted), 0.0 if granted else (1 - float(tokens)) / rate)


class DatabaseBuckets:
    """Buckets every API worker shares (any number of hosts), on the wall clock (NTP).

    One connection kept in autocommit, leases one at a time: the statement is its own
    transaction, so a lease is one network round trip (no pool checkout, ping, BEGIN or
    COMMIT). A connection that failed is dropped and the next lease opens a new one.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._connection: AsyncConnection | None = None
        self._lock = asyncio.Lock()

    async def lease(self, client_id: int, want: int, rate: float, burst: float) -> Lease:
        """One round trip: refill, take, and tell how long a dry bucket needs."""
        work = partial(
            lease_tokens, client_id=client_id, want=want, rate=rate, burst=burst, now=time.time()
        )
        async with self._lock:
            connection = self._connection or await self._engine.connect()
            self._connection = connection
            try:
                return await connection.run_sync(work)
            except Exception:
                self._connection = None
                with contextlib.suppress(Exception):
                    await connection.close()
                raise

    async def aclose(self) -> None:
        """Close the kept connection."""
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
