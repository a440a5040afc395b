"""A watchlist change starts (or stops) streaming a symbol only once the request has committed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from criptoren.services.auth import Principal
from criptoren.services.unit_of_work import UnitOfWork
from criptoren.services.watchlists import WatchlistService
from tests.support.harness import Harness


class _RecordingWatch:
    """A ``MarketWatch`` that notes what it was asked to stream."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    async def watch(self, symbols: Iterable[str]) -> None:
        self.calls.append(("watch", list(symbols)))

    async def unwatch(self, symbols: Iterable[str]) -> None:
        self.calls.append(("unwatch", list(symbols)))

    def snapshot(self, symbol: str) -> Mapping[str, Any] | None:
        return None

    def health(self) -> Mapping[str, Any]:
        return {}


async def test_a_rolled_back_monitor_request_streams_nothing(service: Harness) -> None:
    watch = _RecordingWatch()
    container = service.container
    watchlists = WatchlistService(container.symbols, watch, container.orders.prices)
    client_id, _ = await service.new_client()
    caller = Principal(client_id=client_id)
    work = UnitOfWork(container.session_factory, container.database)
    await watchlists.watch(work, caller, "BTCUSDT")
    assert watch.calls == []  # not before the commit
    await work.rollback()
    assert watch.calls == []
    work = UnitOfWork(container.session_factory, container.database)
    await watchlists.watch(work, caller, "btcusdt")
    await work.commit()
    assert watch.calls == [("watch", ["BTCUSDT"])]
    work = UnitOfWork(container.session_factory, container.database)
    await watchlists.unwatch(work, caller, "BTCUSDT")
    await work.commit()
    assert watch.calls[-1] == ("unwatch", ["BTCUSDT"])
