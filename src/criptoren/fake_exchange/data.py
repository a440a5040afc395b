"""Where the shared recorded data lives (``../shared/data`` beside the clone)."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "CRIPTOREN_SHARED_DATA"


def shared_data_dir() -> Path:
    """``$CRIPTOREN_SHARED_DATA`` or ``<repo>/../shared/data``."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override)
    return (Path(__file__).resolve().parents[3] / ".." / "shared" / "data").resolve()


def binance_data(*parts: str) -> Path:
    """A path under ``shared/data/binance``."""
    return shared_data_dir().joinpath("binance", *parts)


def default_exchange_info() -> Path:
    """The 2025 exchangeInfo subset (today's filter set)."""
    return binance_data(
        "exchange_info", "exchangeInfo_spot_subset25_2025-08-07_gocryptotrader.json"
    )


def btcusdt_trades() -> Path:
    """The hftbacktest BTCUSDT ``@trade`` capture (jsonl)."""
    return binance_data(
        "ws", "hftbacktest", "btcusdt_trade_stream_2024-08-08T2354_2024-08-09T0005.jsonl"
    )
