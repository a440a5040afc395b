"""Price alerts: ``/api/v1/alerts`` and its Portuguese twin ``/alertas``."""

from __future__ import annotations

from enum import Enum

from fastapi import status

from criptoren.api.alert_schemas import (
    AlertaIn,
    AlertaOut,
    AlertIn,
    AlertOut,
    alert_out,
    alerta_out,
)
from criptoren.api.deps import ContainerDep, PrincipalDep, WorkDep, api_router
from criptoren.api.types import DbId

router = api_router()
V1: list[str | Enum] = ["alerts"]
PT: list[str | Enum] = ["alertas (pt)"]
CREATED = status.HTTP_201_CREATED


@router.post("/api/v1/alerts", status_code=CREATED, tags=V1)
async def create_alert(
    body: AlertIn, work: WorkDep, container: ContainerDep, principal: PrincipalDep
) -> AlertOut:
    """Create a price alert; only trades after now count."""
    return alert_out(await container.alerts.create(work, principal, body.request()))


@router.get("/api/v1/alerts", tags=V1)
async def list_alerts(
    work: WorkDep, container: ContainerDep, principal: PrincipalDep, client_id: DbId | None = None
) -> list[AlertOut]:
    """The caller's alerts (active and triggered)."""
    return [alert_out(a) for a in await container.alerts.list(work, principal, client_id)]


@router.get("/api/v1/alerts/{alert_id}", tags=V1)
async def get_alert(
    alert_id: DbId, work: WorkDep, container: ContainerDep, principal: PrincipalDep
) -> AlertOut:
    """One of the caller's alerts."""
    return alert_out(await container.alerts.get(work, principal, alert_id))


@router.delete("/api/v1/alerts/{alert_id}", tags=V1)
async def delete_alert(
    alert_id: DbId, work: WorkDep, container: ContainerDep, principal: PrincipalDep
) -> AlertOut:
    """Delete an alert: it fires no more."""
    return alert_out(await container.alerts.delete(work, principal, alert_id))


@router.post("/alertas", status_code=CREATED, tags=PT)
async def criar_alerta(
    body: AlertaIn, work: WorkDep, container: ContainerDep, principal: PrincipalDep
) -> AlertaOut:
    """Criar um alerta de preço; só contam as negociações a partir de agora."""
    return alerta_out(await container.alerts.create(work, principal, body.request()))


@router.get("/alertas", tags=PT)
async def listar_alertas(
    work: WorkDep, container: ContainerDep, principal: PrincipalDep, cliente_id: DbId | None = None
) -> list[AlertaOut]:
    """Os alertas do cliente (ativos e disparados)."""
    return [alerta_out(a) for a in await container.alerts.list(work, principal, cliente_id)]


@router.get("/alertas/{alerta_id}", tags=PT)
async def obter_alerta(
    alerta_id: DbId, work: WorkDep, container: ContainerDep, principal: PrincipalDep
) -> AlertaOut:
    """Um alerta do cliente."""
    return alerta_out(await container.alerts.get(work, principal, alerta_id))


@router.delete("/alertas/{alerta_id}", tags=PT)
async def remover_alerta(
    alerta_id: DbId, work: WorkDep, container: ContainerDep, principal: PrincipalDep
) -> AlertaOut:
    """Remover um alerta: não dispara mais."""
    return alerta_out(await container.alerts.delete(work, principal, alerta_id))
