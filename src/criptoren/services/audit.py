"""Reading the audit trail: a client sees the rows about itself, the admin every row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from criptoren.db.audit import read_records
from criptoren.db.audit_sealer import AuditSealer
from criptoren.domain.audit import AuditRecord
from criptoren.errors import InvalidInput
from criptoren.services.auth import Principal
from criptoren.services.unit_of_work import UnitOfWork

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters and the page asked for (``cursor``: the last id already seen)."""

    entity: str | None = None
    action: str | None = None
    since: datetime | None = None
    limit: int = 100
    cursor: int = 0
    client_id: int | None = None


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Rows in id order and the cursor of the next page (``None``: this was the last)."""

    records: list[AuditRecord]
    next_cursor: int | None


class AuditService:
    """Lists the audit trail within the caller's scope."""

    def __init__(self, sealer: AuditSealer | None = None) -> None:
        self.sealer = sealer

    async def list(self, work: UnitOfWork, principal: Principal, query: AuditQuery) -> AuditPage:
        """A page of the rows the caller may see: a client, those whose ``client_id`` is its."""
        if not 1 <= query.limit <= MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
        if query.since is not None and query.since.tzinfo is None:
            raise InvalidInput("since needs a time zone (e.g. 2026-11-30T18:00:00Z)")
        read = partial(
            read_records,
            after_id=query.cursor,
            client_id=principal.scope(query.client_id),
            entity=query.entity,
            action=query.action,
            since=query.since,
            limit=query.limit + 1,
        )
        if self.sealer is not None:  # PostgreSQL: every committed row linked, then read
            await self.sealer.seal()
        records = await work.read(read)
        more = len(records) > query.limit
        records = records[: query.limit]
        return AuditPage(records, records[-1].id if more else None)
