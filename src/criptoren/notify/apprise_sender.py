"""Apprise deliveries (Telegram, Discord, ntfy, Slack… any apprise URL); apprise is
synchronous, so each delivery runs in a thread."""

from __future__ import annotations

import asyncio
import logging
import warnings
from functools import cache
from types import ModuleType

from criptoren.domain.notifications import Delivery, clip_error
from criptoren.notify.messages import MessageRenderer
from criptoren.notify.urls import AddressGuard


@cache
def _apprise() -> ModuleType:
    """apprise, imported on first use (it loads every plugin; some use deprecated modules)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import apprise

        apprise.Apprise().add("json://localhost")  # loads the plugins (they import lazily)
    # its messages may quote a URL's tokens: kept in the delivery's last_error, never logged
    quiet = logging.getLogger("apprise")
    quiet.propagate = False
    quiet.addHandler(logging.NullHandler())
    return apprise


def apprise_accepts(url: str) -> bool:
    """Whether apprise knows how to notify ``url`` (no message is sent)."""
    return bool(_apprise().Apprise().add(url))


class AppriseSender:
    """A ``NotificationSender`` through apprise: the Portuguese title and text."""

    def __init__(self, renderer: MessageRenderer, guard: AddressGuard) -> None:
        self.renderer = renderer
        self.guard = guard

    async def send(self, delivery: Delivery) -> str | None:
        """``None`` when apprise reports success; else what it logged (at most 1 KiB)."""
        refused = await self.guard.refusal(delivery.target, apprise=True)
        if refused is not None:
            return f"refused: {refused}"
        return await asyncio.to_thread(self._notify, delivery)

    def _notify(self, delivery: Delivery) -> str | None:
        apprise = _apprise()
        notifier = apprise.Apprise()
        if not notifier.add(delivery.target):
            return "apprise does not accept this URL"
        message = self.renderer.render(delivery.body)
        with apprise.LogCapture(level=logging.WARNING) as logs:
            sent = notifier.notify(body=message.text, title=message.title)
        if sent:
            return None
        return clip_error(logs.getvalue().strip() or "apprise could not deliver")
