"""Binance's HMAC-SHA256 request signatures, checked the way the exchange checks them."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE = b"signature="


def sign(secret: str, payload: bytes | str) -> str:
    """Hex HMAC-SHA256 of ``payload`` keyed with ``secret``."""
    data = payload.encode() if isinstance(payload, str) else payload
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def verify(secret: str, payload: bytes | str, signature: str) -> bool:
    """Whether ``signature`` signs ``payload`` (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, payload), signature.lower())


def strip_signature(raw: bytes) -> tuple[bytes, str | None]:
    """``raw`` (a query string or form body, as received) without its ``signature`` pair."""
    kept: list[bytes] = []
    found: str | None = None
    for part in raw.split(b"&"):
        if part.startswith(SIGNATURE) and found is None:
            found = part[len(SIGNATURE) :].decode("latin-1")
        else:
            kept.append(part)
    return b"&".join(kept), found


def signed_payload(query: bytes, body: bytes) -> tuple[bytes, str | None]:
    """The signed payload (query string immediately followed by the body) and the signature."""
    query_rest, in_query = strip_signature(query)
    body_rest, in_body = strip_signature(body)
    return query_rest + body_rest, in_query if in_query is not None else in_body
