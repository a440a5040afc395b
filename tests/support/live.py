"""Real servers on loopback for end-to-end tests: in a background thread, or as processes."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from criptoren.fake_exchange import FakeExchange, FakeExchangeConfig

T = TypeVar("T")
CRIPTOREN = str(Path(sys.executable).with_name("criptoren"))


class LoopThread:
    """An event loop running in its own thread, for servers that sync tests talk to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``coroutine`` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop and join the thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@contextmanager
def fake_exchange_in_thread(**config: Any) -> Iterator[tuple[LoopThread, FakeExchange]]:
    """A fake exchange serving from a background loop."""
    loop = LoopThread()
    exchange = FakeExchange(FakeExchangeConfig(**config))
    loop.run(exchange.start())
    try:
        yield loop, exchange
    finally:
        loop.run(exchange.stop())
        loop.close()


def service_env(tmp: Path, exchange: FakeExchange, **extra: str) -> dict[str, str]:
    """Environment for a ``criptoren`` process on a SQLite file, talking to ``exchange``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRIPTOREN_")}
    env.update(
        CRIPTOREN_DATABASE_URL=f"sqlite+aiosqlite:///{tmp / 'criptoren.db'}",
        CRIPTOREN_BINANCE_REST_URL=exchange.rest_url,
        CRIPTOREN_BINANCE_WS_URL=exchange.ws_url,
        CRIPTOREN_ADMIN_TOKEN="admin-token-for-e2e-0123456789",
        **extra,
    )
    return env


def run_cli(env: dict[str, str], *args: str) -> str:
    """Run ``criptoren ARGS`` to completion; returns its standard output."""
    done = subprocess.run(
        [CRIPTOREN, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@contextmanager
def serving(env: dict[str, str], port: int) -> Iterator[subprocess.Popen[str]]:
    """``criptoren serve`` as a process; returns once uvicorn says it is listening."""
    process = subprocess.Popen(
        [CRIPTOREN, "serve", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        _wait_for_line(process, lambda line: "Uvicorn running on" in line)
        yield process
    finally:
        process.terminate()
        process.wait(20)


def _wait_for_line(process: subprocess.Popen[str], ready: Callable[[str], bool]) -> None:
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if ready(line):
            threading.Thread(target=process.stderr.read, daemon=True).start()  # keep draining
            return
    raise AssertionError("server exited before listening:\n" + "".join(seen))


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
