"""Watchlists: each client's own, and the operator's (the former global list)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, bindparam, delete, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from criptoren.db.models import AlertRow, ClientWatchlistEntry, MonitoredSymbol, PositionedOrder
from criptoren.domain.alerts import AlertStatus
from criptoren.domain.orders import OrderStatus

_OPERATOR_HAS = select(MonitoredSymbol.symbol).where(MonitoredSymbol.symbol == bindparam("symbol"))
_CLIENT_HAS = select(ClientWatchlistEntry.symbol).where(
    ClientWatchlistEntry.client_id == bindparam("owner"),
    ClientWatchlistEntry.symbol == bindparam("symbol"),
)


def listed_query(owner: int | None, symbol: str) -> tuple[Select[Any], dict[str, Any]]:
    """The query whose one row says ``symbol`` is on the owner's list, and its parameters
    (a plain statement: the request path runs it without an ORM session)."""
    statement = _OPERATOR_HAS if owner is None else _CLIENT_HAS
    return statement, {"owner": owner, "symbol": symbol}


class WatchlistRepository:
    """One owner's symbols: a client id, or ``None`` for the operator (admin token)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, owner: int | None, symbol: str) -> bool:
        """Put ``symbol`` on the owner's list; ``False`` if it already was."""
        row: ClientWatchlistEntry | MonitoredSymbol
        if owner is None:
            if await self.session.get(MonitoredSymbol, symbol) is not None:
                return False
            row = MonitoredSymbol(symbol=symbol)
        else:
            if await self.session.get(ClientWatchlistEntry, (owner, symbol)) is not None:
                return False
            row = ClientWatchlistEntry(client_id=owner, symbol=symbol)
        self.session.add(row)
        await self.session.flush()
        return True

    async def remove(self, owner: int | None, symbol: str) -> bool:
        """Take ``symbol`` off the owner's list; ``False`` if it was not on it."""
        if owner is None:
            statement = delete(MonitoredSymbol).where(MonitoredSymbol.symbol == symbol)
        else:
            statement = delete(ClientWatchlistEntry).where(
                ClientWatchlistEntry.client_id == owner, ClientWatchlistEntry.symbol == symbol
            )
        result = await self.session.execute(statement)
        return bool(getattr(result, "rowcount", 0) == 1)

    async def list(self, owner: int | None) -> list[str]:
        """The owner's symbols, alphabetically."""
        if owner is None:
            query = select(MonitoredSymbol.symbol).order_by(MonitoredSymbol.symbol)
        else:
            query = (
                select(ClientWatchlistEntry.symbol)
                .where(ClientWatchlistEntry.client_id == owner)
                .order_by(ClientWatchlistEntry.symbol)
            )
        return list((await self.session.scalars(query)).all())

    async def needed(self, among: Iterable[str] | None = None) -> set[str]:
        """Symbols on any watchlist, with a waiting order or an active alert (only ``among``)."""
        wanted = list(among) if among is not None else None
        parts = [
            select(MonitoredSymbol.symbol),
            select(ClientWatchlistEntry.symbol),
            select(PositionedOrder.symbol).where(
                PositionedOrder.status == OrderStatus.WAITING.value
            ),
            select(AlertRow.symbol).where(AlertRow.status == AlertStatus.ACTIVE.value),
        ]
        if wanted is not None:
            parts[0] = parts[0].where(MonitoredSymbol.symbol.in_(wanted))
            parts[1] = parts[1].where(ClientWatchlistEntry.symbol.in_(wanted))
            parts[2] = parts[2].where(PositionedOrder.symbol.in_(wanted))
            parts[3] = parts[3].where(AlertRow.symbol.in_(wanted))
        return set((await self.session.scalars(union(*parts))).all())
