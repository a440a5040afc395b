"""Replaying the real BTCUSDT and ETHUSDT captures through the fake exchange into the feed."""

from __future__ import annotations

import gzip
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from criptoren.fake_exchange import FakeExchange

HFT = ("ws", "hftbacktest")
BTC_TRADES = "btcusdt_trade_stream_2024-08-08T2354_2024-08-09T0005.jsonl"


def _data(*parts: str) -> Path:
    root = os.environ.get("CRIPTOREN_SHARED_DATA")
    base = Path(root) if root else Path(__file__).parents[3] / ".." / "shared" / "data"
    path = base.joinpath("binance", *parts)
    assert path.is_file(), f"shared data file missing: {path}"  # fail, never skip
    return path


def _trades(path: Path) -> list[dict[str, Any]]:
    out = []
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        for line in fh:
            body = line if line.startswith(b"{") else line.split(b" ", 1)[1]
            doc = orjson.loads(body)
            msg = doc.get("msg", doc)
            data = msg.get("data", {}) if isinstance(msg, dict) else {}
            if data.get("e") == "trade":
                out.append(data)
    return out


def _expected_last(trades: list[dict[str, Any]]) -> tuple[int, Decimal]:
    """(number of aggregate trades, last price), aggregating independently of the fake."""
    groups = 0
    prev: dict[str, Any] | None = None
    for t in trades:
        same = prev is not None and (t["p"], t["m"], t["T"]) == (prev["p"], prev["m"], prev["T"])
        if not (same and prev is not None and t["t"] == prev["t"] + 1):
            groups += 1
        prev = t
    return groups, Decimal(trades[-1]["p"])


async def test_replayed_btcusdt_capture_ends_at_its_last_aggregated_trade(
    fake: FakeExchange, make_market: Any
) -> None:
    btc_path, eth_path = _data(*HFT, BTC_TRADES), _data(*HFT, "ethusdt_20240808.gz")
    btc_count, btc_last = _expected_last(_trades(btc_path))
    eth_count, eth_last = _expected_last(_trades(eth_path))
    assert btc_count > 5000

    market, trades = await make_market(ticker=True)
    await market.watch(["BTCUSDT", "ETHUSDT"])
    await fake.wait_subscribed("btcusdt@aggTrade")
    await fake.wait_subscribed("ethusdt@aggTrade")
    await market.wait_for(lambda: market.health()["streams"] == 4)
    fake.replay(btc_path, speed=0)
    fake.replay(eth_path, speed=0)
    await fake.wait_emitted("BTCUSDT", btc_count, within=30)
    await trades.wait_for(
        lambda: (
            market.book.state("BTCUSDT").last_agg_id == btc_count
            and market.book.state("ETHUSDT").last_agg_id == eth_count
        ),
        within=30,
    )

    assert market.health()["connections"] == 1
    assert market.book.last_price("BTCUSDT") == btc_last
    assert market.book.last_price("ETHUSDT") == eth_last
    btc = trades.of("BTCUSDT")
    assert [t.agg_id for t in btc] == list(range(1, btc_count + 1))  # each once, in order
    assert len(trades.of("ETHUSDT")) == eth_count


async def test_replayed_cryptofeed_agg_trades_keep_their_real_ids(
    fake: FakeExchange, make_market: Any
) -> None:
    path = _data("ws", "cryptofeed", "binance_spot_ws_2021-04-04_btcusdt_ethusdt_dotusdt.jsonl")
    last: dict[str, tuple[int, Decimal]] = {}
    for line in path.read_bytes().splitlines():
        data = orjson.loads(line)["msg"]["data"]
        if data.get("e") == "aggTrade":
            last[data["s"]] = (data["a"], Decimal(data["p"]))
    assert set(last) == {"BTCUSDT", "ETHUSDT", "DOTUSDT"}

    market, trades = await make_market()
    await market.watch(list(last))
    await market.wait_for(lambda: market.health()["streams"] == 3)
    fake.replay(path, speed=0)
    await trades.wait_for(
        lambda: all(market.book.state(s).last_agg_id == a for s, (a, _) in last.items()),
        within=30,
    )
    for symbol, (_, price) in last.items():
        assert market.book.last_price(symbol) == price
        ids = [t.agg_id for t in trades.of(symbol)]
        assert ids == sorted(set(ids))  # in order, never twice
