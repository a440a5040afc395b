"""Statements behind the notification endpoints: channels, preferences, the deliveries'
listing and the re-queue of a dead one (synchronous, over the request's connection)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.engine import Connection

from criptoren.db.models import Notification, NotificationChannel, NotificationPreference
from criptoren.db.types import utcnow
from criptoren.domain.notifications import ChannelKind, DeliveryStatus, parse_order_events


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """A stored channel, without its secret."""

    id: int
    client_id: int
    kind: ChannelKind
    target: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One delivery as its client sees it."""

    id: int
    event_id: str
    event_type: str
    channel_id: int
    channel_kind: ChannelKind
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


_CHANNEL_COLUMNS = (
    NotificationChannel.id,
    NotificationChannel.client_id,
    NotificationChannel.kind,
    NotificationChannel.target,
    NotificationChannel.created_at,
)


def _channel(row: Any) -> ChannelRow:
    return ChannelRow(row.id, row.client_id, ChannelKind(row.kind), row.target, row.created_at)


def insert_channel(
    connection: Connection, client_id: int, kind: ChannelKind, target: str, secret: str | None
) -> ChannelRow:
    """Store a channel (the secret is kept so deliveries can be signed)."""
    values = {"client_id": client_id, "kind": kind.value, "target": target, "secret": secret}
    statement = insert(NotificationChannel).values(created_at=utcnow(), **values)
    row = connection.execute(statement.returning(*_CHANNEL_COLUMNS)).one()
    return _channel(row)


def list_channels(connection: Connection, client_id: int | None) -> list[ChannelRow]:
    """The active channels of a client (``None``: everyone's), oldest first."""
    query = select(*_CHANNEL_COLUMNS).where(NotificationChannel.deleted_at.is_(None))
    if client_id is not None:
        query = query.where(NotificationChannel.client_id == client_id)
    return [_channel(row) for row in connection.execute(query.order_by(NotificationChannel.id))]


def remove_channel(connection: Connection, channel_id: int, client_id: int | None) -> bool:
    """Retire a channel (its deliveries stay listed; pending ones die on their next turn)."""
    statement = update(NotificationChannel).where(
        NotificationChannel.id == channel_id, NotificationChannel.deleted_at.is_(None)
    )
    if client_id is not None:
        statement = statement.where(NotificationChannel.client_id == client_id)
    return bool(connection.execute(statement.values(deleted_at=utcnow())).rowcount == 1)


def order_events(connection: Connection, client_id: int) -> tuple[str, ...]:
    """The order events that notify the client (the default if never chosen)."""
    query = select(NotificationPreference.order_events).where(
        NotificationPreference.client_id == client_id
    )
    return parse_order_events(connection.execute(query).scalar())


def set_order_events(connection: Connection, client_id: int, events: tuple[str, ...]) -> None:
    """Choose the order events that notify the client (an upsert)."""
    values = {"order_events": ",".join(events), "updated_at": utcnow()}
    changed = connection.execute(
        update(NotificationPreference)
        .where(NotificationPreference.client_id == client_id)
        .values(**values)
    )
    if changed.rowcount == 0:
        connection.execute(insert(NotificationPreference).values(client_id=client_id, **values))


_DELIVERY_COLUMNS = (
    Notification.id,
    Notification.event_id,
    Notification.event_type,
    Notification.channel_id,
    NotificationChannel.kind,
    Notification.status,
    Notification.attempts,
    Notification.last_error,
    Notification.next_attempt_at,
    Notification.delivered_at,
    Notification.created_at,
)


def _delivery(row: Any) -> DeliveryRow:
    status = DeliveryStatus(row.status)
    pending = status is DeliveryStatus.PENDING
    return DeliveryRow(
        row.id,
        row.event_id,
        row.event_type,
        row.channel_id,
        ChannelKind(row.kind),
        status,
        row.attempts,
        row.last_error,
        row.next_attempt_at if pending else None,
        row.delivered_at,
        row.created_at,
    )


def list_deliveries(
    connection: Connection,
    client_id: int | None,
    status: DeliveryStatus | None,
    before: int | None,
    limit: int,
) -> list[DeliveryRow]:
    """Deliveries, newest first; ``before`` (an id) pages back from there."""
    joined = and_(NotificationChannel.id == Notification.channel_id)
    query = select(*_DELIVERY_COLUMNS).join(NotificationChannel, joined)
    if client_id is not None:
        query = query.where(Notification.client_id == client_id)
    if status is not None:
        query = query.where(Notification.status == status.value)
    if before is not None:
        query = query.where(Notification.id < before)
    query = query.order_by(Notification.id.desc()).limit(limit)
    return [_delivery(row) for row in connection.execute(query)]


def get_delivery(
    connection: Connection, delivery_id: int, client_id: int | None
) -> DeliveryRow | None:
    """One delivery of the client (``None``: no such delivery, or someone else's)."""
    query = (
        select(*_DELIVERY_COLUMNS)
        .join(NotificationChannel, NotificationChannel.id == Notification.channel_id)
        .where(Notification.id == delivery_id)
    )
    if client_id is not None:
        query = query.where(Notification.client_id == client_id)
    row = connection.execute(query).first()
    return None if row is None else _delivery(row)


def requeue(connection: Connection, delivery_id: int, client_id: int | None) -> DeliveryRow | None:
    """``dead → pending``, due now, its attempts counted afresh; ``None`` unless it was dead."""
    now = utcnow()
    statement = (
        update(Notification)
        .where(Notification.id == delivery_id, Notification.status == DeliveryStatus.DEAD.value)
        .values(
            status=DeliveryStatus.PENDING.value, attempts=0, next_attempt_at=now, updated_at=now
        )
    )
    if client_id is not None:
        statement = statement.where(Notification.client_id == client_id)
    if connection.execute(statement).rowcount != 1:
        return None
    return get_delivery(connection, delivery_id, client_id)
