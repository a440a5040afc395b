"""Short-lived in-process memory of database answers, safe against changes in flight."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    """Values remembered for ``ttl`` seconds (``0``: never).

    A change in this process calls :meth:`forget`, which also voids every lookup still in
    flight: a value read before the change is offered with the ``generation`` seen before
    the read and is then not stored. A change made by another process is seen within
    ``ttl``.
    """

    def __init__(
        self, ttl: float, clock: Callable[[], float] = time.monotonic, size: int = 10_000
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self.size = size
        self.generation = 0
        self._entries: dict[K, tuple[V, float]] = {}

    def get(self, key: K) -> V | None:
        """The remembered value, if still fresh."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            del self._entries[key]
            return None
        return entry[0]

    def put(self, key: K, value: V, generation: int) -> None:
        """Remember ``value`` unless :meth:`forget` ran since ``generation`` was read."""
        if self.ttl <= 0 or generation != self.generation:
            return
        if len(self._entries) >= self.size:
            self._entries.clear()  # only a flood of distinct keys gets here
        self._entries[key] = (value, self.clock() + self.ttl)

    def forget(self, matches: Callable[[K, V], bool] = lambda _k, _v: True) -> None:
        """Drop the entries ``matches`` selects (all by default) and void lookups in flight."""
        self.generation += 1
        for key in [k for k, (v, _) in self._entries.items() if matches(k, v)]:
            del self._entries[key]
