"""A stream's buffer: prices coalesce, other messages queue in order, overflow closes 4008."""

from __future__ import annotations

import asyncio

from criptoren.stream.connection import OVERFLOW, StreamConnection


class RecordingSender:
    """Records what is sent; can hold the writer inside ``send`` until released."""

    def __init__(self, *, hold: bool = False) -> None:
        self.sent: list[str] = []
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.changed = asyncio.Event()
        if not hold:
            self.release.set()

    async def send(self, message: str) -> None:
        self.entered.set()
        await self.release.wait()
        self.sent.append(message)
        self.changed.set()

    async def wait_sent(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.sent) < count:
                self.changed.clear()
                await self.changed.wait()


async def test_latest_price_per_symbol_wins_and_messages_go_first() -> None:
    sender = RecordingSender()
    connection = StreamConnection(sender, client_id=1, limit=10)
    connection.offer_price("BTCUSDT", "btc-1")
    connection.offer_price("ETHUSDT", "eth-1")
    connection.offer_price("BTCUSDT", "btc-2")
    connection.push("order-1")
    connection.push("order-2")
    writer = asyncio.create_task(connection.run())
    await sender.wait_sent(4)
    writer.cancel()
    assert sender.sent == ["order-1", "order-2", "btc-2", "eth-1"]


async def test_a_stuck_writer_overflows_with_4008_and_nothing_is_dropped_silently() -> None:
    sender = RecordingSender(hold=True)
    connection = StreamConnection(sender, client_id=1, limit=2)
    writer = asyncio.create_task(connection.run())
    connection.push("m1")
    await sender.entered.wait()  # the writer holds m1 inside send: the client is not reading
    connection.push("m2")
    connection.push("m3")
    for i in range(100):  # prices never overflow: they replace each other
        connection.offer_price("BTCUSDT", f"p{i}")
    assert connection.close_code is None
    connection.push("m4")
    assert connection.close_code == OVERFLOW
    assert connection.closing.is_set()
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
