"""Operator use cases: create clients, rotate and revoke their tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from criptoren.db.audit import stage
from criptoren.db.models import Client
from criptoren.db.repositories import ClientRepository
from criptoren.db.types import utcnow
from criptoren.domain.audit import ADMIN, AuditEntry
from criptoren.domain.text import TextError, check_plain_text
from criptoren.errors import InvalidInput, NotFound
from criptoren.services.auth import TokenCache, hash_token, new_token
from criptoren.services.unit_of_work import now_and_after_commit


@dataclass(frozen=True, slots=True)
class ClientView:
    """A client as the operator sees it (never the token hash)."""

    id: int
    name: str
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A client and its new token, shown this once."""

    client: ClientView
    token: str


def _audit(session: AsyncSession, action: str, client: Client, **data: object) -> None:
    """The operator's change to a client (never its token or hash)."""
    stage(session, [AuditEntry(ADMIN, action, "client", client.id, data, client.id)])


def _view(client: Client) -> ClientView:
    return ClientView(client.id, client.name, client.active, client.created_at)


class ClientService:
    """Creates clients and manages their tokens."""

    def __init__(self, tokens: TokenCache) -> None:
        self.tokens = tokens

    async def create(self, session: AsyncSession, name: str) -> IssuedToken:
        """A new client with a fresh token."""
        clean = name.strip()
        if not clean or len(clean) > 100:
            raise InvalidInput("a client name has 1 to 100 characters")
        try:
            check_plain_text(clean, "the client name")
        except TextError as exc:
            raise InvalidInput(str(exc)) from None
        token = new_token()
        client = await ClientRepository(session).add(clean, hash_token(token))
        _audit(session, "client.created", client, name=clean)
        return IssuedToken(_view(client), token)

    async def list(self, session: AsyncSession) -> list[ClientView]:
        """Every client."""
        return [_view(c) for c in await ClientRepository(session).list()]

    async def rotate(
        self, session: AsyncSession, client_id: int, *, reactivate: bool = False
    ) -> IssuedToken:
        """Replace the client's token; a revoked client stays revoked unless ``reactivate``."""
        client = await self._get(session, client_id)
        token = new_token()
        client.api_token = hash_token(token)
        if reactivate:
            client.active = True
            client.revoked_at = None
        await session.flush()
        self._forget_tokens(session, client_id)
        _audit(session, "client.rotated", client, reactivated=reactivate)
        return IssuedToken(_view(client), token)

    async def revoke(self, session: AsyncSession, client_id: int) -> ClientView:
        """Disable the client's token (its data is kept)."""
        client = await self._get(session, client_id)
        client.active = False
        client.revoked_at = utcnow()
        await session.flush()
        self._forget_tokens(session, client_id)
        _audit(session, "client.revoked", client)
        return _view(client)

    def _forget_tokens(self, session: AsyncSession, client_id: int) -> None:
        now_and_after_commit(session, partial(self.tokens.invalidate, client_id))

    async def _get(self, session: AsyncSession, client_id: int) -> Client:
        client = await ClientRepository(session).get(client_id)
        if client is None:
            raise NotFound(f"client {client_id} not found")
        return client
