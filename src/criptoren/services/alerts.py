"""Price alerts of clients: create (validated against the symbol's rules), list, get, delete."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from criptoren.db.alerts import delete_alert, get_alert, insert_alert, list_alerts
from criptoren.db.types import utcnow
from criptoren.domain.alerts import AlertSpec, AlertStatus, StoredAlert, check_alert
from criptoren.errors import NotFound
from criptoren.ports import AlertFollower
from criptoren.services.auth import Principal, require_active_client
from criptoren.services.symbols import SymbolService
from criptoren.services.unit_of_work import UnitOfWork


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
        alert = await work.write(partial(insert_alert, values=values))
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
        deleted = await work.write(partial(delete_alert, alert_id=alert_id))
        if deleted is None:  # deleted meanwhile by another request
            raise NotFound(f"alert {alert_id} not found")
        for follower in self.followers:
            work.after_commit(partial(follower.alert_deleted, deleted))
        return deleted
