"""Pre-encoded WebSocket frames (server side, unmasked), so the sender is never the bottleneck."""

from __future__ import annotations

import struct
from typing import Any

import orjson

from criptoren.fake_exchange.records import AggRecord

_AGG_COMBINED = (
    b'{"stream":"%s","data":{"e":"aggTrade","E":%d,"s":"%s","a":%d,"p":"%s","q":"%s",'
    b'"f":%d,"l":%d,"T":%d,"m":%s,"M":true}}'
)
_AGG_RAW = (
    b'{"e":"aggTrade","E":%d,"s":"%s","a":%d,"p":"%s","q":"%s",'
    b'"f":%d,"l":%d,"T":%d,"m":%s,"M":true}'
)


def text_frame(payload: bytes) -> bytes:
    """One complete, final, unmasked text frame."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def encode(stream: str, data: dict[str, Any], combined: bool) -> bytes:
    """The frame of one event, wrapped for a combined connection or raw."""
    if combined:
        return text_frame(orjson.dumps({"stream": stream, "data": data}))
    return text_frame(orjson.dumps(data))


def agg_trade_frames(stream: str, records: list[AggRecord], combined: bool) -> bytes:
    """Frames of many ``aggTrade`` events, formatted straight to bytes (the bulk hot path).

    Symbols are alphanumeric and prices/quantities numeric strings, so no JSON escaping
    is needed; the output is byte-identical to ``encode(stream, rec.stream(), combined)``.
    """
    name = stream.encode()
    parts = []
    for r in records:
        fields = (r.E, r.symbol.encode(), r.a, r.p.encode(), r.q.encode(), r.f, r.l, r.T)
        maker = b"true" if r.m else b"false"
        if combined:
            parts.append(text_frame(_AGG_COMBINED % (name, *fields, maker)))
        else:
            parts.append(text_frame(_AGG_RAW % (*fields, maker)))
    return b"".join(parts)
