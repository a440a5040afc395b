"""Driving `criptoren demo` as a process: its banner and a private temporary folder."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from criptoren.demo import BANNER_END


def read_banner(process: subprocess.Popen[str]) -> dict[str, str]:
    """The variables of the banner's ``export`` lines (read up to its last line)."""
    assert process.stdout is not None
    exports: dict[str, str] = {}
    for line in process.stdout:
        if found := re.match(r"export (\w+)=(\S+)$", line.strip()):
            exports[found.group(1)] = found.group(2)
        if line.startswith(BANNER_END):
            return exports
    raise AssertionError("demo exited before printing its banner")


def demo_env(tmp: Path) -> dict[str, str]:
    """The caller's environment with temporary files kept under ``tmp``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRIPTOREN_")}
    return {**env, "TMPDIR": str(tmp)}
