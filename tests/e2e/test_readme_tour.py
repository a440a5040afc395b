"""The README's five-minute tour, run verbatim (with curl) against `make demo PORT=…`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.demo import demo_env, read_banner
from tests.support.live import free_port
from tests.support.paths import REPO_ROOT

VENV = Path(sys.executable).parent.parent
# every curl of the tour must succeed: an HTTP error fails the script
STRICT = 'set -euo pipefail\ncurl() { command curl --fail-with-body --max-time 20 "$@"; }\n'


def tour_commands() -> str:
    """The tour's shell block, minus the line that starts the demo (the test starts it)."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Five-minute tour", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None
    lines = block.group(1).splitlines()
    assert lines[0].startswith("make demo")
    return "\n".join(lines[1:]) + "\n"


def test_readme_tour_runs_verbatim_against_make_demo(tmp_path: Path) -> None:
    port = free_port()
    # -o venv: use this test run's virtualenv as is, do not reinstall it
    with subprocess.Popen(
        ["make", "-o", "venv", "demo", f"PORT={port}", f"VENV={VENV}"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=demo_env(tmp_path),
        start_new_session=True,  # one process group: make and the demo it runs stop together
    ) as demo:
        try:
            exports = read_banner(demo)
            assert exports["BASE"] == f"http://127.0.0.1:{port}"
            exported = "".join(f"export {name}={value}\n" for name, value in exports.items())
            tour = subprocess.run(
                ["bash", "-c", STRICT + exported + tour_commands()],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                env={"PATH": os.environ["PATH"]},
            )
            assert tour.returncode == 0, f"{tour.stdout}\n{tour.stderr}"
            assert '{"status":"OK"}' in tour.stdout
            auth = {"Authorization": f"Bearer {exports['TOKEN']}"}
            with httpx.Client(base_url=exports["BASE"], headers=auth, timeout=5) as http:
                deadline = time.monotonic() + 30
                # the demo is another process: poll until the tour's firing order is executed
                while time.monotonic() < deadline:
                    executed = http.get("/ordens", params={"status": "executed"}).json()
                    if any(order["symbol"] == "ETHUSDT" for order in executed):
                        break
                else:
                    raise AssertionError("the tour's ETHUSDT order never executed")
        finally:
            os.killpg(demo.pid, signal.SIGTERM)
            demo.wait(20)
    assert list(tmp_path.glob("criptoren-demo-*")) == []
