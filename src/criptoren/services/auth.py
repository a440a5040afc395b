"""Who is calling: tokens, their hashes, and whose data a caller may touch."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from pydantic import SecretStr

from criptoren.db.repositories import active_client_of_token, is_active_client
from criptoren.db.session import Reader
from criptoren.domain.audit import ADMIN, client_actor
from criptoren.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from criptoren.services.memo import Memo

TOKEN_BYTES = 32


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller: a client, or the operator (admin)."""

    client_id: int | None
    is_admin: bool = False

    def acting_for(self, requested: int | None) -> int:
        """The client this request acts for; a client may act only for itself."""
        if self.is_admin:
            if requested is None:
                raise InvalidInput("an admin request must name the client (cliente_id)")
            return requested
        assert self.client_id is not None
        if requested is not None and requested != self.client_id:
            raise Forbidden("this token may act only for its own client")
        return self.client_id

    @property
    def actor(self) -> str:
        """Who this caller is in the audit trail: ``admin`` or ``client:<id>``."""
        return ADMIN if self.is_admin else client_actor(self.client_id or 0)

    def scope(self, requested: int | None) -> int | None:
        """Whose data a listing shows: the client's own; the admin's choice (``None``: all)."""
        if self.is_admin:
            return requested
        return self.acting_for(requested)


def new_token() -> str:
    """A fresh random API token (shown once, never stored)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """What ``clients.api_token`` stores: tokens are random, so a plain SHA-256 suffices."""
    return "sha256$" + hashlib.sha256(token.encode()).hexdigest()


class TokenCache(Memo[str, Principal]):
    """Token hash → principal, so a request needs no query to authenticate.

    Rotating or revoking a client's token in this process drops its entries at once (and
    voids lookups in flight); a change made by another process (the CLI, another worker)
    is seen within ``ttl``.
    """

    def __init__(self, ttl: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ttl, clock)

    def invalidate(self, client_id: int) -> None:
        """Forget every token of ``client_id``."""
        self.forget(lambda _hash, principal: principal.client_id == client_id)


async def authenticate(
    read: Reader, token: str | None, admin_token: SecretStr | None, cache: TokenCache
) -> Principal:
    """The principal behind a bearer token, or ``Unauthorized``."""
    if not token:
        raise Unauthorized("missing bearer token")
    if admin_token is not None and hmac.compare_digest(
        token.encode(), admin_token.get_secret_value().encode()
    ):
        return Principal(client_id=None, is_admin=True)
    token_hash = hash_token(token)
    principal = cache.get(token_hash)
    if principal is not None:
        return principal
    generation = cache.generation
    client_id = await read(partial(active_client_of_token, token_hash=token_hash))
    if client_id is None:
        raise Unauthorized("invalid or revoked token")
    principal = Principal(client_id=client_id)
    cache.put(token_hash, principal, generation)
    return principal


async def require_active_client(read: Reader, principal: Principal, client_id: int) -> None:
    """Refuse to act for a client that does not exist or was revoked.

    A client's own token already proved it active (within the token cache's time to live,
    and a revoke in this process is seen at once); only the admin acting for a client needs
    the query.
    """
    if not principal.is_admin:
        return
    if not await read(partial(is_active_client, client_id=client_id)):
        raise NotFound(f"client {client_id} not found")
