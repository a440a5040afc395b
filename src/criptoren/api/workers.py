"""``--workers N``: uvicorn's supervisor, with one listening socket per worker.

uvicorn binds one socket in the supervisor and every worker accepts from it. Both workers'
event loops wake on a new connection and the first one accepts every connection queued at
that moment (asyncio accepts in a loop): a client that opens its keep-alive connections
at once (a load balancer, a connection pool, wrk) often lands mostly on one worker, and
that worker serves them all while the other idles. Measured with 32 connections opened at
once to ``serve --workers 2``: splits of 29/3 and 26/6, and in ``bench/api.py --workers
2`` the orders listing at ×0.96 of one worker. Here each worker listens on a socket of
its own, bound to the same address with ``SO_REUSEPORT``, and the kernel spreads new
connections over them by a hash of their addresses.

The price: connections still waiting in a worker's own queue when it dies are reset
(with one shared socket the other worker would take them). The supervisor holds a bound
socket that never listens, so the port stays reserved (and known, for port 0) while
workers come and go.
"""

from __future__ import annotations

import logging
import socket
import sys

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from criptoren.api.serving import StreamingServer

log = logging.getLogger("uvicorn.error")


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` that other such sockets of this user share.

    ``IPPROTO_TCP`` explicitly: asyncio sets TCP_NODELAY only on such sockets (without it
    Nagle's algorithm and delayed ACKs can hold a reply's last segment ≈ 40 ms)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def reserve_port(config: uvicorn.Config) -> socket.socket:
    """The supervisor's socket: bound, never listening; ``config.port`` becomes its port.

    A port already taken ends the process as uvicorn does (its start-up failure status)."""
    try:
        sock = reuse_port_socket(config.host, config.port)
    except OSError as exc:
        log.error(exc)
        sys.exit(STARTUP_FAILURE)
    config.port = int(sock.getsockname()[1])
    log.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", config.host, config.port)
    return sock


class StreamingProcess(Process):
    """A worker whose server is a :class:`StreamingServer` (1001, status 0), listening on
    a socket of its own (:func:`reuse_port_socket`)."""

    @property
    def server(self) -> uvicorn.Server:
        """The worker's server, made in the worker process."""
        if self._server is None:
            self._server = StreamingServer(self.config, settle=True)
        return self._server

    def target(self, sockets: list[socket.socket] | None = None) -> None:
        """In the worker process: bind its own socket, then serve as uvicorn's worker."""
        try:
            own = reuse_port_socket(self.config.host, self.config.port)
        except OSError as exc:
            log.error(exc)
            sys.exit(STARTUP_FAILURE)
        super().target([own])


class StreamingMultiprocess(Multiprocess):
    """uvicorn's supervisor, whose workers, replacements included, are
    :class:`StreamingProcess` workers."""

    def spawn(self) -> StreamingProcess:
        """A started worker."""
        process = StreamingProcess(self.config, self.sockets)
        process.start()
        return process

    def init_processes(self) -> None:
        """Start the workers."""
        self.processes.extend(self.spawn() for _ in range(self.processes_num))

    def keep_subprocess_alive(self) -> None:
        """Replace a worker that died or hangs (uvicorn's rule, with our worker): a worker
        that failed before serving stops everything, as it would fail again."""
        for index, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                log.error("Child process [%s] failed to start, stopping the parent.", process.pid)
                self.should_exit.set()
                return
            log.info("Child process [%s] died", process.pid)
            self.processes[index] = self.spawn()

    def restart_all(self) -> None:
        """On SIGHUP: replace each worker, its replacement serving before the old one goes."""
        for index, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self.spawn()
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                log.error("Child process [%s] was not ready in time; restart aborted", new.pid)
                return
            old.terminate()
            old.join()
            self.processes[index] = new


def serve_workers(config: uvicorn.Config) -> None:
    """Run ``config.workers`` workers until SIGINT or SIGTERM."""
    reservation = reserve_port(config)
    try:
        StreamingMultiprocess(config, sockets=[]).run()  # each worker binds its own
    finally:
        reservation.close()
