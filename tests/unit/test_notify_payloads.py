"""What travels over NOTIFY between processes: ids and prices, under PostgreSQL's 8000 bytes."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from criptoren.db.notify import ENGINE, MAX_PAYLOAD, PRICES, Notifier
from criptoren.engine.pg_follower import watch_request
from criptoren.market.announced import AnnouncedMarket, PricePublisher
from criptoren.market.pricebook import PriceBook
from criptoren.market.schemas import AggTrade
from criptoren.stream.events import Change, Topic
from criptoren.stream.pg_changes import decode, encode


def notifier() -> Notifier:
    """A sender never started: what it would send stays queued."""
    return Notifier("postgresql://nobody@127.0.0.1:1/none")


def trade(symbol: str, agg_id: int, price: str) -> AggTrade:
    return AggTrade(symbol, agg_id, Decimal(price), Decimal(1), 1_700_000_000_000 + agg_id,
                    False, False)  # fmt: skip


def test_a_change_travels_as_ids_and_comes_back_equal() -> None:
    change = Change(Topic.ORDER, 7, "BTCUSDT", order_id=12, trade_id=3, event="executed")
    payload = encode(change, "node-1")
    assert decode(payload) == (change, "node-1")
    assert len(payload.encode()) < 200


def test_an_alert_firing_travels_with_its_event_id() -> None:
    change = Change(Topic.ALERT, 7, "BTCUSDT", alert_event_id=42)
    assert decode(encode(change, "node-1")) == (change, "node-1")


def test_an_alert_created_or_deleted_travels_with_its_id() -> None:
    for event in ("created", "deleted"):
        change = Change(Topic.ALERT, 7, "BTCUSDT", event=event, alert_id=5)
        assert decode(encode(change, "api-1")) == (change, "api-1")


def test_a_thousand_symbols_announce_in_payloads_under_the_limit() -> None:
    sender = notifier()
    publisher = PricePublisher(sender, PriceBook())
    trades = [trade(f"SYM{n:04d}USDT", n, "123456.12345678") for n in range(1000)]
    publisher.flush(trades)
    sent = sender.queued()
    assert {channel for channel, _ in sent} == {PRICES}
    assert all(len(payload.encode()) <= MAX_PAYLOAD for _, payload in sent)
    announced = [entry for _, payload in sent for entry in orjson.loads(payload)["p"]]
    assert [entry[0] for entry in announced] == [t.symbol for t in trades]


def test_an_api_worker_book_follows_the_announced_prices_and_stale_flags() -> None:
    book = PriceBook()
    engine_book = PriceBook()
    sender = notifier()
    PricePublisher(sender, engine_book).flush([trade("BTCUSDT", 5, "60000.10"),
                                               trade("ETHUSDT", 9, "3000.5")])  # fmt: skip
    market = AnnouncedMarket(notifier(), book)
    heard: list[AggTrade] = []
    book.add_listener(heard.append)
    for _, payload in sender.queued():
        market.on_payload(payload)
    assert book.last_price("BTCUSDT") == Decimal("60000.10")
    assert [t.symbol for t in heard] == ["BTCUSDT", "ETHUSDT"]
    assert market.health()["connected"] is True

    market.on_payload(orjson.dumps({"p": [], "s": ["ETHUSDT"]}).decode())  # a heartbeat
    assert book.stale_symbols() == ["ETHUSDT"]
    market.on_payload(orjson.dumps({"p": [], "s": []}).decode())
    assert book.stale_symbols() == []


async def test_watch_and_release_are_requests_to_the_engine() -> None:
    sender = notifier()
    market = AnnouncedMarket(sender)
    await market.watch(["ETHUSDT", "BTCUSDT", "BTCUSDT"])
    await market.unwatch(["ETHUSDT"])
    assert sender.queued() == [
        (ENGINE, watch_request(["BTCUSDT", "ETHUSDT"])),
        (ENGINE, watch_request(["ETHUSDT"], release=True)),
    ]


async def test_a_symbol_streaming_live_needs_no_watch_request() -> None:
    sender, engine = notifier(), notifier()
    market = AnnouncedMarket(sender)
    PricePublisher(engine, PriceBook()).flush([trade("BTCUSDT", 5, "60000.10")])
    for _, payload in engine.queued():
        market.on_payload(payload)
    await market.watch(["BTCUSDT", "ETHUSDT"])
    assert sender.queued() == [(ENGINE, watch_request(["ETHUSDT"]))]
    market.on_payload(orjson.dumps({"p": [], "s": ["BTCUSDT"]}).decode())  # gone stale
    await market.watch(["BTCUSDT"])
    assert sender.queued()[-1] == (ENGINE, watch_request(["BTCUSDT"]))


def test_an_oversized_payload_is_refused_before_it_reaches_postgresql() -> None:
    with pytest.raises(ValueError, match="payload over"):
        notifier().send(PRICES, "x" * (MAX_PAYLOAD + 1))
