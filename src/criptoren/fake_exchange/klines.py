"""``<symbol>@kline_<interval>`` streams: the running kline after each batch of trades, and a
closed one (``x: true``) when a trade opens the next interval or a test closes it.

Trades carry the times the fake chose (scripted candles can lie in the future), so a kline
closes on the first trade of a later interval, or on :meth:`KlineStreams.close`, rather than
on the wall clock; closing advances the fake's clock past the kline, so ``/api/v3/klines``
and ``/api/v3/time`` agree that it closed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from criptoren.fake_exchange.records import AggRecord
from criptoren.fake_exchange.tape import INTERVAL_MS

if TYPE_CHECKING:
    from criptoren.fake_exchange.market import Market

KLINE_RE = re.compile(r"^([a-z0-9]+)@kline_(" + "|".join(INTERVAL_MS) + r")$")

Send = Callable[[str, list[dict[str, Any]]], None]


class KlineStreams:
    """Which kline each subscribed stream is building, and their payloads."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.running: dict[str, int] = {}  # stream -> open time of the kline being built

    @staticmethod
    def streams(subs: dict[str, Any], symbol: str) -> list[str]:
        """The subscribed kline streams of ``symbol``."""
        prefix = f"{symbol.lower()}@kline_"
        return [s for s, conns in subs.items() if conns and s.startswith(prefix)]

    def closing(self, streams: Sequence[str], trade_time_ms: int) -> list[tuple[str, int]]:
        """The klines a trade at ``trade_time_ms`` closes (stream, open time); it opens its own."""
        closed = []
        for stream in streams:
            width = INTERVAL_MS[stream.rsplit("_", 1)[1]]
            bucket = trade_time_ms // width * width
            running = self.running.get(stream)
            if running is not None and bucket > running:
                closed.append((stream, running))
            self.running[stream] = bucket
        return closed

    def payload(self, symbol: str, stream: str, open_time: int, closed: bool) -> dict[str, Any]:
        """The kline event of ``stream`` for the interval opening at ``open_time``."""
        interval = stream.rsplit("_", 1)[1]
        end = open_time + INTERVAL_MS[interval] - 1
        rows = self.market.tape(symbol).klines(interval, open_time, end, 1)
        o, h, low, c, v, q, n, taker_v, taker_q = ("0",) * 6 + (0, "0", "0")
        if rows:
            _t, o, h, low, c, v, _end, q, n, taker_v, taker_q, _ignore = rows[0]
        kline = {"t": open_time, "T": end, "s": symbol, "i": interval, "f": -1, "L": -1}
        kline |= {"o": o, "c": c, "h": h, "l": low, "v": v, "n": n, "x": closed}
        kline |= {"q": q, "V": taker_v, "Q": taker_q, "B": "0"}
        return {"e": "kline", "E": self.market.now_ms(), "s": symbol, "k": kline}

    def publish(
        self,
        subs: dict[str, Any],
        symbol: str,
        records: Sequence[AggRecord],
        send: Send,
        send_trades: Callable[[Sequence[AggRecord]], None],
    ) -> None:
        """Send trades with a closed kline just before the first trade of each new interval."""
        streams = self.streams(subs, symbol)
        start = 0
        for i, rec in enumerate(records):
            for stream, open_time in self.closing(streams, rec.T):
                send_trades(records[start:i])
                start = i
                send(stream, [self.payload(symbol, stream, open_time, closed=True)])
        send_trades(records[start:])
        for stream in streams:
            send(stream, [self.payload(symbol, stream, self.running[stream], closed=False)])

    def close(self, subs: dict[str, Any], symbol: str, send: Send) -> None:
        """Close the running klines of ``symbol`` now (the fake's clock moves past them); a
        stream subscribed after the last trade closes that trade's interval."""
        last = self.market.tape(symbol).last
        for stream in self.streams(subs, symbol):
            width = INTERVAL_MS[stream.rsplit("_", 1)[1]]
            open_time = self.running.pop(stream, None)
            if open_time is None:
                if last is None:
                    continue
                open_time = last.T // width * width
            end = open_time + width - 1
            self.market.advance_clock(end + 1)
            send(stream, [self.payload(symbol, stream, open_time, closed=True)])
