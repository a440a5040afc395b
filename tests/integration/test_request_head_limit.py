"""A request's line and headers have a limit: httptools would buffer them for ever."""

from __future__ import annotations

import asyncio
import json

from tests.support.harness import running_service


async def _exchange(port: int, head: bytes) -> tuple[bytes, bytes]:
    """Send ``head`` on a new connection; the answer's status line and body, read to EOF."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 10)  # the server closes: EOF
    finally:
        writer.close()
    status, _, body = answer.partition(b"\r\n\r\n")
    return status.split(b"\r\n", 1)[0], body


def _get(extra_header: bytes) -> bytes:
    return b"GET / HTTP/1.1\r\nHost: criptoren\r\n" + extra_header + b"Connection: close\r\n\r\n"


async def test_a_head_over_64_kib_is_refused_and_the_server_goes_on(database_url: str) -> None:
    async with running_service(database_url, served=True) as service:
        assert service.ws_url is not None
        port = int(service.ws_url.rsplit(":", 1)[1])
        cookie = b"Cookie: " + b"a" * 16_000 + b"\r\n"  # large, as real cookies get: served
        status, body = await _exchange(port, _get(cookie))
        assert status == b"HTTP/1.1 200 OK"
        assert json.loads(body) == {"status": "OK"}
        status, body = await _exchange(port, _get(b"X-Big: " + b"a" * 70_000 + b"\r\n"))
        assert status == b"HTTP/1.1 431 Request Header Fields Too Large"
        assert json.loads(body)["error"]["code"] == "headers_too_large"
        many = b"".join(b"X-H%d: %s\r\n" % (n, b"b" * 100) for n in range(700))
        status, _ = await _exchange(port, _get(many))  # many headers count together
        assert status == b"HTTP/1.1 431 Request Header Fields Too Large"
        reply = await service.http.get("/")
        assert reply.json() == {"status": "OK"}
