"""`criptoren demo`: one command, no internet, moving prices."""

from __future__ import annotations

import re
import subprocess
import time
from decimal import Decimal

import httpx

from tests.support.live import CRIPTOREN, free_port

DEADLINE_SECONDS = 30


def _read_banner(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    banner = []
    for line in process.stdout:
        banner.append(line)
        if line.startswith("Try:"):
            return "".join(banner)
    raise AssertionError("demo exited before printing its banner")


def test_demo_serves_moving_prices() -> None:
    port = free_port()
    with subprocess.Popen(
        [CRIPTOREN, "demo", "--port", str(port), "--interval", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            banner = _read_banner(process)
            token = re.search(r"client\s+id \d+, token (\S+)", banner)
            assert token is not None, banner
            auth = {"Authorization": f"Bearer {token.group(1)}"}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=5) as http:
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
