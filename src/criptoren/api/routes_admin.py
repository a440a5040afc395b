"""Operator endpoints under ``/api/v1/clients`` (admin token only)."""

from __future__ import annotations

from fastapi import status

from criptoren.api.deps import AdminDep, ContainerDep, SessionDep, api_router
from criptoren.api.schemas import ClientIn, ClientOut, ClientTokenOut
from criptoren.api.types import DbId
from criptoren.services.clients import ClientView, IssuedToken

router = api_router(prefix="/api/v1/clients", tags=["clients (admin)"])


def _client(view: ClientView) -> ClientOut:
    return ClientOut(id=view.id, name=view.name, active=view.active, created_at=view.created_at)


def _token(issued: IssuedToken) -> ClientTokenOut:
    return ClientTokenOut(id=issued.client.id, name=issued.client.name, token=issued.token)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_client(
    body: ClientIn, session: SessionDep, container: ContainerDep, _admin: AdminDep
) -> ClientTokenOut:
    """Create a client; its token is in this answer only."""
    return _token(await container.clients.create(session, body.name))


@router.get("")
async def list_clients(
    session: SessionDep, container: ContainerDep, _admin: AdminDep
) -> list[ClientOut]:
    """Every client (tokens are never shown again)."""
    return [_client(v) for v in await container.clients.list(session)]


@router.post("/{client_id}/rotate")
async def rotate_token(
    client_id: DbId,
    session: SessionDep,
    container: ContainerDep,
    _admin: AdminDep,
    reactivate: bool = False,
) -> ClientTokenOut:
    """New token, old one dead at once; a revoked client stays revoked unless ``reactivate``."""
    issued = await container.clients.rotate(session, client_id, reactivate=reactivate)
    return _token(issued)


@router.post("/{client_id}/revoke")
async def revoke_client(
    client_id: DbId, session: SessionDep, container: ContainerDep, _admin: AdminDep
) -> ClientOut:
    """Disable a client's token."""
    return _client(await container.clients.revoke(session, client_id))
