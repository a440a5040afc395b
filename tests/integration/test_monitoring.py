"""A watchlist change starts (or stops) streaming a symbol only once the request has committed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from criptoren.services import unit_of_work
from criptoren.services.auth import Principal
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
    async with container.session_factory() as session:
        await watchlists.watch(session, caller, "BTCUSDT")
        assert watch.calls == []  # not before the commit
        unit_of_work.discard(session)
        await session.rollback()
    assert watch.calls == []
    async with container.session_factory() as session:
        await watchlists.watch(session, caller, "btcusdt")
        await unit_of_work.commit(session)
    assert watch.calls == [("watch", ["BTCUSDT"])]
    async with container.session_factory() as session:
        await watchlists.unwatch(session, caller, "BTCUSDT")
        await unit_of_work.commit(session)
    assert watch.calls[-1] == ("unwatch", ["BTCUSDT"])
