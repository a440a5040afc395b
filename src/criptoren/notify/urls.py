"""Which URLs a notification may call: checked when a channel is created and again before
each delivery (a name that resolved to a public address may resolve elsewhere later)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from criptoren.domain.notifications import (
    SELF_HOSTED_APPRISE,
    NotificationError,
    check_webhook_url,
    refused_address,
)


class AddressGuard:
    """Refuses hosts on loopback, link-local and private ranges unless allowed."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    async def webhook(self, url: str) -> str:
        """A webhook URL fit to call, else :class:`NotificationError`."""
        check_webhook_url(url)  # a URL urlsplit cannot parse is refused there
        parts = urlsplit(url)
        await self.host(parts.hostname or "", parts.port)
        return url

    async def apprise_host(self, url: str) -> None:
        """For apprise schemes that call a server the user names, the server's address."""
        scheme = url.split("://", 1)[0].lower()
        if scheme not in SELF_HOSTED_APPRISE:
            return  # a service's URL: what looks like a host is a token
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise NotificationError("the URL cannot be parsed (host or port)") from None
        await self.host(parts.hostname or "", port)

    async def host(self, host: str, port: int | None) -> None:
        """Resolve ``host``; refuse it if any address is off limits (or none resolves)."""
        if not host:
            raise NotificationError("the URL has no host")
        if self.allow_private:
            return
        for address in await _addresses(host, port):
            reason = refused_address(address)
            if reason is not None:
                raise NotificationError(f"{host} is refused: {reason}")

    async def refusal(self, url: str, apprise: bool = False) -> str | None:
        """Why a delivery may not call ``url`` now (``None``: go ahead)."""
        try:
            if apprise:
                await self.apprise_host(url)
            else:
                await self.webhook(url)
        except NotificationError as exc:
            return str(exc)
        return None


async def _addresses(host: str, port: int | None) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except OSError:
        raise NotificationError(f"{host} does not resolve") from None
    return sorted({str(info[4][0]) for info in infos})
