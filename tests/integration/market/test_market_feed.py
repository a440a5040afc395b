"""The feed client against the fake exchange: subscriptions, gaps, rotation, staleness."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from criptoren.fake_exchange import FakeExchange
from criptoren.fake_exchange.records import AggRecord


def _opened(log: list[tuple[str, int]]) -> list[int]:
    return [cid for kind, cid in log if kind == "open"]


async def test_subscribe_unsubscribe_and_resubscribe_after_drop(
    fake: FakeExchange, make_market: Any
) -> None:
    market, trades = await make_market()
    await market.watch(["BTCUSDT"])
    await fake.wait_subscribed("btcusdt@aggTrade")
    fake.emit_prices("BTCUSDT", ["100.1"])
    await trades.wait_count("BTCUSDT", 1)

    await market.unwatch(["BTCUSDT"])
    await fake.wait_unsubscribed("btcusdt@aggTrade")
    assert market.monitored() == []

    await market.watch(["BTCUSDT", "ETHUSDT"])
    await fake.wait_subscribed("ethusdt@aggTrade")
    fake.drop_connections()
    await fake.wait_log(
        lambda log: (
            len(_opened(log)) >= 2
            and fake.streams.subscribers("btcusdt@aggTrade") == 1
            and fake.streams.subscribers("ethusdt@aggTrade") == 1
        )
    )
    await market.wait_for(lambda: market.health()["reconnects"] >= 1)
    fake.emit_prices("ETHUSDT", ["2500.5"])
    await trades.wait_count("ETHUSDT", 1)
    assert market.snapshot("ETHUSDT")["price"] == "2500.5"
    assert market.health()["connected"]


async def test_300_symbols_on_one_connection_within_the_rate_limit(
    fake: FakeExchange, make_market: Any
) -> None:
    market, trades = await make_market(ticker=True, params_per_message=50)
    symbols = [f"S{i:03d}USDT" for i in range(300)]
    await market.watch(symbols)
    await fake.wait_log(
        lambda log: all(fake.streams.subscribers(f"{s.lower()}@miniTicker") == 1 for s in symbols),
        within=20,
    )
    await market.wait_for(lambda: market.health()["streams"] == 600)
    assert fake.streams.log == [("open", fake.streams.log[0][1])]  # one connection, never cut
    assert market.health()["connections"] == 1
    fake.emit_prices("S299USDT", ["1.5"])
    await trades.wait_count("S299USDT", 1)


async def test_price_reached_only_while_paused_is_seen_once_in_order(
    fake: FakeExchange, make_market: Any
) -> None:
    market, trades = await make_market()
    await market.watch(["BTCUSDT"])
    await fake.wait_subscribed("btcusdt@aggTrade")
    fake.emit_prices("BTCUSDT", ["100", "101"])
    await trades.wait_count("BTCUSDT", 2)

    fake.pause("BTCUSDT")
    fake.emit_prices("BTCUSDT", ["90", "89.5", "95"])  # the dip happens only in the gap
    fake.resume("BTCUSDT")
    fake.emit_prices("BTCUSDT", ["102"])
    await trades.wait_count("BTCUSDT", 6)

    got = trades.of("BTCUSDT")
    assert [t.agg_id for t in got] == [1, 2, 3, 4, 5, 6]
    assert [str(t.price) for t in got] == ["100", "101", "90", "89.5", "95", "102"]
    # 102 may come from REST or live, whichever first; never both
    assert [t.gap_fill for t in got[:5]] == [False, False, True, True, True]


async def test_price_reached_while_disconnected_is_seen_once_in_order(
    fake: FakeExchange, make_market: Any
) -> None:
    market, trades = await make_market()
    await market.watch(["BTCUSDT", "ETHUSDT"])
    await fake.wait_subscribed("ethusdt@aggTrade")
    fake.emit_prices("BTCUSDT", ["100"])
    fake.emit_prices("ETHUSDT", ["10"])
    await trades.wait_count("ETHUSDT", 1)

    fake.drop_connections()
    await fake.wait_log(lambda log: ("close", _opened(log)[0]) in log)
    fake.emit_prices("BTCUSDT", [str(p) for p in range(50, 80)])  # nobody is connected
    await fake.wait_subscribed("btcusdt@aggTrade")
    fake.emit_prices("BTCUSDT", ["120"])
    await trades.wait_count("BTCUSDT", 32)

    got = trades.of("BTCUSDT")
    assert [t.agg_id for t in got] == list(range(1, 33))
    assert [t.price for t in got] == [Decimal(100), *map(Decimal, range(50, 80)), Decimal(120)]
    assert market.health()["gap_filled_trades"] >= 30


async def test_server_shutdown_opens_the_new_connection_before_the_old_closes(
    fake: FakeExchange, make_market: Any
) -> None:
    market, trades = await make_market()
    await market.watch(["BTCUSDT"])
    await fake.wait_subscribed("btcusdt@aggTrade")
    first = _opened(fake.streams.log)[0]

    fake.server_shutdown(close_after=5.0)
    await fake.wait_log(lambda log: ("close", first) in log)
    log = fake.streams.log
    second = _opened(log)[1]
    assert log.index(("open", second)) < log.index(("close", first))
    assert fake.streams.subscribers("btcusdt@aggTrade") == 1
    fake.emit_prices("BTCUSDT", ["7"])
    await trades.wait_count("BTCUSDT", 1)


async def test_stalled_stream_is_marked_stale_and_recycled(
    fake: FakeExchange, make_market: Any
) -> None:
    market, trades = await make_market(stale_after=0.3)
    await market.watch(["BTCUSDT"])
    await fake.wait_subscribed("btcusdt@aggTrade")
    first = _opened(fake.streams.log)[0]
    fake.emit_prices("BTCUSDT", ["1"])
    await trades.wait_count("BTCUSDT", 1)

    fake.stall()  # the connection stays open but sends nothing
    fake.emit_prices("BTCUSDT", ["2"])
    await market.wait_for(lambda: market.health()["stale_symbols"] == ["BTCUSDT"])
    await fake.wait_log(lambda log: ("close", first) in log, within=5)
    await fake.wait_subscribed("btcusdt@aggTrade")
    await trades.wait_count("BTCUSDT", 2)  # filled from REST after the recycle
    fake.emit_prices("BTCUSDT", ["3"])
    await trades.wait_count("BTCUSDT", 3)
    assert [t.agg_id for t in trades.of("BTCUSDT")] == [1, 2, 3]
    assert trades.of("BTCUSDT")[1].gap_fill


async def test_resume_point_fills_downtime_at_start(fake: FakeExchange, make_market: Any) -> None:
    fake.emit_prices("BTCUSDT", ["1", "2", "3", "4", "5"])
    market, trades = await make_market()
    market.set_resume_point("BTCUSDT", 2)
    await market.watch(["BTCUSDT"])
    await trades.wait_count("BTCUSDT", 3)
    got = trades.of("BTCUSDT")
    assert [(t.agg_id, str(t.price), t.gap_fill) for t in got] == [
        (3, "3", True),
        (4, "4", True),
        (5, "5", True),
    ]


async def test_mini_ticker_fills_24h_statistics(fake: FakeExchange, make_market: Any) -> None:
    market, _ = await make_market(ticker=True)
    await market.watch(["ETHUSDT"])
    await fake.wait_subscribed("ethusdt@miniTicker")
    fake.emit_prices("ETHUSDT", ["10", "12", "9", "11"])
    await market.wait_for(lambda: (market.snapshot("ETHUSDT") or {}).get("close") == "11", within=5)
    snap = market.snapshot("ETHUSDT")
    assert snap is not None
    assert (snap["open"], snap["high"], snap["low"], snap["change"]) == ("10", "12", "9", "1")


async def test_connection_is_rotated_before_its_maximum_age(
    fake: FakeExchange, make_market: Any
) -> None:
    market, trades = await make_market(max_connection_age=0.5)
    await market.watch(["BTCUSDT"])
    await fake.wait_subscribed("btcusdt@aggTrade")
    first = _opened(fake.streams.log)[0]
    await fake.wait_log(lambda log: ("close", first) in log, within=5)
    log = fake.streams.log
    assert log.index(("open", _opened(log)[1])) < log.index(("close", first))
    fake.emit_prices("BTCUSDT", ["1"])
    await trades.wait_count("BTCUSDT", 1)


async def test_streams_are_spread_over_connections_of_limited_size(
    fake: FakeExchange, make_market: Any
) -> None:
    market, trades = await make_market(ticker=True, max_streams_per_connection=4)
    await market.watch(["BTCUSDT", "ETHUSDT", "ETHBTC"])
    await market.wait_for(lambda: market.health()["streams"] == 6)
    assert market.health()["connections"] == 2
    assert len(fake.streams.conns) == 2
    fake.emit_prices("ETHBTC", ["0.05"])
    await trades.wait_count("ETHBTC", 1)


async def test_resume_point_older_than_the_look_back_starts_at_the_look_back(
    fake: FakeExchange, make_market: Any
) -> None:
    fake.market.keep_times = True
    now = fake.market.now_ms()
    old = [AggRecord("BTCUSDT", str(p), "1", p, p, now - 7_200_000, False) for p in (1, 2, 3)]
    new = [AggRecord("BTCUSDT", str(p), "1", p, p, now, False) for p in (4, 5)]
    fake.market.emit("BTCUSDT", old + new)
    market, trades = await make_market(gap_fill_lookback=3600.0)
    market.set_resume_point("BTCUSDT", 1)
    await market.watch(["BTCUSDT"])
    await trades.wait_count("BTCUSDT", 2)
    await market.sequencer.idle()
    assert [t.agg_id for t in trades.of("BTCUSDT")] == [4, 5]
