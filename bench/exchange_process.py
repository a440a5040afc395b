"""Start a fake exchange in a process of its own, for benchmarks (shared by bench/*.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_exchange(command: list[str]) -> tuple[subprocess.Popen[str], str, str]:
    """Run ``command`` (which prints ``ws_url=… rest_url=…`` once ready); return it and the URLs."""
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(10)
        raise RuntimeError(f"the fake exchange did not start (exit {proc.returncode})")
    fields = dict(part.split("=", 1) for part in line.split())
    return proc, fields["ws_url"], fields["rest_url"]
