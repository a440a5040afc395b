"""`criptoren` with no database to reach, or settings that do not validate: one clear sentence
and exit 1, no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.live import CRIPTOREN, free_port


def _serve(
    database_url: str, tmp_path: Path, *command: str, **settings: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "CRIPTOREN_DATABASE_URL": database_url,
        "CRIPTOREN_BINANCE_REST_URL": f"http://127.0.0.1:{free_port()}",
        "CRIPTOREN_BINANCE_WS_URL": f"ws://127.0.0.1:{free_port()}",
        **settings,
    }
    return subprocess.run(
        [CRIPTOREN, *(command or ("serve", "--port", str(free_port())))],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql+asyncpg://postgres:hunter2@127.0.0.1:{port}/criptoren", "cannot reach"),
        ("sqlite+aiosqlite:///{tmp}/missing/dir/criptoren.db", "does not exist"),
        ("sqlite+aiosqlite:///{tmp}/empty.db", "criptoren migrate"),
        # the form hosting platforms give: once a psycopg2 ModuleNotFoundError traceback
        ("postgres://postgres:hunter2@127.0.0.1:{port}/criptoren", "cannot reach"),
        ("mysql://root:hunter2@127.0.0.1/criptoren", "must be a PostgreSQL URL"),
    ],
    ids=[
        "postgres-refused",
        "sqlite-no-directory",
        "sqlite-no-schema",
        "postgres-scheme",
        "other-database",
    ],
)
def test_serve_exits_1_with_one_sentence(tmp_path: Path, url: str, says: str) -> None:
    done = _serve(url.format(port=free_port(), tmp=tmp_path), tmp_path)
    _assert_one_sentence(done, says)


def _assert_one_sentence(done: subprocess.CompletedProcess[str], says: str) -> None:
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert says in lines[0]
    assert "hunter2" not in done.stderr


def test_a_setting_that_does_not_validate_is_named_without_its_value(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/criptoren.db"
    done = _serve(url, tmp_path, "migrate", CRIPTOREN_DB_POOL_SIZE="hunter2")
    _assert_one_sentence(done, "CRIPTOREN_DB_POOL_SIZE: Input should be a valid integer")


def test_a_client_command_on_a_database_without_schema_says_migrate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"  # not "cannot reach": the database answered
    _assert_one_sentence(_serve(url, tmp_path, "clients", "list"), "run `criptoren migrate`")
