"""Feed throughput: socket -> parse -> price book, against the bare websockets receive loop.

Run: ``.venv/bin/python bench/feed.py [--messages 500000]``. The fake exchange runs in
another process and streams recorded BTCUSDT aggregate trades (repeated and relabelled) as
fast as it can, with frames pre-encoded on the server side.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

import exchange_process
from criptoren.market.config import FeedConfig
from criptoren.market.feed import BinanceFeed
from criptoren.market.schemas import AggTrade

ROOT = Path(__file__).resolve().parents[1]
BAR_RATE = 100_000
BAR_RATIO = 0.60


def start_exchange() -> tuple[subprocess.Popen[str], str, str]:
    """Start the fake exchange in its own process; return it and its URLs."""
    return exchange_process.start_exchange(
        [sys.executable, "-m", "criptoren.fake_exchange", "--ws-port", "0", "--rest-port", "0"]
    )


async def control(rest: str, action: str, **params: Any) -> None:
    """POST a ``/_control`` action to the fake exchange process."""
    async with httpx.AsyncClient(base_url=rest, timeout=60) as http:
        reply = await http.post(f"/_control/{action}", params=params)
        reply.raise_for_status()


async def bare(ws_url: str, rest: str, symbol: str, n: int) -> float:
    """The ceiling: websockets' own receive loop, no parsing."""
    stream = f"{symbol.lower()}@aggTrade"
    async with connect(
        f"{ws_url}/stream?streams={stream}", compression=None, ping_interval=None, max_queue=256
    ) as ws:
        await control(rest, "wait_subscribed", stream=stream)
        await control(rest, "blast", symbol=symbol, count=n)
        await ws.recv(decode=False)
        start = time.perf_counter()
        for _ in range(n - 1):
            await ws.recv(decode=False)
        return (n - 1) / (time.perf_counter() - start)


async def feed(ws_url: str, rest: str, symbol: str, n: int) -> float:
    """The real feed client: socket -> orjson -> AggTrade (Decimal) -> price book -> listener."""
    market = BinanceFeed(FeedConfig(ws_url=ws_url, rest_url=rest, ticker=False))
    done = asyncio.Event()
    marks: list[float] = []
    count = 0

    def listener(trade: AggTrade) -> None:
        """Count trades; stamp the first and the last."""
        nonlocal count
        count += 1
        if count == 1:
            marks.append(time.perf_counter())
        elif count == n:
            marks.append(time.perf_counter())
            done.set()

    market.book.add_listener(listener)
    await market.start()
    try:
        await market.watch([symbol])
        await market.wait_for(lambda: market.health()["streams"] == 1)
        await control(rest, "blast", symbol=symbol, count=n)
        await asyncio.wait_for(done.wait(), 300)
    finally:
        await market.stop()
    assert market.book.state(symbol).trades_seen == n
    return (n - 1) / (marks[1] - marks[0])


async def run(n: int, rounds: int) -> dict[str, float]:
    """Best-of-``rounds`` rates of the bare loop and the feed, against one exchange process."""
    proc, ws_url, rest = start_exchange()
    try:
        ceilings, feeds = [], []
        for r in range(rounds):
            ceilings.append(await bare(ws_url, rest, f"BARE{r}USDT", n))
            feeds.append(await feed(ws_url, rest, f"FEED{r}USDT", n))
        return {"bare": max(ceilings), "feed": max(feeds)}
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> int:
    """Run, print the figures and the bars; exit 1 if a bar fails."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(run(args.messages, args.rounds))
    ratio = result["feed"] / result["bare"]
    ok_rate, ok_ratio = result["feed"] >= BAR_RATE, ratio >= BAR_RATIO
    print(f"messages per run         : {args.messages:,} (best of {args.rounds})")
    print(f"bare websockets ceiling  : {result['bare']:,.0f} msg/s")
    print(f"feed (parse + price book): {result['feed']:,.0f} msg/s")
    print(f"ratio feed / ceiling     : {ratio:.0%}")
    print(f"bar >= {BAR_RATE:,} msg/s       : {'PASS' if ok_rate else 'FAIL'}")
    print(f"bar >= {BAR_RATIO:.0%} of ceiling   : {'PASS' if ok_ratio else 'FAIL'}")
    return 0 if ok_rate and ok_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
