"""The audit trail: ``GET /api/v1/audit`` and its Portuguese twin ``/auditoria``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel

from criptoren.api.deps import ContainerDep, PrincipalDep, WorkDep, api_router
from criptoren.api.types import DbId
from criptoren.domain.audit import AuditRecord, shown
from criptoren.services.audit import AuditQuery

router = api_router(tags=["audit"])
Name = Annotated[str | None, Query(max_length=40)]
MAX_ID = 2**63 - 1  # audit ids are BIGINT


class AuditRowOut(BaseModel):
    """One row of the trail, with the hashes that chain it."""

    id: int
    at: str
    actor: str
    action: str
    entity: str
    entity_id: str | None
    client_id: int | None
    data: dict[str, Any]
    request_id: str | None
    prev_hash: str
    hash: str


class AuditPageOut(BaseModel):
    """A page of rows; pass ``next_cursor`` as ``cursor`` for the next (``null``: the last)."""

    items: list[AuditRowOut]
    next_cursor: int | None


def _row(record: AuditRecord) -> AuditRowOut:
    return AuditRowOut(**shown(record))


@router.get("/api/v1/audit")
@router.get("/auditoria", tags=["original (pt)"])
async def list_audit(
    work: WorkDep,
    container: ContainerDep,
    principal: PrincipalDep,
    entity: Name = None,
    action: Name = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    client_id: DbId | None = None,
) -> AuditPageOut:
    """Audit rows in id order: a client's own (``client_id`` is its), the admin's choice."""
    query = AuditQuery(entity, action, since, limit, cursor, client_id)
    page = await container.audit.list(work, principal, query)
    return AuditPageOut(items=[_row(r) for r in page.records], next_cursor=page.next_cursor)
