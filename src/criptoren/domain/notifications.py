"""Notifications: channel kinds, order events a client may choose, the webhook body and
signature, the retry schedule and how URLs and addresses are judged (pure, no I/O)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

MAX_ERROR_BYTES = 1024
"""The most of a response body (or error) a delivery row keeps."""
MAX_URL_LENGTH = 2000
MAX_ADDRESS_LENGTH = 254


class ChannelKind(StrEnum):
    """Where a client's notifications go (the ``stream`` is always on and not stored)."""

    WEBHOOK = "webhook"
    EMAIL = "email"
    APPRISE = "apprise"


class DeliveryStatus(StrEnum):
    """A delivery's state: waiting for its (next) attempt, done, or given up."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


ORDER_EVENTS = ("placed", "triggered", "executed", "failed", "cancelled")
"""Order events a client may be notified of (event type ``order.<event>``)."""
DEFAULT_ORDER_EVENTS = ("executed", "failed")
ALERT_TRIGGERED = "alert.triggered"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt to deliver one event to one channel (the secret never in a repr)."""

    id: int
    event_id: str
    event_type: str
    body: str
    attempts: int
    kind: ChannelKind
    target: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    removed: bool = False


class NotificationError(ValueError):
    """A channel's URL or address is refused (the message says why)."""


def order_event_type(kind: str) -> str:
    """``executed`` → ``order.executed``."""
    return f"order.{kind}"


def normalise_order_events(events: Iterable[str]) -> tuple[str, ...]:
    """The chosen order events, deduplicated in canonical order; unknown ones are refused."""
    chosen = set(events)
    unknown = sorted(chosen - set(ORDER_EVENTS))
    if unknown:
        raise NotificationError(f"unknown order events {unknown}; known: {list(ORDER_EVENTS)}")
    return tuple(kind for kind in ORDER_EVENTS if kind in chosen)


def parse_order_events(stored: str | None) -> tuple[str, ...]:
    """A stored preference (comma-separated; ``None``: never set, so the default)."""
    if stored is None:
        return DEFAULT_ORDER_EVENTS
    return tuple(kind for kind in stored.split(",") if kind)


def json_value(value: object) -> object:
    """JSON-ready data: decimals as strings (exact), datetimes as ISO 8601."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def event_body(
    event_id: str, event_type: str, created_at: datetime, data: Mapping[str, Any]
) -> str:
    """The JSON every channel delivers: ``{"id","type","created_at","data"}`` (one text)."""
    body = {
        "id": event_id,
        "type": event_type,
        "created_at": created_at.isoformat(),
        "data": json_value(data),
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``X-Criptoren-Signature``: ``t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def retry_delay(attempts: int, base_seconds: float, rng: random.Random | None = None) -> float:
    """Seconds before attempt ``attempts + 1``: ``base × 2^(attempts-1)`` × jitter in [1, 1.25].

    The jitter only lengthens a wait, so the schedule never ends sooner than its sum
    (base 30 s, 8 attempts: at least 30+60+…+1920 s = 63.5 min).
    """
    jitter = (rng or random).uniform(1.0, 1.25)
    return float(base_seconds * 2 ** max(attempts - 1, 0) * jitter)


def clip_error(text: str) -> str:
    """At most :data:`MAX_ERROR_BYTES` of UTF-8 (a response body is never kept whole)."""
    raw = text.encode("utf-8", "replace")[:MAX_ERROR_BYTES]
    return raw.decode("utf-8", "ignore")


_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


def check_email(address: str) -> str:
    """A plain ``local@domain`` address (its domain has a dot), else refused."""
    clean = address.strip()
    if len(clean) > MAX_ADDRESS_LENGTH or not _EMAIL.match(clean) or "." not in clean[-64:]:
        raise NotificationError(f"{address!r} is not an e-mail address")
    if ".." in clean or clean.split("@", 1)[1].startswith("."):
        raise NotificationError(f"{address!r} is not an e-mail address")
    return clean


def check_webhook_url(url: str) -> str:
    """An absolute ``http(s)://host…`` URL without credentials or fragments, else refused."""
    if len(url) > MAX_URL_LENGTH or any(c.isspace() or ord(c) < 32 for c in url):
        raise NotificationError("the webhook URL is too long or contains blanks")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:  # a bad IPv6 literal or port
        raise NotificationError("the webhook URL cannot be parsed (host or port)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotificationError("a webhook URL must be an absolute http:// or https:// URL")
    if parts.username or parts.password or parts.fragment:
        raise NotificationError("a webhook URL may not carry credentials or a fragment")
    return url


def refused_address(address: str) -> str | None:
    """Why an IP address may not be called by default (loopback, private, …); else ``None``."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for reason, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved or ip.is_unspecified or ip.is_multicast),
    ):
        if flag:
            return f"{ip} is a {reason} address"
    return None if ip.is_global else f"{ip} is not a public address"


SELF_HOSTED_APPRISE = frozenset(
    {"json", "jsons", "xml", "xmls", "form", "forms", "ntfy", "ntfys", "gotify", "gotifys"}
    | {"apprise", "apprises", "mmost", "mmosts", "rocket", "rockets", "matrix", "matrixs"}
)
"""Apprise schemes whose host is a server the user names (the others name a service and
carry tokens where a host would be)."""


def mask_apprise(url: str) -> str:
    """An apprise URL fit to show: its scheme, and the host of a self-hosted server; never
    its tokens, credentials, path or query."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else "apprise"
    try:
        parts = urlsplit(url)
        host = parts.hostname if scheme in SELF_HOSTED_APPRISE else None
        port = f":{parts.port}" if host and parts.port else ""
    except ValueError:  # apprise parses more leniently than urlsplit
        host, port = None, ""
    return f"{scheme}://{host}{port}/***" if host else f"{scheme}://***"
