"""Notifications: channels, order-event preferences and deliveries, under ``/api/v1`` and
their Portuguese twins (``/canais-notificacao``, ``/preferencias-notificacao``,
``/notificacoes``)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import Query, Response, status

from criptoren.api.deps import ContainerDep, PrincipalDep, WorkDep, api_router
from criptoren.api.notification_schemas import (
    CanalIn,
    CanalOut,
    ChannelIn,
    ChannelOut,
    NotificationOut,
    PreferencesIn,
    PreferencesOut,
    PreferenciasIn,
    PreferenciasOut,
    canal_out,
    channel_out,
    created_out,
    notification_out,
)
from criptoren.api.types import DbId
from criptoren.domain.notifications import DeliveryStatus

router = api_router()
V1: list[str | Enum] = ["notifications"]
PT: list[str | Enum] = ["notificações (pt)"]
CREATED = status.HTTP_201_CREATED
NO_CONTENT = status.HTTP_204_NO_CONTENT


@router.post("/api/v1/notification-channels", status_code=CREATED, tags=V1)
async def create_channel(
    body: ChannelIn, work: WorkDep, container: ContainerDep, principal: PrincipalDep
) -> ChannelOut:
    """Add a channel; a webhook's signing secret is in this answer only."""
    return created_out(await container.notifications.add_channel(work, principal, body.request()))


@router.get("/api/v1/notification-channels", tags=V1)
async def list_channels(
    work: WorkDep, container: ContainerDep, principal: PrincipalDep, client_id: DbId | None = None
) -> list[ChannelOut]:
    """The caller's channels (no secrets; apprise URLs masked)."""
    rows = await container.notifications.channels(work, principal, client_id)
    return [channel_out(row) for row in rows]


@router.delete("/api/v1/notification-channels/{channel_id}", status_code=NO_CONTENT, tags=V1)
async def delete_channel(
    channel_id: DbId, work: WorkDep, container: ContainerDep, principal: PrincipalDep
) -> Response:
    """Remove a channel (404 if it is not the caller's)."""
    await container.notifications.remove_channel(work, principal, channel_id)
    return Response(status_code=NO_CONTENT)


@router.get("/api/v1/notification-preferences", tags=V1)
async def get_preferences(
    work: WorkDep, container: ContainerDep, principal: PrincipalDep, client_id: DbId | None = None
) -> PreferencesOut:
    """The order events that notify the caller (default: executed, failed)."""
    events = await container.notifications.order_events(work, principal, client_id)
    return PreferencesOut(order_events=list(events))


@router.put("/api/v1/notification-preferences", tags=V1)
async def put_preferences(
    body: PreferencesIn, work: WorkDep, container: ContainerDep, principal: PrincipalDep
) -> PreferencesOut:
    """Choose the order events that notify the caller."""
    service = container.notifications
    events = await service.choose_order_events(work, principal, body.order_events, body.client_id)
    return PreferencesOut(order_events=list(events))


@router.get("/api/v1/notifications", tags=V1)
async def list_notifications(
    work: WorkDep,
    container: ContainerDep,
    principal: PrincipalDep,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    before: DbId | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    client_id: DbId | None = None,
) -> list[NotificationOut]:
    """The caller's deliveries, newest first; ``before=<id>`` pages back."""
    rows = await container.notifications.deliveries(
        work, principal, status=status_, before=before, limit=limit, client_id=client_id
    )
    return [notification_out(row) for row in rows]


@router.post("/api/v1/notifications/{notification_id}/retry", tags=V1)
async def retry_notification(
    notification_id: DbId, work: WorkDep, container: ContainerDep, principal: PrincipalDep
) -> NotificationOut:
    """Queue a dead delivery again (409 unless dead)."""
    return notification_out(await container.notifications.retry(work, principal, notification_id))


@router.post("/canais-notificacao", status_code=CREATED, tags=PT)
async def criar_canal(
    body: CanalIn, work: WorkDep, container: ContainerDep, principal: PrincipalDep
) -> CanalOut:
    """Cadastrar um canal; o segredo de um webhook aparece só nesta resposta."""
    created = await container.notifications.add_channel(work, principal, body.request())
    return canal_out(created.channel, created.secret)


@router.get("/canais-notificacao", tags=PT)
async def listar_canais(
    work: WorkDep, container: ContainerDep, principal: PrincipalDep, cliente_id: DbId | None = None
) -> list[CanalOut]:
    """Os canais do cliente (sem segredos)."""
    rows = await container.notifications.channels(work, principal, cliente_id)
    return [canal_out(row) for row in rows]


@router.delete("/canais-notificacao/{canal_id}", status_code=NO_CONTENT, tags=PT)
async def remover_canal(
    canal_id: DbId, work: WorkDep, container: ContainerDep, principal: PrincipalDep
) -> Response:
    """Remover um canal."""
    await container.notifications.remove_channel(work, principal, canal_id)
    return Response(status_code=NO_CONTENT)


@router.get("/preferencias-notificacao", tags=PT)
async def obter_preferencias(
    work: WorkDep, container: ContainerDep, principal: PrincipalDep, cliente_id: DbId | None = None
) -> PreferenciasOut:
    """Os eventos de ordem que notificam o cliente."""
    events = await container.notifications.order_events(work, principal, cliente_id)
    return PreferenciasOut(eventos_ordem=list(events))


@router.put("/preferencias-notificacao", tags=PT)
async def definir_preferencias(
    body: PreferenciasIn, work: WorkDep, container: ContainerDep, principal: PrincipalDep
) -> PreferenciasOut:
    """Escolher os eventos de ordem que notificam o cliente."""
    service = container.notifications
    events = await service.choose_order_events(work, principal, body.eventos_ordem, body.cliente_id)
    return PreferenciasOut(eventos_ordem=list(events))


@router.get("/notificacoes", tags=PT)
async def listar_notificacoes(
    work: WorkDep,
    container: ContainerDep,
    principal: PrincipalDep,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    antes: DbId | None = None,
    limite: Annotated[int, Query(ge=1, le=500)] = 100,
    cliente_id: DbId | None = None,
) -> list[NotificationOut]:
    """As entregas do cliente, da mais recente para a mais antiga."""
    rows = await container.notifications.deliveries(
        work, principal, status=status_, before=antes, limit=limite, client_id=cliente_id
    )
    return [notification_out(row) for row in rows]


@router.post("/notificacoes/{notificacao_id}/reenviar", tags=PT)
async def reenviar_notificacao(
    notificacao_id: DbId, work: WorkDep, container: ContainerDep, principal: PrincipalDep
) -> NotificationOut:
    """Recolocar na fila uma entrega morta."""
    return notification_out(await container.notifications.retry(work, principal, notificacao_id))
