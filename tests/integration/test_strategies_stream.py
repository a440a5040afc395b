"""Strategy events on the push stream: ids only, to the strategy's owner."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.test_strategies_live import close_and_settle, start_following, walk
from tests.support.candles import candles, future_minute
from tests.support.harness import Harness, running_service
from tests.support.stream_client import Message, open_stream


@pytest.fixture
async def served(database_url: str) -> AsyncIterator[Harness]:
    """The service on loopback sockets."""
    async with running_service(database_url, served=True) as harness:
        yield harness


def _strategy(event: str) -> object:
    def check(message: Message) -> bool:
        return message["type"] == "strategy" and message.get("event") == event

    return check


async def test_enabled_replaced_entry_and_exit_reach_the_owner_only(served: Harness) -> None:
    _, bob = await served.new_client("bob")
    rows = candles(future_minute(), walk(14, 24))
    async with open_stream(served, bob) as other:
        await other.next()
        # alice is made by start_following; her strategy's events reach her, never bob
        strategy_id, alice, tape = await start_following(served, "channel-breakout", 3, rows)
        async with open_stream(served, alice) as mine:
            await mine.next()
            for candle in rows[2:]:
                await close_and_settle(served, tape, candle, strategy_id)
            for event in ("replaced", "entry", "exit"):
                message = await mine.until(_strategy(event))
                assert message == {"type": "strategy", "event": event, "strategy_id": strategy_id}
            await mine.send(type="ping")  # read what is queued, so closing is quick
            await mine.until(lambda m: m == {"type": "pong"})
        await other.send(type="ping")
        seen = await other.until(lambda m: m == {"type": "pong"} or m["type"] == "strategy")
        assert seen == {"type": "pong"}
