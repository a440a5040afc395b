"""``/docs`` and ``/redoc`` from Swagger UI and ReDoc shipped in the package: no CDN needed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")
ASSETS = "/docs-assets"
VENDORED = ("swagger-ui", "redoc")  # refreshed by `make docs-assets` from the npm lockfile


def install_docs(app: FastAPI) -> None:
    """Serve the documentation pages' vendored assets (build with docs off; the pages are
    :data:`pages`, taken by ``create_app`` with every other route)."""
    for name in VENDORED:
        app.mount(f"{ASSETS}/{name}", StaticFiles(directory=STATIC / name), name=name)


async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI on the served OpenAPI document."""
    spec, assets, title = _page(request)
    return get_swagger_ui_html(
        openapi_url=spec,
        title=f"{title} — Swagger UI",
        swagger_js_url=f"{assets}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{assets}/swagger-ui/favicon-32x32.png",
    )


async def redoc(request: Request) -> HTMLResponse:
    """ReDoc on the served OpenAPI document."""
    spec, assets, title = _page(request)
    return get_redoc_html(
        openapi_url=spec,
        title=f"{title} — ReDoc",
        redoc_js_url=f"{assets}/redoc/redoc.standalone.js",
        redoc_favicon_url=f"{assets}/swagger-ui/favicon-32x32.png",
        with_google_fonts=False,
    )


pages = APIRouter(include_in_schema=False)
pages.add_api_route("/docs", swagger_ui, methods=["GET"])
pages.add_api_route("/redoc", redoc, methods=["GET"])


def _page(request: Request) -> tuple[str, str, str]:
    """The OpenAPI document's URL and the assets' base, behind any proxy prefix; the title."""
    app: FastAPI = request.app
    base = str(request.scope.get("root_path", "")).rstrip("/")
    return f"{base}{app.openapi_url}", f"{base}{ASSETS}", f"{app.title} {app.version}"


def document_bearer(
    app: FastAPI, scheme: Any, guards: tuple[Callable[..., Any], ...], routers: list[APIRouter]
) -> None:
    """Show ``scheme`` (an ``HTTPBearer``) as the security of every operation of ``routers``
    that depends, at any depth, on one of ``guards`` (which read the header themselves,
    faster than a ``Depends(bearer)`` would)."""
    build = app.openapi
    guarded = {
        route.unique_id
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and _depends_on(route.dependant, guards)
    }

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        name = scheme.scheme_name
        components = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        components[name] = scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True)
        for operations in schema["paths"].values():
            for operation in operations.values():
                if operation.get("operationId") in guarded:
                    operation["security"] = [{name: []}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _depends_on(dependant: Dependant, guards: tuple[Callable[..., Any], ...]) -> bool:
    return any(sub.call in guards or _depends_on(sub, guards) for sub in dependant.dependencies)
