"""Price sources: replay a recording, a scripted list, a random walk, a bulk blast."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator, Sequence
from decimal import Decimal

from criptoren.fake_exchange.market import Market
from criptoren.fake_exchange.records import AggRecord, Timed


def _runs(items: Sequence[Timed], batch: int) -> Iterator[tuple[str, list[AggRecord]]]:
    """Consecutive same-symbol records, at most ``batch`` at a time, in order."""
    run: list[AggRecord] = []
    for item in items:
        rec = item.record
        if run and (rec.symbol != run[0].symbol or len(run) >= batch):
            yield run[0].symbol, run
            run = []
        run.append(rec)
    if run:
        yield run[0].symbol, run


async def replay(market: Market, items: Sequence[Timed], speed: float, batch: int = 500) -> None:
    """Emit recorded trades at ``speed``× real time (0 = as fast as possible), in order."""
    if not items:
        return
    if speed <= 0:
        for symbol, run in _runs(items, batch):
            market.emit(symbol, run)
            await asyncio.sleep(0)
        return
    loop = asyncio.get_running_loop()
    start, first = loop.time(), items[0].at
    i = 0
    while i < len(items):
        due = start + (items[i].at - first) / speed
        if (wait := due - loop.time()) > 0:
            await asyncio.sleep(wait)
        now = loop.time()
        j = i
        while j < len(items) and start + (items[j].at - first) / speed <= now:
            j += 1
        for symbol, run in _runs(items[i : max(j, i + 1)], batch):
            market.emit(symbol, run)
        i = max(j, i + 1)


def _step(price: Decimal, rng: random.Random) -> Decimal:
    moved = price * (1 + Decimal(rng.randint(-20, 20)) / 10000)
    return max(moved.quantize(Decimal("0.01")), Decimal("0.01"))


async def random_walk(
    market: Market, start_prices: dict[str, Decimal], interval: float = 0.25, seed: int = 0
) -> None:
    """Emit one trade per symbol every ``interval`` seconds along a random walk (demo)."""
    rng = random.Random(seed)
    prices = dict(start_prices)
    while True:
        for symbol, price in prices.items():
            prices[symbol] = _step(price, rng)
            market.emit_prices(symbol, [prices[symbol]], qty=f"{rng.randint(1, 999) / 1000:.3f}")
        await asyncio.sleep(interval)


async def blast(
    market: Market,
    symbol: str,
    template: Sequence[AggRecord],
    count: int,
    backpressure: Callable[[], Awaitable[None]],
    batch: int = 2000,
) -> None:
    """Emit ``count`` copies of recorded trades (relabelled to ``symbol``) as fast as possible."""
    sent = 0
    while sent < count:
        size = min(batch, count - sent)
        picks = (template[(sent + k) % len(template)] for k in range(size))
        chunk = [AggRecord(symbol, t.p, t.q, t.f, t.l, 0, t.m) for t in picks]
        market.emit(symbol, chunk)
        sent += size
        await backpressure()
