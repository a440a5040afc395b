"""`criptoren serve` with no database to reach: one clear sentence and exit 1, no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.live import CRIPTOREN, free_port


def _serve(database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "CRIPTOREN_DATABASE_URL": database_url,
        "CRIPTOREN_BINANCE_REST_URL": f"http://127.0.0.1:{free_port()}",
        "CRIPTOREN_BINANCE_WS_URL": f"ws://127.0.0.1:{free_port()}",
    }
    return subprocess.run(
        [CRIPTOREN, "serve", "--port", str(free_port())],
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
    ],
    ids=["postgres-refused", "sqlite-no-directory", "sqlite-no-schema"],
)
def test_serve_exits_1_with_one_sentence(tmp_path: Path, url: str, says: str) -> None:
    done = _serve(url.format(port=free_port(), tmp=tmp_path), tmp_path)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert says in lines[0]
    assert "hunter2" not in done.stderr
