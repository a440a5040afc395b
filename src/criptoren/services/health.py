"""Health for ``/healthz``: is the database there, are symbols known, is the feed live?"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from criptoren.db.ledger import run_in
from criptoren.db.repositories import symbol_count
from criptoren.ports import MarketWatch


@dataclass(frozen=True, slots=True)
class HealthReport:
    """``ok``, or ``degraded`` with the reasons (``{"code", "message"}`` each)."""

    reasons: list[dict[str, str]]
    database: str
    feed: Mapping[str, Any]

    @property
    def status(self) -> str:
        """``"ok"`` or ``"degraded"``."""
        return "degraded" if self.reasons else "ok"


def degraded_reasons(
    database_ok: bool, symbols_known: int | None, feed: Mapping[str, Any]
) -> list[dict[str, str]]:
    """Why the service cannot do its job now (empty when healthy)."""
    reasons = []
    if not database_ok:
        reasons.append(("database_unavailable", "the database cannot be reached"))
    elif symbols_known == 0:
        reasons.append(("no_symbols", "no symbol is known: exchangeInfo was never loaded"))
    watched, stale = int(feed.get("symbols", 0)), list(feed.get("stale_symbols", []))
    if watched and not feed.get("connected"):
        reasons.append(("feed_disconnected", "the market stream is not connected"))
    if watched and len(stale) >= watched:
        reasons.append(("all_symbols_stale", f"no event lately for {', '.join(stale)}"))
    return [{"code": code, "message": message} for code, message in reasons]


class HealthService:
    """Checks the database (and its symbols) and reads the feed's state."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], feed: MarketWatch) -> None:
        self.sessions = sessions
        self.feed = feed

    async def check(self) -> HealthReport:
        """The service's health now."""
        symbols: int | None = None
        try:
            async with self.sessions() as session:
                symbols = await run_in(session, symbol_count)
        except Exception:  # any failure here means "not healthy", whatever its kind
            database_ok = False
        else:
            database_ok = True
        feed = dict(self.feed.health())
        reasons = degraded_reasons(database_ok, symbols, feed)
        return HealthReport(reasons, "ok" if database_ok else "unavailable", feed)
