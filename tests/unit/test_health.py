"""Which states make the service ``degraded``."""

from __future__ import annotations

from typing import Any

from criptoren.services.health import degraded_reasons

LIVE: dict[str, Any] = {"connected": True, "symbols": 2, "stale_symbols": ["ETHUSDT"]}


def codes(database_ok: bool, symbols: int | None, feed: dict[str, Any]) -> list[str]:
    return [r["code"] for r in degraded_reasons(database_ok, symbols, feed)]


def test_one_stale_symbol_of_two_is_still_ok() -> None:
    assert codes(True, 100, LIVE) == []


def test_nothing_watched_is_ok_although_nothing_is_connected() -> None:
    assert codes(True, 100, {"connected": False, "symbols": 0, "stale_symbols": []}) == []


def test_each_reason() -> None:
    assert codes(False, None, LIVE) == ["database_unavailable"]
    assert codes(True, 0, LIVE) == ["no_symbols"]
    down = {"connected": False, "symbols": 1, "stale_symbols": ["BTCUSDT"]}
    assert codes(True, 5, down) == ["feed_disconnected", "all_symbols_stale"]
