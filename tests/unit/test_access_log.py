"""The lean access formatter writes uvicorn's own access line, character for character."""

from __future__ import annotations

import logging

import pytest
from uvicorn.logging import AccessFormatter

from criptoren.api.access_log import ACCESS_FORMAT, LeanAccessFormatter, log_config


def record(status: int, path: str = "/api/v1/orders?status=waiting") -> logging.LogRecord:
    """An access record as uvicorn's httptools protocol logs it."""
    args = ("127.0.0.1:51234", "GET", path, "1.1", status)
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', args, None
    )


@pytest.mark.parametrize("status", [200, 201, 404, 422, 429, 499, 503, 999])
def test_the_line_is_uvicorns(status: int) -> None:
    ours = LeanAccessFormatter(ACCESS_FORMAT, use_colors=False)
    theirs = AccessFormatter(ACCESS_FORMAT, use_colors=False)
    assert ours.format(record(status)) == theirs.format(record(status))
    assert ours.format(record(status)).startswith('INFO:     127.0.0.1:51234 - "GET /api')


def test_colours_and_other_formats_are_left_to_uvicorn() -> None:
    coloured = LeanAccessFormatter(ACCESS_FORMAT, use_colors=True)
    assert coloured.format(record(200)) == AccessFormatter(ACCESS_FORMAT, use_colors=True).format(
        record(200)
    )
    custom = LeanAccessFormatter("%(status_code)s %(request_line)s", use_colors=False)
    assert custom.format(record(201, "/x")) == "201 Created GET /x HTTP/1.1"


def test_served_processes_use_it_for_the_access_log_only() -> None:
    config = log_config()
    assert config["formatters"]["access"]["()"].endswith("LeanAccessFormatter")
    assert config["formatters"]["default"]["()"] == "uvicorn.logging.DefaultFormatter"
