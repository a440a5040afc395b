"""Binance request signing: HMAC-SHA256 over the percent-encoded query string plus the body."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import quote

from pydantic import SecretStr

# Unreserved characters (RFC 3986) stay as they are; everything else is percent-encoded.
_SAFE = "-_.~"


def encode_query(params: Iterable[tuple[str, str]]) -> str:
    """``k=v&k=v`` in the given order, keys and values percent-encoded as UTF-8."""
    return "&".join(f"{quote(key, safe=_SAFE)}={quote(value, safe=_SAFE)}" for key, value in params)


def signature(secret: SecretStr, query: str, body: str = "") -> str:
    """Hex HMAC-SHA256 of ``query`` immediately followed by ``body`` (no separator)."""
    payload = (query + body).encode()
    key = secret.get_secret_value().encode()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def signed_query(secret: SecretStr, params: Iterable[tuple[str, str]], body: str = "") -> str:
    """The encoded query with ``&signature=<hex>`` appended (over the query and ``body``)."""
    query = encode_query(params)
    return f"{query}&signature={signature(secret, query, body)}"
