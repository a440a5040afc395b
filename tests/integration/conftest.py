"""Integration fixtures: a service on a real database, talking to a real fake exchange."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.harness import Harness, running_service
from tests.support.receiver import WebhookReceiver


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Harness]:
    """The whole service on SQLite, then on PostgreSQL."""
    async with running_service(database_url) as harness:
        yield harness


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    """A webhook receiver on loopback."""
    hook = await WebhookReceiver().start()
    try:
        yield hook
    finally:
        await hook.stop()
