"""Wire schemas of notifications: English (``/api/v1/notification-*``, ``/api/v1/notifications``)
and Portuguese (``/canais-notificacao``, ``/preferencias-notificacao``, ``/notificacoes``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from criptoren.api.types import Body, BodyId
from criptoren.db.notifications import ChannelRow, DeliveryRow
from criptoren.domain.notifications import (
    MAX_ADDRESS_LENGTH,
    MAX_URL_LENGTH,
    ChannelKind,
    mask_apprise,
)
from criptoren.services.notifications import ChannelRequest, CreatedChannel

KindText = Literal["webhook", "email", "apprise"]
UrlText = Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH)]
AddressText = Annotated[str, Field(min_length=3, max_length=MAX_ADDRESS_LENGTH)]
OrderEventText = Literal["placed", "triggered", "executed", "failed", "cancelled"]


def _request(kind: str, url: str | None, address: str | None, client: int | None) -> ChannelRequest:
    chosen = ChannelKind(kind)
    if chosen is ChannelKind.EMAIL:
        if address is None or url is not None:
            raise ValueError("an email channel takes an address (and no url)")
        return ChannelRequest(chosen, address, client)
    if url is None or address is not None:
        raise ValueError(f"a {kind} channel takes a url (and no address)")
    return ChannelRequest(chosen, url, client)


class ChannelIn(Body):
    """A channel: ``{"kind":"webhook","url"}``, ``{"kind":"email","address"}`` or
    ``{"kind":"apprise","url"}``."""

    client_id: BodyId | None = None
    kind: KindText
    url: UrlText | None = None
    address: AddressText | None = None

    @model_validator(mode="after")
    def _target(self) -> ChannelIn:
        self.request()
        return self

    def request(self) -> ChannelRequest:
        """The service's request."""
        return _request(self.kind, self.url, self.address, self.client_id)


def _shown(row: ChannelRow) -> tuple[str | None, str | None]:
    """``(url, address)`` fit to show (an apprise URL masked: it may hold tokens)."""
    if row.kind is ChannelKind.EMAIL:
        return None, row.target
    if row.kind is ChannelKind.APPRISE:
        return mask_apprise(row.target), None
    return row.target, None


class ChannelOut(BaseModel):
    """A channel; ``secret`` only in the answer that created a webhook."""

    id: int
    client_id: int
    kind: str
    url: str | None
    address: str | None
    created_at: datetime
    secret: str | None = Field(
        default=None,
        description="The webhook's signing secret: shown once, here, and never again.",
    )


def channel_out(row: ChannelRow, secret: str | None = None) -> ChannelOut:
    """The wire form of a channel."""
    url, address = _shown(row)
    return ChannelOut(
        id=row.id,
        client_id=row.client_id,
        kind=row.kind.value,
        url=url,
        address=address,
        created_at=row.created_at,
        secret=secret,
    )


def created_out(created: CreatedChannel) -> ChannelOut:
    """A channel just created, with its secret."""
    return channel_out(created.channel, created.secret)


class PreferencesIn(Body):
    """The order events that notify the client (any of placed, triggered, executed,
    failed, cancelled; ``[]``: none)."""

    client_id: BodyId | None = None
    order_events: list[OrderEventText] = Field(max_length=5)


class PreferencesOut(BaseModel):
    """The order events that notify the client."""

    order_events: list[str]


class NotificationOut(BaseModel):
    """One delivery of one event to one channel."""

    id: int
    event_id: str
    type: str
    channel_id: int
    channel_kind: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


def notification_out(row: DeliveryRow) -> NotificationOut:
    """The wire form of a delivery."""
    return NotificationOut(
        id=row.id,
        event_id=row.event_id,
        type=row.event_type,
        channel_id=row.channel_id,
        channel_kind=row.channel_kind.value,
        status=row.status.value,
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
    )


# --- Portuguese ------------------------------------------------------------------------


class CanalIn(Body):
    """Um canal: ``{"tipo":"webhook","url"}``, ``{"tipo":"email","endereco"}`` ou
    ``{"tipo":"apprise","url"}``."""

    cliente_id: BodyId | None = None
    tipo: KindText
    url: UrlText | None = None
    endereco: AddressText | None = None

    @model_validator(mode="after")
    def _alvo(self) -> CanalIn:
        self.request()
        return self

    def request(self) -> ChannelRequest:
        """The service's request."""
        return _request(self.tipo, self.url, self.endereco, self.cliente_id)


class CanalOut(BaseModel):
    """Um canal; ``segredo`` só na resposta que criou um webhook."""

    id: int
    cliente_id: int
    tipo: str
    url: str | None
    endereco: str | None
    criado_em: datetime
    segredo: str | None = None


def canal_out(row: ChannelRow, secret: str | None = None) -> CanalOut:
    """The Portuguese wire form of a channel."""
    url, address = _shown(row)
    return CanalOut(
        id=row.id,
        cliente_id=row.client_id,
        tipo=row.kind.value,
        url=url,
        endereco=address,
        criado_em=row.created_at,
        segredo=secret,
    )


class PreferenciasIn(Body):
    """Os eventos de ordem que notificam o cliente."""

    cliente_id: BodyId | None = None
    eventos_ordem: list[OrderEventText] = Field(max_length=5)


class PreferenciasOut(BaseModel):
    """Os eventos de ordem que notificam o cliente."""

    eventos_ordem: list[str]
