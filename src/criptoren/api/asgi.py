"""Reading a request header straight from the ASGI scope (middleware on every request)."""

from __future__ import annotations

from starlette.types import Scope


def header(scope: Scope, name: bytes) -> str:
    """The first value of header ``name`` (lower case, as ASGI gives names), or ``""``.

    Starlette's ``Headers(scope=...)`` builds an object per call for the same answer.
    """
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""
