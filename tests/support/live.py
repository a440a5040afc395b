"""Real servers on loopback for end-to-end tests: in a background thread, or as processes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx

from criptoren.fake_exchange import FakeExchange, FakeExchangeConfig

T = TypeVar("T")
CRIPTOREN = str(Path(sys.executable).with_name("criptoren"))
READY_LINE = re.compile(r"Uvicorn running on http://[^\s]+:(\d+)")


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
    )
    # tests place hundreds of orders with one token; the rate-limit tests turn it on
    env.update({"CRIPTOREN_RATE_LIMIT_PER_SECOND": "0", **extra})
    return env


def run_cli(env: dict[str, str], *args: str) -> str:
    """Run ``criptoren ARGS`` to completion; returns its standard output."""
    done = subprocess.run(
        [CRIPTOREN, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


class ServiceProcess:
    """``criptoren serve`` as a subprocess on a port of the OS's choice; its log is kept.

    Port 0: two test runs (or xdist workers) never race for a port picked in advance; the
    port is read from uvicorn's "running on" line.
    """

    def __init__(self, env: dict[str, str], name: str = "serve", args: Sequence[str] = ()) -> None:
        self.name = name
        self.port = 0
        self.lines: list[str] = []
        self._ready = threading.Event()
        self.process = subprocess.Popen(
            [CRIPTOREN, "serve", *args],
            env={**env, "CRIPTOREN_PORT": "0"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:port`` once the service listens."""
        assert self.port, f"{self.name} is not listening yet"
        return f"http://127.0.0.1:{self.port}"

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            listening = READY_LINE.search(line)
            if listening is not None:
                self.port = int(listening.group(1))
                self._ready.set()
        self._ready.set()  # the process ended: wake a waiter, which checks returncode

    def wait_ready(self, within: float = 30.0) -> ServiceProcess:
        """Block until uvicorn logs that it listens (an event set by the log reader)."""
        if not self._ready.wait(within) or self.process.poll() is not None:
            raise AssertionError(f"{self.name} did not start:\n{self.log()}")
        return self

    def log(self) -> str:
        """Everything the process wrote to stderr so far."""
        return "".join(self.lines)

    def kill(self) -> None:
        """SIGKILL: no lifespan shutdown, no cursor flush, connections just vanish."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._join_reader()

    def _join_reader(self) -> None:
        self._reader.join(10)
        if self.process.stderr is not None:
            self.process.stderr.close()

    def stop(self) -> None:
        """Graceful stop (SIGTERM), if still running."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._join_reader()

    def errors(self) -> list[str]:
        """Log lines at ERROR level or with a traceback."""
        return [line for line in self.lines if " ERROR " in line or "Traceback" in line]


@contextmanager
def service_process(
    env: dict[str, str], name: str = "serve", args: Sequence[str] = ()
) -> Iterator[ServiceProcess]:
    """A started ``criptoren serve ARGS``; stopped (if still alive) on exit."""
    service = ServiceProcess(env, name, args)
    try:
        yield service.wait_ready()
    finally:
        service.stop()


def create_client(service: ServiceProcess, env: dict[str, str], name: str) -> tuple[int, str]:
    """Create a client through the served admin API; returns its id and token."""
    admin = {"Authorization": f"Bearer {env['CRIPTOREN_ADMIN_TOKEN']}"}
    url = f"{service.base_url}/api/v1/clients"
    response = httpx.post(url, json={"name": name}, headers=admin, timeout=10)
    assert response.status_code == 201, response.text
    return int(response.json()["id"]), str(response.json()["token"])


def free_port() -> int:
    """A loopback port nobody listens on now (only for a command that cannot take port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
