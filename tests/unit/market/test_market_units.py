"""Unit tests: wire parsing, @trade -> @aggTrade aggregation, backoff, pacing, price book."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from criptoren.fake_exchange.frames import agg_trade_frames, encode
from criptoren.fake_exchange.records import aggregate_trades, parse_line
from criptoren.fake_exchange.tape import Tape
from criptoren.market.backoff import Backoff
from criptoren.market.pacer import Pacer
from criptoren.market.pricebook import PriceBook
from criptoren.market.schemas import (
    AggTrade,
    agg_trade_from_rest,
    agg_trade_from_stream,
    mini_ticker_from_stream,
    stream_names,
    symbol_of_stream,
)

AGG = {
    "e": "aggTrade",
    "E": 1617566591455,
    "s": "BTCUSDT",
    "a": 679981367,
    "p": "58000.01000000",
    "q": "0.00100000",
    "f": 752853337,
    "l": 752853338,
    "T": 1617566591454,
    "m": True,
    "M": True,
}


def _trade(t: int, p: str, q: str, ts: int, m: bool) -> dict[str, object]:
    return {"e": "trade", "E": ts + 1, "s": "BTCUSDT", "t": t, "p": p, "q": q, "T": ts, "m": m}


def test_stream_agg_trade_parses_money_exactly() -> None:
    trade = agg_trade_from_stream(AGG)
    assert trade == AggTrade(
        "BTCUSDT", 679981367, Decimal("58000.01"), Decimal("0.001"), 1617566591454, True, False
    )
    assert str(trade.price) == "58000.01000000"  # no float on the way


def test_rest_agg_trade_is_marked_gap_fill() -> None:
    item = {k: AGG[k] for k in "apqflTmM"}
    trade = agg_trade_from_rest("BTCUSDT", item)
    assert trade.gap_fill
    assert trade.agg_id == 679981367


def test_mini_ticker() -> None:
    data = {
        "e": "24hrMiniTicker",
        "E": 1,
        "s": "ETHUSDT",
        "c": "2",
        "o": "1",
        "h": "3",
        "l": "0.5",
        "v": "10",
        "q": "20",
    }
    ticker = mini_ticker_from_stream(data)
    assert (ticker.open, ticker.close, ticker.quote_volume) == (Decimal(1), Decimal(2), Decimal(20))


def test_stream_names() -> None:
    assert stream_names("BTCUSDT", ticker=True) == ("btcusdt@aggTrade", "btcusdt@miniTicker")
    assert symbol_of_stream("ethbtc@aggTrade") == "ETHBTC"


def test_consecutive_trades_with_same_price_side_and_time_aggregate() -> None:
    trades = [
        _trade(10, "1.0", "0.5", 100, True),
        _trade(11, "1.0", "0.25", 100, True),  # joins 10
        _trade(12, "1.0", "1", 100, False),  # other taker side
        _trade(13, "1.1", "1", 100, False),  # other price
        _trade(14, "1.1", "1", 101, False),  # other time
        _trade(16, "1.1", "1", 101, False),  # not consecutive ids
    ]
    aggs = aggregate_trades(trades)
    assert [(a.f, a.l) for a in aggs] == [(10, 11), (12, 12), (13, 13), (14, 14), (16, 16)]
    assert aggs[0].q == "0.75"
    assert aggs[0].trades == ((10, "0.5"), (11, "0.25"))


def test_line_formats() -> None:
    body = b'{"stream":"btcusdt@trade","data":{"e":"trade"}}'
    assert parse_line(b"1723161254087896568 " + body) == (1723161254.087896568, orjson_loads(body))
    ns = parse_line(b'{"recv_ns":2000000000,"msg":' + body + b"}")
    assert ns is not None
    assert ns[0] == 2.0
    ts = parse_line(b'{"recv_ts":1.5,"msg":' + body + b"}")
    assert ts is not None
    assert ts[0] == 1.5
    assert parse_line(b'{"lastUpdateId":1,"bids":[],"asks":[]}') is None


def orjson_loads(body: bytes) -> object:
    import orjson

    return orjson.loads(body)


def test_backoff_grows_caps_and_jitters() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(2000)]
    assert 0.5 <= delays[0] <= 1.0
    assert 1.0 <= delays[1] <= 2.0
    assert all(4.0 <= d <= 8.0 for d in delays[4:])  # capped, never gives up, no overflow
    assert len(set(delays[4:20])) > 1  # jittered
    backoff.reset()
    assert backoff.next_delay() <= 1.0


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="initial"):
        Backoff(initial=0)


def test_pacer_never_allows_more_than_rate_per_window() -> None:
    now = [0.0]
    pacer = Pacer(rate=4, window=1.0, margin=0.0, clock=lambda: now[0])
    for _ in range(4):
        assert pacer.delay() == 0
        pacer._sent.append(now[0])
    assert pacer.delay() == pytest.approx(1.0)
    now[0] = 1.0
    assert pacer.delay() == 0


async def test_pacer_acquire_waits() -> None:
    pacer = Pacer(rate=2, window=0.05, margin=0.0)
    for _ in range(5):
        await pacer.acquire()
    assert len(pacer._sent) <= 2


def test_price_book_drops_duplicates_and_old_ids() -> None:
    book = PriceBook()
    seen: list[int] = []
    book.add_listener(lambda t: seen.append(t.agg_id))
    mk = lambda i: AggTrade("X", i, Decimal(i), Decimal(1), i, False, False)  # noqa: E731
    for i in (1, 2, 2, 1, 3):
        book.apply(mk(i))
    assert seen == [1, 2, 3]
    book.set_last_id("Y", 10)
    assert not book.apply(AggTrade("Y", 10, Decimal(1), Decimal(1), 1, False, False))
    snap = book.snapshot("X")
    assert snap is not None
    assert snap["price"] == "3"
    assert snap["agg_id"] == 3


def test_price_book_tells_a_restart_of_ids_from_a_duplicate() -> None:
    book = PriceBook(max_reorder=100)
    seen: list[int] = []
    resets: list[str] = []
    book.add_listener(lambda t: seen.append(t.agg_id))
    book.add_reset_listener(resets.append)
    mk = lambda i, ms: AggTrade("X", i, Decimal(1), Decimal(1), ms, False, False)  # noqa: E731
    assert book.offer(mk(500, 5000))
    assert book.offer(mk(450, 4500))  # a recent id, repeated with its own time: a duplicate
    assert seen == [500]
    assert resets == []
    assert book.offer(mk(499, 5001))  # below the last id, yet later: the ids restarted
    assert book.offer(mk(500, 5002))
    book.set_last_id("Y", 10_000)
    assert book.apply(AggTrade("Y", 7, Decimal(1), Decimal(1), 1, False, False))  # far behind
    assert seen == [500, 499, 500, 7]
    assert resets == ["X", "Y"]


def test_price_book_survives_a_failing_listener() -> None:
    book = PriceBook()
    seen: list[int] = []

    def broken(trade: AggTrade) -> None:
        raise RuntimeError("boom")

    book.add_listener(broken)
    book.add_listener(lambda t: seen.append(t.agg_id))
    book.apply(AggTrade("X", 1, Decimal(1), Decimal(1), 1, False, False))
    assert seen == [1]


def test_tape_serves_agg_trades_by_id_and_time() -> None:
    tape = Tape("X")
    for rec in aggregate_trades([_trade(i, str(i), "1", 1000 + i, bool(i % 2)) for i in range(10)]):
        rec.a = rec.f + 100
        tape.append(rec)
    assert [r["a"] for r in tape.agg_trades(103, None, None, 3)] == [103, 104, 105]
    assert [r["a"] for r in tape.agg_trades(None, 1008, None, 500)] == [108, 109]
    assert [r["a"] for r in tape.agg_trades(None, None, None, 2)] == [108, 109]
    rows = tape.klines("1s", None, None, 500)
    assert rows[0][0] == 1000
    assert rows[0][1] == "0"
    assert rows[0][4] == "9"


def test_bulk_agg_trade_frames_match_the_generic_encoder() -> None:
    recs = aggregate_trades([_trade(1, "1.50", "2", 10, True), _trade(2, "1.6", "3", 11, False)])
    for i, rec in enumerate(recs):
        rec.a, rec.E = 7 + i, 99
    for combined in (True, False):
        generic = b"".join(encode("x@aggTrade", r.stream(), combined) for r in recs)
        assert agg_trade_frames("x@aggTrade", recs, combined) == generic
