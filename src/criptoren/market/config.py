"""Tunables of the market feed (every URL and timing configurable, for tests and the demo)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """Settings of :class:`criptoren.market.feed.BinanceFeed`; times in seconds."""

    ws_url: str = "wss://stream.binance.com:9443"
    rest_url: str = "https://api.binance.com"
    max_streams_per_connection: int = 1024
    max_messages_per_second: int = 5
    # Binance counts our pong replies against the 5 msg/s; keep room for them
    reserved_for_pongs: int = 1
    params_per_message: int = 200
    ticker: bool = True
    stale_after: float = 30.0
    max_connection_age: float = 23.5 * 3600
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    open_timeout: float = 10.0
    reply_timeout: float = 10.0
    close_timeout: float = 2.0
    gap_fill_page: int = 1000
    gap_fill_concurrency: int = 8
    gap_fill_lookback: float = 24 * 3600.0
    gap_fill_timeout: float = 60.0
    rest_timeout: float = 10.0
    # a trade id this far below the last one is a restart of the venue's ids, not a duplicate
    max_id_reorder: int = 10_000

    @property
    def control_rate(self) -> int:
        """Control messages per second the feed allows itself on one connection."""
        return max(1, self.max_messages_per_second - self.reserved_for_pongs)
