"""``fresh_millisecond``: a trade a test emits is later, by the millisecond clock, than
anything before the call (an order created just before always counts it)."""

from __future__ import annotations

import time

from criptoren.fake_exchange.server import FakeExchange, FakeExchangeConfig


def _emitted_after(fake: FakeExchange) -> list[bool]:
    later = []
    for _ in range(50):
        before_ms = int(time.time() * 1000)
        fake.emit_prices("BTCUSDT", ["60000"])
        last = fake.market.tape("BTCUSDT").last
        assert last is not None
        later.append(before_ms < last.T)
    return later


def test_each_emission_lands_in_a_later_millisecond_than_the_call() -> None:
    assert all(_emitted_after(FakeExchange(FakeExchangeConfig(fresh_millisecond=True))))


def test_without_it_an_emission_shares_the_callers_millisecond() -> None:
    # the case the option exists for: most emissions land in the millisecond of the call
    assert not all(_emitted_after(FakeExchange()))
