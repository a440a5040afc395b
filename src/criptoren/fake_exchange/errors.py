"""Binance's error replies (``{"code": .., "msg": ..}``) and JSON responses of the fake."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response


class BinanceError(Exception):
    """A Binance error reply: ``{"code": .., "msg": ..}`` with an HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response encoded with orjson."""
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def error_response(exc: BinanceError, headers: Mapping[str, str] | None = None) -> Response:
    """Binance's error body for ``exc``."""
    return json_response({"code": exc.code, "msg": exc.msg}, exc.status, headers)


def mandatory(name: str) -> BinanceError:
    """``-1102``: a mandatory parameter is missing."""
    msg = f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    return BinanceError(-1102, msg)


def illegal(name: str) -> BinanceError:
    """``-1100``: a parameter that does not parse."""
    return BinanceError(-1100, f"Illegal characters found in parameter '{name}'.")
