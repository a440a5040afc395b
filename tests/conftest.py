"""Fixtures shared by every test layer."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from criptoren.db.migrate import upgrade
from tests.support.databases import run_database_name, skip_or_fail, sqlite_copy, truncate
from tests.support.leaks import logged_errors
from tests.support.processes import scratch_postgres


def pytest_configure(config: pytest.Config) -> None:
    """No CA bundle: tests talk to loopback over plain HTTP and WebSocket only.

    httpx parses the whole CA bundle (``SSL_CERT_FILE`` or certifi's) each time a client is
    built, 0.1 s of CPU, and every service a test starts builds two; a CA directory is read
    only on a TLS handshake, which no test makes. (Also inherited by served processes.)
    """
    os.environ.pop("SSL_CERT_FILE", None)
    os.environ["SSL_CERT_DIR"] = os.devnull


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark PostgreSQL-parametrised tests ``postgres``; run ``slow`` tests first.

    Slow first: with xdist workers the long tests start early and the short ones fill in
    around them, instead of one worker finishing a long test alone at the end.
    """
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "postgres" in callspec.params.values():
            item.add_marker(pytest.mark.postgres)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _no_logged_async_errors() -> Iterator[None]:
    """Fail a test during which asyncio or uvicorn logged an error it could not raise."""
    with logged_errors() as errors:
        yield
    if errors:
        pytest.fail("logged, not raised:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[tuple[str | None, str]]:
    """This run's own migrated PostgreSQL database (or ``None``) and why it is missing.

    Created under a name no other run uses, dropped when the run ends.
    """
    with scratch_postgres(run_database_name()) as url:
        if url is None:
            yield None, "PostgreSQL is not reachable on the test server"
            return
        asyncio.run(upgrade(url))
        yield url, ""


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_url: tuple[str | None, str],
) -> str:
    """A fresh, migrated database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        return sqlite_copy(sqlite_template, tmp_path / "criptoren.db")
    return await emptied_postgres(postgres_url)


async def emptied_postgres(postgres_url: tuple[str | None, str]) -> str:
    """This run's PostgreSQL database, emptied (skipped, or failed when required, if none)."""
    url, reason = postgres_url
    if url is None:
        skip_or_fail(reason)
        raise AssertionError("unreachable")
    await truncate(url)
    return url
