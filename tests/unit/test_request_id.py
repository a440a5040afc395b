"""Generated request ids: 32 hex digits, never repeated, not even by a forked child."""

from __future__ import annotations

import multiprocessing
import re

from starlette.types import Message, Receive, Scope, Send

from criptoren.api.request_id import RequestId, new_request_id


def test_generated_ids_are_32_hex_digits_and_never_repeat() -> None:
    ids = [new_request_id() for _ in range(10_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def _child_ids(queue: multiprocessing.Queue[list[str]]) -> None:
    queue.put([new_request_id() for _ in range(3)])


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[list[str]] = context.Queue()
    before = new_request_id()
    child = context.Process(target=_child_ids, args=(queue,))
    child.start()
    from_child = queue.get(timeout=10)
    child.join(10)
    after = [new_request_id() for _ in range(3)]
    assert not set(from_child) & {before, *after}
    assert {i[:16] for i in from_child} != {before[:16]}  # a prefix of its own


async def _answer(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"text/plain"), (b"x-request-id", b"from-the-app")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


async def _tagged_headers(offered: bytes | None) -> list[tuple[bytes, bytes]]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    headers = [(b"host", b"test")] + ([(b"x-request-id", offered)] if offered else [])
    scope: Scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    await RequestId(_answer)(scope, receive, send)
    start = sent[0]
    assert start["type"] == "http.response.start"
    return list(start["headers"])


async def test_an_answer_carries_one_request_id_the_callers_sane_one_or_a_fresh_one() -> None:
    kept = await _tagged_headers(b"caller-id.1")
    assert [v for k, v in kept if k == b"x-request-id"] == [b"caller-id.1"]
    assert (b"content-type", b"text/plain") in kept
    fresh = await _tagged_headers(b"not sane!")
    [generated] = [v for k, v in fresh if k == b"x-request-id"]
    assert re.fullmatch(rb"[0-9a-f]{32}", generated)
