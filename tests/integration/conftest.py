"""Integration fixtures: a service on a real database, talking to a real fake exchange."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.harness import Harness, running_service


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Harness]:
    """The whole service on SQLite, then on PostgreSQL."""
    async with running_service(database_url) as harness:
        yield harness
