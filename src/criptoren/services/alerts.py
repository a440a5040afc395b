"""Price alerts of clients: create (validated against the symbol's rules), list, get, delete."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from criptoren.db.alerts import delete_alert, get_alert, insert_alert, list_alerts
from criptoren.db.types import utcnow
from criptoren.domain.alerts import AlertSpec, AlertStatus, StoredAlert, check_alert
from criptoren.domain.audit import AuditEntry
from criptoren.errors import NotFound
from criptoren.ports import AlertFollower
from criptoren.services.auth import Principal, require_active_client
from criptoren.services.symbols import SymbolService
from criptoren.services.unit_of_work import UnitOfWork

AlertT = TypeVar("AlertT", bound=StoredAlert | None)


@dataclass(frozen=True, slots=True)
class AlertRequest:
    """What a client asks for when creating an alert."""

    client_id: int | None
    symbol: str
    spec: AlertSpec


class AlertService:
    """Creates, lists, reads and deletes alerts; the engine follows after commit."""

    def __init__(self, symbols: SymbolService, followers: Sequence[AlertFollower] = ()) -> None:
        self.symbols = symbols
        self.followers = list(followers)

    async def create(
        self, work: UnitOfWork, principal: Principal, request: AlertRequest
    ) -> StoredAlert:
        """Validate and store an active alert (422 and nothing stored on bad input)."""
        client_id = principal.acting_for(request.client_id)
        await require_active_client(work.read, principal, client_id)
        rules = await self.symbols.trading_rules(work.read, request.symbol)
        spec = request.spec
        check_alert(spec, rules)
        now = utcnow()
        values: dict[str, Any] = {
            "client_id": client_id,
            "symbol_id": rules.symbol_id,
            "symbol": rules.symbol,
            "condition": spec.condition.value,
            "price": spec.price,
            "percent": spec.percent,
            "window_seconds": spec.window_seconds,
            "repeat": spec.repeat,
            "cooldown_seconds": spec.cooldown_seconds,
            "note": spec.note,
            "status": AlertStatus.ACTIVE.value,
            "fire_count": 0,
            "created_at": now,
            "updated_at": now,
        }
        audited = partial(_audited, record=work.record, actor=principal.actor, action="created")
        alert = await work.write(lambda connection: audited(insert_alert(connection, values)))
        for follower in self.followers:
            work.after_commit(partial(follower.alert_created, alert))
        return alert

    async def list(
        self, work: UnitOfWork, principal: Principal, client_id: int | None = None
    ) -> list[StoredAlert]:
        """The caller's alerts (the admin's choice of client, or all); deleted ones left out."""
        return await work.read(partial(list_alerts, client_id=principal.scope(client_id)))

    async def get(self, work: UnitOfWork, principal: Principal, alert_id: int) -> StoredAlert:
        """One of the caller's alerts (404 for someone else's or a deleted one)."""
        alert = await work.read(partial(get_alert, alert_id=alert_id))
        visible = alert is not None and (
            principal.is_admin or alert.client_id == principal.client_id
        )
        if alert is None or not visible or alert.status == AlertStatus.DELETED:
            raise NotFound(f"alert {alert_id} not found")
        return alert

    async def delete(self, work: UnitOfWork, principal: Principal, alert_id: int) -> StoredAlert:
        """Delete an alert: it fires no more and leaves the listings."""
        await self.get(work, principal, alert_id)
        audited = partial(_audited, record=work.record, actor=principal.actor, action="deleted")
        deleted = await work.write(lambda connection: audited(delete_alert(connection, alert_id)))
        if deleted is None:  # deleted meanwhile by another request
            raise NotFound(f"alert {alert_id} not found")
        for follower in self.followers:
            work.after_commit(partial(follower.alert_deleted, deleted))
        return deleted


def _audited(
    alert: AlertT, record: Callable[[AuditEntry], None], actor: str, action: str
) -> AlertT:
    """``alert``, its change recorded in the trail (inside the write that made it)."""
    if alert is not None:
        data = {"symbol": alert.symbol, "condition": alert.condition, "price": alert.price,
                "percent": alert.percent, "window_seconds": alert.window_seconds,
                "repeat": alert.repeat, "cooldown_seconds": alert.cooldown_seconds}  # fmt: skip
        record(AuditEntry(actor, f"alert.{action}", "alert", alert.id, data, alert.client_id))
    return alert
