"""Request dependencies: the container, one unit of work per request, the caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers
from starlette.types import Scope

from criptoren import metrics
from criptoren.api.exact_json import ExactJSONRoute
from criptoren.api.request_id import request_id_of
from criptoren.api.schemas import ErrorOut
from criptoren.bootstrap import Container
from criptoren.errors import Forbidden, RateLimited
from criptoren.services.auth import Principal, authenticate
from criptoren.services.unit_of_work import UnitOfWork

T = TypeVar("T")
bearer = HTTPBearer(auto_error=False, description="The client's API token, or the admin token.")
"""The scheme the OpenAPI document names; tokens are read by :func:`bearer_token`."""


def bearer_token(headers: Headers) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    token = value.strip()
    return token if scheme.lower() == "bearer" and token else None


async def get_container(request: Request) -> Container:
    """The application's composition root."""
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


WORK = "criptoren.work"
OWNER = "criptoren.work-owner"  # set by RequestRoute: someone will commit the unit of work


async def in_unit_of_work(scope: Scope, run: Callable[[], Awaitable[T]]) -> T:
    """Run ``run`` as one unit of work: committed if it succeeds, rolled back otherwise
    (opened on first use by :func:`request_work`, so a request that needs none pays none)."""
    scope[OWNER] = True
    try:
        result = await run()
        if (work := scope.get(WORK)) is not None:
            await work.commit()
        return result
    except BaseException:
        if (work := scope.get(WORK)) is not None:
            await work.rollback()
        raise


class RequestRoute(ExactJSONRoute):
    """Routes whose request runs in one unit of work: committed if the endpoint and its
    response succeed, rolled back otherwise. Committed here, not by a generator dependency,
    whose exit stack costs more than the rest of a cached-token request's dependencies."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler: refuse a query parameter the route does not take, then commit
        or roll back the unit of work, if one was opened."""
        handler = super().get_route_handler()
        known = query_names(self.dependant)

        async def in_unit(request: Request) -> Response:
            if request.scope["query_string"]:
                refuse_unknown_query(request, known)
            return await in_unit_of_work(request.scope, partial(handler, request))

        return in_unit


def query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameters an operation takes, its dependencies' included."""
    names = {field.alias for field in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= query_names(dependency)
    return frozenset(names)


def refuse_unknown_query(request: Request, known: frozenset[str]) -> None:
    """A 422 naming each query parameter that is not in ``known`` (``?statu=waiting`` would
    otherwise be ignored, and the listing would hold every status)."""
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        context = {"known": sorted(known)}
        raise RequestValidationError(
            [
                {"type": "extra_forbidden", "loc": ("query", name), "msg": "", "ctx": context}
                for name in unknown
            ]
        )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (401, 403, 404, 409, 413, 422, 429, 503)
}
"""The error answers every operation documents (``{"error": {"code", "message"}}``)."""


def api_router(**options: Any) -> APIRouter:
    """A router of :class:`RequestRoute` operations that document :data:`ERROR_RESPONSES`.

    Its routes are complete as declared, so the application takes them as they are
    (``create_app``): ``include_router`` would rebuild every operation's fields once per
    application at its first request (FastAPI 0.165: ≈ 0.23 s of CPU here, in every test).
    """
    return APIRouter(route_class=RequestRoute, responses=ERROR_RESPONSES, **options)


def request_work(request: Request) -> UnitOfWork:
    """The request's unit of work, opened on first use (see :class:`RequestRoute`)."""
    work: UnitOfWork | None = request.scope.get(WORK)
    if work is None:
        if OWNER not in request.scope:
            raise RuntimeError(f"{request.url.path}: its router needs route_class=RequestRoute")
        container: Container = request.app.state.container
        # its audit rows carry the request's id (``X-Request-ID``, see ``api.request_id``)
        request_id = request_id_of(request.scope)
        work = UnitOfWork(container.session_factory, container.database, request_id)
        request.scope[WORK] = work
    return work


async def get_work(request: Request) -> UnitOfWork:
    """The request's unit of work."""
    return request_work(request)


WorkDep = Annotated[UnitOfWork, Depends(get_work)]


async def get_session(work: WorkDep) -> AsyncSession:
    """The request's ORM session (part of its unit of work)."""
    return work.session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


@dataclass(frozen=True, slots=True)
class Call:
    """What most endpoints need, as one dependency (each dependency costs FastAPI ≈ 20 µs)."""

    container: Container
    work: UnitOfWork
    principal: Principal


async def get_call(request: Request) -> Call:
    """The container, the request's unit of work and the authenticated caller.

    The header is read here, not by a ``Depends(bearer)`` (one dependency less per
    request); the OpenAPI document still shows the scheme (``api.docs``).
    """
    container: Container = request.app.state.container
    work = request_work(request)
    token = bearer_token(request.headers)
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
    return Call(container, work, principal)


CallDep = Annotated[Call, Depends(get_call)]


async def get_principal(call: CallDep) -> Principal:
    """The authenticated caller (401 without a valid token)."""
    return call.principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def require_admin(principal: PrincipalDep) -> Principal:
    """Only the operator's token passes."""
    if not principal.is_admin:
        raise Forbidden("this endpoint needs the admin token")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]
