"""Generated request ids: 32 hex digits, never repeated, not even by a forked child."""

from __future__ import annotations

import multiprocessing
import re

from criptoren.api.request_id import new_request_id


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
