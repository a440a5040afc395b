"""Where the shared recorded Binance data lives (``../shared/data`` beside the repository)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_data() -> Path:
    """The shared data folder; a missing folder is an error, never a skip."""
    root = Path(os.environ.get("CRIPTOREN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    if not (root / "binance").is_dir():
        raise FileNotFoundError(f"shared Binance data not found at {root}")
    return root


def exchange_info_path(name: str) -> Path:
    """A recorded exchangeInfo body."""
    path = shared_data() / "binance" / "exchange_info" / name
    if not path.is_file():
        raise FileNotFoundError(path)
    return path
