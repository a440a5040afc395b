"""Every error as JSON ``{"error": {"code", "message"}}``; bad input never becomes a 500."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from criptoren.db.availability import database_unreachable, first_line
from criptoren.errors import CriptorenError

log = logging.getLogger(__name__)
BODY_TOO_LARGE = "body_too_large"
DATABASE_UNAVAILABLE = "database_unavailable"
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
HTTP_CODES = {
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: BODY_TOO_LARGE,
    431: "headers_too_large",  # answered by the server's protocol (api.bounded_http)
}


def error_response(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> JSONResponse:
    """The one error shape."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status)


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", ""))
    if error.get("type") == "extra_forbidden":
        message = "unknown field (check its name: this body does not take it)"
        if tuple(error.get("loc", ()))[:1] == ("query",):
            known = ", ".join(error.get("ctx", {}).get("known", ())) or "none"
            message = f"unknown query parameter (check its name; this route takes: {known})"
    if error.get("type") == "value_error":  # our validator's sentence, without pydantic's
        message = str(error.get("ctx", {}).get("error", message))  # "Value error, " before it
    if error.get("type") == "json_invalid":  # say why: "number too long", "nested too deeply"
        message += f" ({error.get('ctx', {}).get('error', 'malformed JSON')})"
    return message


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": _message(error)}
        for error in exc.errors()
    ]


def _summary(details: list[dict[str, Any]]) -> str:
    parts = [f"{'.'.join(d['loc'][1:]) or d['loc'][0]}: {d['msg']}" for d in details[:3]]
    return "; ".join(parts) or "invalid request"


async def _on_domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CriptorenError)
    response = error_response(exc.status_code, exc.code, exc.message)
    response.headers.update(exc.headers)
    return response


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc)
    return error_response(422, "validation_error", _summary(details), details)


def _allowed_methods(request: Request) -> str:
    # Starlette answers 405 from the first route whose path matches, naming only its own
    # methods; a path served by several routes (GET and POST /api/v1/orders) allows them all.
    # Asking every route whether it fully matches each method sees through included routers.
    allowed = [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]
    return ", ".join(allowed)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    response = error_response(exc.status_code, code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405:
        allowed = _allowed_methods(request)
        message = f"{request.method} is not allowed here; allowed: {allowed}"
        response = error_response(405, code, message)
        response.headers["Allow"] = allowed
    return response


def _internal_error() -> JSONResponse:
    return error_response(500, "internal_error", "an unexpected error occurred; it was logged")


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    if not (database_unreachable(exc) or isinstance(exc, DBAPIError)):
        # an OSError or driver error from elsewhere: a bug, not an outage
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _internal_error()
    # one line, no traceback: during an outage every request lands here
    log.error("database unavailable (%s): %s", type(exc).__name__, first_line(exc))
    return error_response(503, DATABASE_UNAVAILABLE, "the database is unavailable; try again")


async def _on_unexpected_error(_request: Request, _exc: Exception) -> JSONResponse:
    # Starlette logs the traceback itself after this handler answered
    return _internal_error()


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(CriptorenError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    database_errors = (
        SQLAlchemyError,
        OSError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
    )
    for database_error in database_errors:
        app.add_exception_handler(database_error, _on_database_error)
    app.add_exception_handler(Exception, _on_unexpected_error)
