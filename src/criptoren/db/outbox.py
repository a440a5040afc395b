"""The notification outbox: rows written in the transaction of the event that causes them,
then claimed, delivered and settled by the worker.

Every function is synchronous over a ``Connection`` (the caller's transaction), like the
ledger. :func:`enqueue` is the public way in for any event (an alert firing); order
events go through :func:`enqueue_order_events`, which honours each client's preferences.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Integer,
    String,
    Text,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import BindParameter, Label

from criptoren.db.models import Notification, NotificationChannel, NotificationPreference
from criptoren.db.types import utcnow
from criptoren.domain.notifications import (
    ChannelKind,
    Delivery,
    DeliveryStatus,
    event_body,
    order_event_type,
    parse_order_events,
)


@dataclass(frozen=True, slots=True)
class OrderNotice:
    """An order event to notify its client of, if the client chose that event."""

    client_id: int
    kind: str
    """``placed``, ``triggered``, ``executed``, ``failed`` or ``cancelled``."""
    data: Mapping[str, Any]


_ROW_ARRAYS: dict[str, ARRAY[Any]] = {
    "event_id": ARRAY(String()),
    "client_id": ARRAY(Integer()),
    "channel_id": ARRAY(Integer()),
    "event_type": ARRAY(String()),
    "body": ARRAY(Text()),
    "status": ARRAY(String()),
    "attempts": ARRAY(Integer()),
    "next_attempt_at": ARRAY(DateTime(timezone=True)),
    "created_at": ARRAY(DateTime(timezone=True)),
    "updated_at": ARRAY(DateTime(timezone=True)),
}
# PostgreSQL: one array per column, unnested into rows: one statement for any batch
_INSERT_PG = insert(Notification).from_select(
    list(_ROW_ARRAYS),
    select(*(func.unnest(bindparam(name, type_=t)) for name, t in _ROW_ARRAYS.items())),
)
_INSERT = insert(Notification)
_CHANNEL_COLUMNS = (
    NotificationChannel.id,
    NotificationChannel.client_id,
    NotificationPreference.order_events,
)


def _postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def _clients_among(postgres: bool) -> ColumnElement[bool]:
    # one parameter: one compiled statement for every batch size (an expanding IN list is
    # compiled again for each call: ≈ 80 µs of a placement's CPU on SQLite)
    if postgres:
        ids = bindparam("client_ids", type_=ARRAY(Integer()))
        return NotificationChannel.client_id == func.any(ids)
    listed = func.json_each(bindparam("client_ids", type_=JSON())).table_valued("value")
    return NotificationChannel.client_id.in_(select(listed.c.value))


ACTIVE_CHANNEL = NotificationChannel.deleted_at.is_(None)
_CHANNELS = {
    postgres: select(*_CHANNEL_COLUMNS)
    .outerjoin(
        NotificationPreference,
        NotificationPreference.client_id == NotificationChannel.client_id,
    )
    .where(_clients_among(postgres), ACTIVE_CHANNEL)
    .order_by(NotificationChannel.id)
    for postgres in (False, True)
}


Chosen = dict[int, tuple[list[int], tuple[str, ...]]]
"""Client id → its active channel ids and the order events it chose."""


def channel_columns(client_id: BindParameter[int], postgres: bool) -> tuple[Label[Any], Label[Any]]:
    """A client's active channel ids (PostgreSQL: an array; SQLite: comma-separated text;
    ``NULL`` for none) and its stored order-event choice, as two columns any statement can
    return: a write that returns them needs no lookup of its own (:func:`chosen_of`)."""
    listed = func.array_agg if postgres else func.group_concat
    channels = (
        select(listed(NotificationChannel.id))
        .where(NotificationChannel.client_id == client_id, ACTIVE_CHANNEL)
        .scalar_subquery()
    )
    events = (
        select(NotificationPreference.order_events)
        .where(NotificationPreference.client_id == client_id)
        .scalar_subquery()
    )
    return channels.label("channel_ids"), events.label("order_events")


def chosen_of(client_id: int, channel_ids: list[int] | str | None, stored: str | None) -> Chosen:
    """What :func:`order_channels` says of one client, from :func:`channel_columns`."""
    if not channel_ids:
        return {}
    listed = channel_ids.split(",") if isinstance(channel_ids, str) else channel_ids
    return {client_id: (sorted(int(i) for i in listed), parse_order_events(stored))}


def order_channels(connection: Connection, client_ids: Iterable[int]) -> Chosen:
    """Each client's active channels and chosen order events (clients without any: absent)."""
    params = {"client_ids": sorted(client_ids)}
    rows = connection.execute(_CHANNELS[_postgres(connection)], params)
    found: Chosen = {}
    for channel_id, client_id, stored in rows:
        channels, _ = found.setdefault(client_id, ([], parse_order_events(stored)))
        channels.append(channel_id)
    return found


def _rows(
    client_id: int,
    channels: Sequence[int],
    event_type: str,
    data: Mapping[str, Any],
    event_id: str,
    now: datetime,
) -> list[dict[str, Any]]:
    body = event_body(event_id, event_type, now, data)
    common = {"event_id": event_id, "client_id": client_id, "event_type": event_type}
    common |= {"body": body, "status": DeliveryStatus.PENDING.value, "attempts": 0}
    common |= {"next_attempt_at": now, "created_at": now, "updated_at": now}
    return [common | {"channel_id": channel_id} for channel_id in channels]


class _Tally:
    """How many outbox inserts this process has made (a lock: the SQLite writer thread and
    the event loop both insert)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def bump(self) -> None:
        with self._lock:
            self.value += 1


_TALLY = _Tally()


def queued_so_far() -> int:
    """A number that changes whenever this process writes rows to the outbox (committed or
    not yet): the worker looks at the outbox after an order event only when it moved."""
    return _TALLY.value


def _insert(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    _TALLY.bump()
    if _postgres(connection) and len(rows) > 1:
        connection.execute(_INSERT_PG, {name: [row[name] for row in rows] for name in _ROW_ARRAYS})
    else:
        connection.execute(_INSERT, [dict(row) for row in rows])


def enqueue(
    connection: Connection,
    *,
    client_id: int,
    event_type: str,
    data: Mapping[str, Any],
    event_id: str | None = None,
) -> int:
    """Queue one event for every active channel of the client, in the caller's transaction.

    ``data`` may hold decimals (sent as exact strings) and datetimes. ``event_id`` (a
    new UUID if ``None``) is the ``X-Criptoren-Event-Id`` of every attempt. Returns how
    many deliveries were queued (0: the client has no channel; the stream is not one).
    """
    channels = order_channels(connection, [client_id]).get(client_id)
    if channels is None:
        return 0
    rows = _rows(client_id, channels[0], event_type, data, event_id or str(uuid.uuid4()), utcnow())
    _insert(connection, rows)
    return len(rows)


def enqueue_order_events(
    connection: Connection, notices: Sequence[OrderNotice], chosen: Chosen | None = None
) -> int:
    """Queue the order events each client chose, for each of its channels: one lookup (none
    when the caller already has ``chosen``, see :func:`channel_columns`) and one insert for
    the whole batch. Returns how many deliveries were queued."""
    if not notices:
        return 0
    if chosen is None:
        chosen = order_channels(connection, {n.client_id for n in notices})
    return insert_notices(connection, chosen, notices) if chosen else 0


def insert_notices(connection: Connection, chosen: Chosen, notices: Sequence[OrderNotice]) -> int:
    """Queue each notice its client chose (per :func:`order_channels`), one event id each,
    for every channel of the client, in one insert."""
    now, rows = utcnow(), []
    for notice in notices:
        channels, events = chosen.get(notice.client_id, ([], ()))
        if channels and notice.kind in events:
            event_type, event_id = order_event_type(notice.kind), str(uuid.uuid4())
            rows += _rows(notice.client_id, channels, event_type, notice.data, event_id, now)
    _insert(connection, rows)
    return len(rows)


# --- the worker's side -------------------------------------------------------------

_DUE = (
    select(Notification.id)
    .where(
        Notification.status == DeliveryStatus.PENDING.value,
        Notification.next_attempt_at <= bindparam("now"),
    )
    .order_by(Notification.next_attempt_at, Notification.id)
    .limit(bindparam("limit"))
)
_CLAIM = {
    # PostgreSQL: rows another worker is claiming are skipped, never waited for or shared
    postgres: update(Notification)
    .where(Notification.id.in_(_DUE.with_for_update(skip_locked=True) if postgres else _DUE))
    .values(
        attempts=Notification.attempts + 1,
        next_attempt_at=bindparam("lease_end"),
        updated_at=bindparam("now"),
    )
    .returning(
        Notification.id,
        Notification.event_id,
        Notification.event_type,
        Notification.body,
        Notification.attempts,
        Notification.channel_id,
    )
    for postgres in (False, True)
}
_CHANNEL_TARGETS = select(
    NotificationChannel.id,
    NotificationChannel.kind,
    NotificationChannel.target,
    NotificationChannel.secret,
    NotificationChannel.deleted_at,
).where(NotificationChannel.id.in_(bindparam("ids", expanding=True)))
_SETTLE = (
    update(Notification)
    .where(
        Notification.id == bindparam("delivery_id"),
        Notification.attempts == bindparam("attempt"),
        Notification.status == DeliveryStatus.PENDING.value,
    )
    .values(
        status=bindparam("new_status"),
        next_attempt_at=bindparam("next_at"),
        last_error=bindparam("error"),
        delivered_at=bindparam("delivered"),
        updated_at=bindparam("now"),
    )
)
_PENDING = select(func.min(Notification.next_attempt_at), func.count()).where(
    Notification.status == DeliveryStatus.PENDING.value
)


def claim_due(connection: Connection, limit: int, lease_seconds: float) -> list[Delivery]:
    """Take up to ``limit`` due deliveries for one attempt each (compare-and-set, in the
    caller's transaction).

    A claimed row is hidden until ``lease_seconds`` pass: if the process dies while
    delivering, the row is due again then (at least once per attempt, never lost).
    """
    now = utcnow()
    params = {"now": now, "limit": limit, "lease_end": now + timedelta(seconds=lease_seconds)}
    claimed = connection.execute(_CLAIM[_postgres(connection)], params).all()
    if not claimed:
        return []
    ids = sorted({row.channel_id for row in claimed})
    channels = {row.id: row for row in connection.execute(_CHANNEL_TARGETS, {"ids": ids})}
    deliveries = []
    for row in sorted(claimed, key=lambda r: r.id):
        channel = channels[row.channel_id]
        deliveries.append(
            Delivery(
                row.id,
                row.event_id,
                row.event_type,
                row.body,
                row.attempts,
                ChannelKind(channel.kind),
                channel.target,
                channel.secret,
                channel.deleted_at is not None,
            )
        )
    return deliveries


class Outcome(NamedTuple):
    """An attempt's result: delivered (``error`` is ``None``), due again at ``retry_at``, or
    dead (an error and no ``retry_at``)."""

    delivery: Delivery
    error: str | None
    retry_at: datetime | None


def settle_many(connection: Connection, outcomes: Sequence[Outcome]) -> None:
    """Record attempts (one statement, executed for each); an attempt whose claim was lost
    (a newer attempt of the same row) changes nothing."""
    if not outcomes:
        return
    now = utcnow()
    connection.execute(_SETTLE, [_settled(outcome, now) for outcome in outcomes])


def _settled(outcome: Outcome, now: datetime) -> dict[str, Any]:
    delivery, error, retry_at = outcome
    status = DeliveryStatus.DELIVERED if error is None else DeliveryStatus.PENDING
    if error is not None and retry_at is None:
        status = DeliveryStatus.DEAD
    return {
        "delivery_id": delivery.id,
        "attempt": delivery.attempts,
        "new_status": status.value,
        "next_at": retry_at or now,
        "error": error,
        "delivered": now if error is None else None,
        "now": now,
    }


def pending(connection: Connection) -> tuple[datetime | None, int]:
    """When the earliest pending delivery is due (``None``: nothing pending), and how many
    deliveries are pending (the backlog)."""
    value, count = connection.execute(_PENDING).one()
    if isinstance(value, str):  # SQLite's MIN() loses the column type
        value = datetime.fromisoformat(value).replace(tzinfo=utcnow().tzinfo)
    return (value if isinstance(value, datetime) else None), int(count)
