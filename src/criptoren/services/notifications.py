"""Notification channels, order-event preferences and the deliveries' history."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from sqlalchemy.engine import Connection

from criptoren.db import notifications as repo
from criptoren.db.notifications import ChannelRow, DeliveryRow
from criptoren.domain.audit import AuditEntry
from criptoren.domain.notifications import (
    ChannelKind,
    DeliveryStatus,
    NotificationError,
    check_email,
    normalise_order_events,
)
from criptoren.errors import Conflict, InvalidInput, NotFound
from criptoren.notify.apprise_sender import apprise_accepts
from criptoren.notify.urls import AddressGuard
from criptoren.services.auth import Principal, require_active_client
from criptoren.services.unit_of_work import UnitOfWork

SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class ChannelRequest:
    """A channel to add: its kind and where it points (a URL or an address)."""

    kind: ChannelKind
    target: str
    client_id: int | None = None


@dataclass(frozen=True, slots=True)
class CreatedChannel:
    """A new channel and, for a webhook, its signing secret (shown this once)."""

    channel: ChannelRow
    secret: str | None


class NotificationService:
    """Channels, preferences and deliveries of the caller's client."""

    def __init__(self, guard: AddressGuard, email_enabled: bool, wake: Callable[[], None]) -> None:
        self.guard = guard
        self.email_enabled = email_enabled
        self.wake = wake

    async def add_channel(
        self, work: UnitOfWork, principal: Principal, request: ChannelRequest
    ) -> CreatedChannel:
        """Validate and store a channel (422 for a bad or refused URL or address)."""
        client_id = principal.acting_for(request.client_id)
        await require_active_client(work.read, principal, client_id)
        target = await self._checked(request.kind, request.target)
        secret = secrets.token_hex(SECRET_BYTES) if request.kind is ChannelKind.WEBHOOK else None

        def insert(connection: Connection) -> ChannelRow:
            row = repo.insert_channel(connection, client_id, request.kind, target, secret)
            # the kind only: a target URL may carry a token, and the trail is never redacted
            data = {"kind": request.kind.value}
            work.record(
                AuditEntry(principal.actor, "channel.added", "channel", row.id, data, client_id)
            )
            return row

        return CreatedChannel(await work.write(insert), secret)

    async def _checked(self, kind: ChannelKind, target: str) -> str:
        try:
            if kind is ChannelKind.WEBHOOK:
                return await self.guard.webhook(target)
            if kind is ChannelKind.EMAIL:
                if not self.email_enabled:
                    raise NotificationError(
                        "e-mail notifications are not configured on this server"
                    )
                return check_email(target)
            if not await asyncio.to_thread(apprise_accepts, target):
                raise NotificationError("apprise does not recognise this URL")
            await self.guard.apprise_host(target)
            return target
        except NotificationError as exc:
            raise InvalidInput(str(exc), code="invalid_channel") from None

    async def channels(
        self, work: UnitOfWork, principal: Principal, client_id: int | None = None
    ) -> list[ChannelRow]:
        """The caller's active channels."""
        return await work.read(partial(repo.list_channels, client_id=principal.scope(client_id)))

    async def remove_channel(self, work: UnitOfWork, principal: Principal, channel_id: int) -> None:
        """Remove one of the caller's channels (404 if it is not one)."""
        owner = principal.scope(None)

        def remove(connection: Connection) -> bool:
            done = repo.remove_channel(connection, channel_id, owner)
            if done:
                who = principal.client_id
                work.record(
                    AuditEntry(principal.actor, "channel.removed", "channel", channel_id, {}, who)
                )
            return done

        removed = await work.write(remove)
        if not removed:
            raise NotFound(f"notification channel {channel_id} not found")

    async def order_events(
        self, work: UnitOfWork, principal: Principal, client_id: int | None = None
    ) -> tuple[str, ...]:
        """The order events that notify the client."""
        owner = principal.acting_for(client_id)
        return await work.read(partial(repo.order_events, client_id=owner))

    async def choose_order_events(
        self,
        work: UnitOfWork,
        principal: Principal,
        events: Iterable[str],
        client_id: int | None = None,
    ) -> tuple[str, ...]:
        """Choose the order events that notify the client (422 for an unknown one)."""
        owner = principal.acting_for(client_id)
        await require_active_client(work.read, principal, owner)
        try:
            chosen = normalise_order_events(events)
        except NotificationError as exc:
            raise InvalidInput(str(exc), code="invalid_order_events") from None
        data = {"order_events": list(chosen)}
        work.record(
            AuditEntry(principal.actor, "notifications.chosen", "client", owner, data, owner)
        )
        await work.write(partial(repo.set_order_events, client_id=owner, events=chosen))
        return chosen

    async def deliveries(
        self,
        work: UnitOfWork,
        principal: Principal,
        *,
        status: DeliveryStatus | None = None,
        before: int | None = None,
        limit: int = 100,
        client_id: int | None = None,
    ) -> list[DeliveryRow]:
        """The caller's deliveries, newest first."""
        listing = partial(
            repo.list_deliveries,
            client_id=principal.scope(client_id),
            status=status,
            before=before,
            limit=limit,
        )
        return await work.read(listing)

    async def retry(self, work: UnitOfWork, principal: Principal, delivery_id: int) -> DeliveryRow:
        """Queue a dead delivery again, due now (409 unless dead)."""
        owner = principal.scope(None)
        lookup = partial(repo.get_delivery, delivery_id=delivery_id, client_id=owner)
        found = await work.read(lookup)
        if found is None:
            raise NotFound(f"notification {delivery_id} not found")
        requeued = await work.write(partial(repo.requeue, delivery_id=delivery_id, client_id=owner))
        if requeued is None:
            raise Conflict(
                f"notification {delivery_id} is {found.status.value}; only a dead one is retried",
                code="notification_not_dead",
            )
        work.after_commit(self._wake_after_commit)
        return requeued

    async def _wake_after_commit(self) -> None:
        self.wake()
