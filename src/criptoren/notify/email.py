"""E-mail deliveries over SMTP (``CRIPTOREN_SMTP_URL``): plain text and HTML, in Portuguese."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from criptoren.domain.notifications import Delivery, clip_error
from criptoren.notify.messages import MessageRenderer


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and as whom to send (the password never in a repr)."""

    host: str
    port: int
    sender: str
    implicit_tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def smtp_config(url: str) -> SmtpConfig:
    """``smtp://user:pass@host:port?from=addr`` (``smtps://``: TLS from the first byte)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("CRIPTOREN_SMTP_URL must look like smtp://user:pass@host:port?from=…")
    implicit = parts.scheme == "smtps"
    sender = parse_qs(parts.query).get("from", [""])[0] or f"criptoren@{parts.hostname}"
    return SmtpConfig(
        host=parts.hostname,
        port=parts.port or (465 if implicit else 25),
        sender=sender,
        implicit_tls=implicit,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


class EmailSender:
    """A ``NotificationSender`` that mails the event (STARTTLS when the server offers it)."""

    def __init__(self, config: SmtpConfig, renderer: MessageRenderer, timeout: float) -> None:
        self.config = config
        self.renderer = renderer
        self.timeout = timeout

    def message(self, delivery: Delivery) -> EmailMessage:
        """The e-mail of one delivery."""
        rendered = self.renderer.render(delivery.body)
        message = EmailMessage()
        message["From"] = self.config.sender
        message["To"] = delivery.target
        message["Subject"] = rendered.title
        message["Message-ID"] = make_msgid(domain="criptoren")
        message["X-Criptoren-Event-Id"] = delivery.event_id
        message.set_content(rendered.text)
        message.add_alternative(rendered.html, subtype="html")
        return message

    async def send(self, delivery: Delivery) -> str | None:
        """``None`` when the server accepted the message; else why not."""
        config = self.config
        try:
            await aiosmtplib.send(
                self.message(delivery),
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                use_tls=config.implicit_tls,
                start_tls=None if not config.implicit_tls else False,
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            return clip_error(f"{type(exc).__name__}: {exc}")
        return None
