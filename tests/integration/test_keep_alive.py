"""An API client's idle keep-alive connection outlives a pause of several seconds.

Clients keep idle connections (requests/urllib3 never expire them; httpx 5 s): a server
that closes one after 5 s idle, as uvicorn does by default, races the client's next
request, and a POST lost so leaves the client unsure whether its order was placed.
"""

from __future__ import annotations

import asyncio

from tests.support.harness import running_service

REQUEST = b"GET / HTTP/1.1\r\nHost: criptoren\r\n\r\n"


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(REQUEST)
    await writer.drain()
    return await asyncio.wait_for(reader.readuntil(b"}"), 10)  # GET / is {"status":"OK"}


async def test_a_connection_idle_for_six_seconds_still_serves_the_next_request(
    database_url: str,
) -> None:
    async with running_service(database_url, served=True) as service:
        assert service.ws_url is not None
        port = int(service.ws_url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            assert (await _answer(reader, writer)).startswith(b"HTTP/1.1 200")
            await asyncio.sleep(6)  # the idle time under test, past uvicorn's 5 s default
            assert (await _answer(reader, writer)).startswith(b"HTTP/1.1 200")
        finally:
            writer.close()
