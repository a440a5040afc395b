"""Request dependencies: the container, one unit of work per request, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from criptoren import metrics
from criptoren.bootstrap import Container
from criptoren.errors import Forbidden, RateLimited
from criptoren.services.auth import Principal, authenticate
from criptoren.services.unit_of_work import UnitOfWork, unit

bearer = HTTPBearer(auto_error=False, description="The client's API token, or the admin token.")


async def get_container(request: Request) -> Container:
    """The application's composition root."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_work(container: ContainerDep) -> AsyncIterator[UnitOfWork]:
    """One unit of work per request: committed if the endpoint succeeds, rolled back otherwise."""
    async with unit(container.session_factory, container.database) as work:
        yield work


WorkDep = Annotated[UnitOfWork, Depends(get_work, scope="function")]


async def get_session(work: WorkDep) -> AsyncSession:
    """The request's ORM session (part of its unit of work)."""
    return work.session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_principal(
    work: WorkDep,
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The authenticated caller (401 without a valid token)."""
    token = credentials.credentials if credentials else None
    principal = await authenticate(
        work.read, token, container.settings.admin_token, container.tokens
    )
    limiter = container.rate_limiter
    if limiter is not None and principal.client_id is not None:  # the admin is exempt
        try:
            await limiter.admit(principal.client_id)
        except RateLimited:
            metrics.RATE_LIMITED.inc()
            raise
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def require_admin(principal: PrincipalDep) -> Principal:
    """Only the operator's token passes."""
    if not principal.is_admin:
        raise Forbidden("this endpoint needs the admin token")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]
