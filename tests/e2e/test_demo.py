"""`criptoren demo`: one command, no internet, moving prices, nothing left behind."""

from __future__ import annotations

import subprocess
import time
from decimal import Decimal
from pathlib import Path

import httpx

from criptoren.demo import BANNER_END
from tests.support.demo import demo_env, read_banner
from tests.support.live import CRIPTOREN, free_port

DEADLINE_SECONDS = 30


def test_demo_serves_moving_prices_and_cleans_up(tmp_path: Path) -> None:
    port = free_port()
    with subprocess.Popen(
        [CRIPTOREN, "demo", "--port", str(port), "--interval", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=demo_env(tmp_path),
    ) as process:
        try:
            exports = read_banner(process)
            assert exports["BASE"] == f"http://127.0.0.1:{port}"
            assert list(tmp_path.glob("criptoren-demo-*"))  # its database lives there meanwhile
            auth = {"Authorization": f"Bearer {exports['TOKEN']}"}
            with httpx.Client(base_url=exports["BASE"], headers=auth, timeout=5) as http:
                seen: set[Decimal] = set()
                deadline = time.monotonic() + DEADLINE_SECONDS
                # a subprocess gives no event to await: poll the endpoint until prices move
                while len(seen) < 3 and time.monotonic() < deadline:
                    state = http.get("/monitorar-par/BTCUSDT").json()
                    if state["last_price"] is not None:
                        seen.add(Decimal(state["last_price"]))
                assert len(seen) >= 3, seen
                assert http.get("/healthz").json()["feed"]["connected"] is True
        finally:
            process.terminate()
            process.wait(20)
    assert process.returncode == 0
    assert list(tmp_path.glob("criptoren-demo-*")) == []


def test_demo_on_a_taken_port_says_so_in_one_line(tmp_path: Path) -> None:
    port = free_port()
    with subprocess.Popen(
        [CRIPTOREN, "demo", "--port", str(port)], stdout=subprocess.PIPE, env=demo_env(tmp_path)
    ) as first:
        try:
            assert first.stdout is not None
            for line in first.stdout:
                if line.startswith(BANNER_END.encode()):
                    break
            second = subprocess.run(
                [CRIPTOREN, "demo", "--port", str(port)],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                env=demo_env(tmp_path),
            )
        finally:
            first.terminate()
            first.wait(20)
    assert second.returncode == 1
    assert second.stderr.strip().splitlines() == [second.stderr.strip()]
    assert f"PORT={port + 1}" in second.stderr
    assert list(tmp_path.glob("criptoren-demo-*")) == []
