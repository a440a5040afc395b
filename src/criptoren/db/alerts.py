"""Alerts and their firings (Core statements on a Connection; the caller owns the transaction)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection

from criptoren.db import audit, outbox
from criptoren.db.models import AlertEvent, AlertRow
from criptoren.db.types import utcnow
from criptoren.domain.alerts import AlertStatus, StoredAlert
from criptoren.domain.audit import ENGINE, AuditEntry
from criptoren.domain.money import QUANTUM
from criptoren.domain.notifications import ALERT_TRIGGERED

AlertRecord = StoredAlert


@dataclass(frozen=True, slots=True)
class AlertFiring:
    """One alert fired by one trade, as the engine saw it."""

    alert_id: int
    client_id: int
    symbol: str
    trade_price: Decimal
    agg_trade_id: int
    trade_time_ms: int
    cooldown_ms: int | None
    """``None``: a one-shot alert (it becomes ``triggered``)."""


ALERT_COLUMNS = tuple(getattr(AlertRow, name) for name in AlertRecord.__dataclass_fields__)
_SELECT = select(*ALERT_COLUMNS)
_INSERT = insert(AlertRow).returning(*ALERT_COLUMNS)
_FIRE = (
    update(AlertRow)
    .where(
        AlertRow.id == bindparam("alert_id"),
        AlertRow.status == AlertStatus.ACTIVE.value,
        or_(
            AlertRow.last_fired_ms.is_(None),
            AlertRow.last_fired_ms + bindparam("cooldown_ms") <= bindparam("time_ms"),
        ),
    )
    .values(
        status=bindparam("new_status"),
        fire_count=AlertRow.fire_count + 1,
        last_fired_at=bindparam("fired_at"),
        last_fired_ms=bindparam("time_ms"),
        updated_at=bindparam("now"),
    )
)
_INSERT_EVENT = insert(AlertEvent).returning(AlertEvent.id)


def insert_alert(connection: Connection, values: Mapping[str, Any]) -> AlertRecord:
    """Store a new alert."""
    return AlertRecord(*connection.execute(_INSERT, dict(values)).one())


def get_alert(connection: Connection, alert_id: int) -> AlertRecord | None:
    """An alert by id (any status)."""
    row = connection.execute(_SELECT.where(AlertRow.id == alert_id)).first()
    return None if row is None else AlertRecord(*row)


def list_alerts(connection: Connection, client_id: int | None) -> list[AlertRecord]:
    """A client's alerts (every client's when ``None``), deleted ones left out, oldest first."""
    query = _SELECT.where(AlertRow.status != AlertStatus.DELETED.value).order_by(AlertRow.id)
    if client_id is not None:
        query = query.where(AlertRow.client_id == client_id)
    return [AlertRecord(*row) for row in connection.execute(query)]


def active_alerts(connection: Connection) -> list[AlertRecord]:
    """Every alert the engine must watch (start-up rebuild)."""
    query = _SELECT.where(AlertRow.status == AlertStatus.ACTIVE.value).order_by(AlertRow.id)
    return [AlertRecord(*row) for row in connection.execute(query)]


def alerts_by_id(connection: Connection, ids: Sequence[int]) -> list[AlertRecord]:
    """The alerts of ``ids`` (any status), by id."""
    query = _SELECT.where(AlertRow.id.in_(ids)).order_by(AlertRow.id)
    return [AlertRecord(*row) for row in connection.execute(query)]


def alerts_changed(connection: Connection, since: datetime) -> list[AlertRecord]:
    """The alerts created, fired or deleted after ``since`` (a catch-up), by id."""
    query = _SELECT.where(AlertRow.updated_at > since).order_by(AlertRow.id)
    return [AlertRecord(*row) for row in connection.execute(query)]


def delete_alert(connection: Connection, alert_id: int) -> AlertRecord | None:
    """``active|triggered → deleted``; ``None`` when it already was deleted."""
    statement = (
        update(AlertRow)
        .where(AlertRow.id == alert_id, AlertRow.status != AlertStatus.DELETED.value)
        .values(status=AlertStatus.DELETED.value, updated_at=utcnow())
        .returning(*ALERT_COLUMNS)
    )
    row = connection.execute(statement).first()
    return None if row is None else AlertRecord(*row)


def record_firing(connection: Connection, firing: AlertFiring) -> int | None:
    """Record one firing in the caller's transaction: the alert's status, count and last
    firing, and its ``alert_events`` row. Returns the event id, or ``None`` when the alert
    is no longer active (deleted meanwhile) or the trade is within its cooldown (a replay).

    Its ``alert.triggered`` notification is queued in the outbox here, in the same
    transaction: it commits with the firing or not at all.
    """
    one_shot = firing.cooldown_ms is None
    params = {
        "alert_id": firing.alert_id,
        "cooldown_ms": firing.cooldown_ms or 0,
        "time_ms": firing.trade_time_ms,
        "new_status": (AlertStatus.TRIGGERED if one_shot else AlertStatus.ACTIVE).value,
        "fired_at": datetime.fromtimestamp(firing.trade_time_ms / 1000, UTC),
        "now": utcnow(),
    }
    if getattr(connection.execute(_FIRE, params), "rowcount", 0) != 1:
        return None
    event = {
        "alert_id": firing.alert_id,
        "client_id": firing.client_id,
        "symbol": firing.symbol,
        "trade_price": firing.trade_price,
        "agg_trade_id": firing.agg_trade_id,
        "trade_time_ms": firing.trade_time_ms,
        "created_at": params["now"],
    }
    event_id = int(connection.execute(_INSERT_EVENT, event).scalar_one())
    data = firing_data(firing, event_id)
    outbox.enqueue(connection, client_id=firing.client_id, event_type=ALERT_TRIGGERED, data=data)
    return event_id


def firing_data(firing: AlertFiring, event_id: int) -> dict[str, Any]:
    """What a notification and the audit trail say of a firing."""
    return {
        "alert_id": firing.alert_id,
        "symbol": firing.symbol,
        "price": firing.trade_price.quantize(QUANTUM),
        "agg_trade_id": firing.agg_trade_id,
        "trade_time_ms": firing.trade_time_ms,
        "alert_event_id": event_id,
    }


def record_firings(
    connection: Connection, firings: Sequence[AlertFiring]
) -> list[tuple[AlertFiring, int]]:
    """Record a batch of firings in one transaction (audited); those recorded, with their
    event ids."""
    recorded = []
    for firing in firings:
        event_id = record_firing(connection, firing)
        if event_id is not None:
            recorded.append((firing, event_id))
    entries = [
        AuditEntry(ENGINE, ALERT_TRIGGERED, "alert", f.alert_id, firing_data(f, e), f.client_id)
        for f, e in recorded
    ]
    if entries:
        audit.append(connection, entries)
    return recorded
