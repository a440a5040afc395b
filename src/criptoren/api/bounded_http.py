"""Uvicorn's httptools protocol with a limit on a request's line and headers.

httptools buffers a request's head for as long as it grows (20 MB were accepted here), and
uvicorn sets no limit for it (its ``h11`` protocol has one, 16 KiB, at several times the
CPU per request). This one counts the bytes received before a request's headers are
complete and answers ``431`` (the JSON error shape) past :data:`MAX_HEAD_BYTES`.
"""

from __future__ import annotations

from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from criptoren.api.errors import HTTP_CODES

MAX_HEAD_BYTES = 64 * 1024  # the request line and headers: nginx's default is 32 KiB
_TOO_LARGE = HTTP_CODES[431]
_BODY = orjson.dumps(
    {
        "error": {
            "code": _TOO_LARGE,
            "message": f"the request line and headers are larger than {MAX_HEAD_BYTES} bytes",
        }
    }
)
_RESPONSE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/json\r\n"
    b"content-length: " + str(len(_BODY)).encode("ascii") + b"\r\n"
    b"connection: close\r\n\r\n" + _BODY
)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that refuses a request head over :data:`MAX_HEAD_BYTES`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_body = False

    def data_received(self, data: bytes) -> None:
        """Count what arrives until the headers are complete; refuse past the limit."""
        if not self._in_body:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self.logger.warning("Request line and headers over %d bytes.", MAX_HEAD_BYTES)
                self.transport.write(_RESPONSE)
                self.transport.close()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        """The head is complete: what follows is the body."""
        self._in_body = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The next request's head counts from zero (keep-alive)."""
        self._in_body = False
        self._head_bytes = 0
        super().on_message_complete()
