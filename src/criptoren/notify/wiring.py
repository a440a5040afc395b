"""The notification service and its worker, wired from the settings (for the composition
root)."""

from __future__ import annotations

import httpx

from criptoren.config import Settings
from criptoren.db.session import Database
from criptoren.domain.notifications import ChannelKind
from criptoren.notify.apprise_sender import AppriseSender
from criptoren.notify.email import EmailSender, smtp_config
from criptoren.notify.messages import MessageRenderer
from criptoren.notify.urls import AddressGuard
from criptoren.notify.webhook import WebhookSender
from criptoren.notify.worker import NotificationWorker, WorkerConfig
from criptoren.ports import NotificationSender
from criptoren.services.notifications import NotificationService


def worker_config(settings: Settings) -> WorkerConfig:
    """The worker's tunables from the settings."""
    return WorkerConfig(
        backoff_base_seconds=settings.notify_backoff_base_seconds,
        max_attempts=settings.notify_max_attempts,
        lease_seconds=settings.notify_lease_seconds,
        poll_seconds=settings.notify_poll_seconds,
        concurrency=settings.notify_concurrency,
    )


def build_notifications(
    settings: Settings, database: Database
) -> tuple[NotificationService, NotificationWorker]:
    """The channels' service and the delivery worker, with a sender per configured kind."""
    guard = AddressGuard(settings.webhook_allow_private)
    renderer = MessageRenderer()
    concurrency = settings.notify_concurrency  # every connection kept alive between deliveries
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    http = httpx.AsyncClient(
        timeout=settings.notify_timeout_seconds, follow_redirects=False, limits=limits
    )
    senders: dict[ChannelKind, NotificationSender] = {
        ChannelKind.WEBHOOK: WebhookSender(http, guard),
        ChannelKind.APPRISE: AppriseSender(renderer, guard),
    }
    if settings.smtp_url is not None:
        smtp = smtp_config(settings.smtp_url.get_secret_value())
        senders[ChannelKind.EMAIL] = EmailSender(smtp, renderer, settings.notify_timeout_seconds)
    worker = NotificationWorker(database, senders, worker_config(settings), http)
    service = NotificationService(guard, settings.smtp_url is not None, worker.wake)
    return service, worker
