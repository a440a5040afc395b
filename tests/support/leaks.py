"""What asyncio and uvicorn can only log: a task destroyed while pending, an exception
nobody retrieved, an ASGI app that raised. Each is a leak or a bug the test should own."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

WATCHED = ("asyncio", "uvicorn.error")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


@contextmanager
def logged_errors() -> Iterator[list[str]]:
    """Collect ERROR records of the watched loggers while the block runs (any thread)."""
    handler = _Records()
    loggers = [logging.getLogger(name) for name in WATCHED]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
