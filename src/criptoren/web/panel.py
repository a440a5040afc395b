"""``/painel``: the page (Jinja2, pt-BR first) and its static files, all from the package."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles

HERE = Path(__file__).parent
PATH = "/painel"
LANGUAGES = ("pt-BR", "en")  # the first is the default
templates = Jinja2Templates(directory=HERE / "templates")


@cache
def dictionaries() -> dict[str, dict[str, str]]:
    """Every language's strings, keyed alike (checked by the tests)."""
    return {
        lang: json.loads((HERE / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
        for lang in LANGUAGES
    }


def install_panel(app: FastAPI) -> None:
    """Serve the panel's assets, compressed so the first load stays small (the page is
    :data:`page`, taken by ``create_app`` with every other route)."""
    static = GZipMiddleware(StaticFiles(directory=HERE / "static"), minimum_size=512)
    app.mount(f"{PATH}/static", static, name="panel-static")


async def panel(request: Request) -> HTMLResponse:
    """The panel's one page; the language toggle and all data are client-side."""
    strings = dictionaries()
    context: dict[str, Any] = {
        "t": strings[LANGUAGES[0]],
        "lang": LANGUAGES[0],
        "i18n": strings,
        "base": str(request.scope.get("root_path", "")).rstrip("/"),
    }
    response = templates.TemplateResponse(request, "panel.html", context)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


page = APIRouter(include_in_schema=False)
page.add_api_route(PATH, panel, methods=["GET"])
