"""Repositories: the only place that knows the SQL. They flush, never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from criptoren.db import statements
from criptoren.db.models import (
    Client,
    FeedCursor,
    PositionedOrder,
    Symbol,
    Trade,
)
from criptoren.db.statements import CLAIMED_COLUMNS, ClaimedOrder
from criptoren.db.types import utcnow
from criptoren.domain.filters import SymbolRules
from criptoren.domain.orders import OrderStatus, Side
from criptoren.domain.positions import TradeFact

RULE_FIELDS = tuple(SymbolRules.__dataclass_fields__)
NO_SYNC = {"synchronize_session": False}  # bulk UPDATEs: loaded objects are not refreshed


class ClientRepository:
    """Clients and their token hashes."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, name: str, token_hash: str) -> Client:
        """Insert a client."""
        client = Client(name=name, api_token=token_hash, active=True)
        self.session.add(client)
        await self.session.flush()
        return client

    async def get(self, client_id: int) -> Client | None:
        """A client by id."""
        return await self.session.get(Client, client_id)

    async def by_token_hash(self, token_hash: str) -> Client | None:
        """The active client whose token hashes to ``token_hash``."""
        query = select(Client).where(Client.api_token == token_hash, Client.active.is_(True))
        return (await self.session.scalars(query)).first()

    async def active_token_hashes(self, token_hashes: Iterable[str]) -> set[str]:
        """Which of ``token_hashes`` still belong to an active client."""
        query = select(Client.api_token).where(
            Client.api_token.in_(list(token_hashes)), Client.active.is_(True)
        )
        return set((await self.session.scalars(query)).all())

    async def list(self) -> Sequence[Client]:
        """Every client, oldest first."""
        return (await self.session.scalars(select(Client).order_by(Client.id))).all()

    async def lock(self, client_id: int) -> None:
        """Serialise holdings-changing work of one client (row lock on PostgreSQL)."""
        # SQLite already runs one writer at a time (BEGIN IMMEDIATE), FOR UPDATE is ignored there
        await self.session.execute(*statements.lock_client(client_id))


class SymbolRepository:
    """Symbols and their exchange rules."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_many(self, rules: Iterable[SymbolRules]) -> int:
        """Insert new symbols and refresh existing ones; returns how many were written."""
        existing = {s.symbol: s for s in (await self.session.scalars(select(Symbol))).all()}
        count = 0
        for rule in rules:
            values = asdict(rule)
            row = existing.get(rule.symbol)
            if row is None:
                self.session.add(Symbol(**values))
            else:
                for key, value in values.items():
                    setattr(row, key, value)
            count += 1
        await self.session.flush()
        return count

    async def get(self, symbol: str) -> SymbolRules | None:
        """The rules of ``symbol``, if known."""
        row = (await self.session.scalars(select(Symbol).where(Symbol.symbol == symbol))).first()
        if row is None:
            return None
        return SymbolRules(**{name: getattr(row, name) for name in RULE_FIELDS})

    async def list(self, *, trading_only: bool = False) -> list[SymbolRules]:
        """All known symbols, alphabetically."""
        query = select(Symbol).order_by(Symbol.symbol)
        if trading_only:
            query = query.where(Symbol.status == "TRADING")
        rows = (await self.session.scalars(query)).all()
        return [SymbolRules(**{n: getattr(r, n) for n in RULE_FIELDS}) for r in rows]

    async def count(self) -> int:
        """How many symbols are stored."""
        return int(await self.session.scalar(select(func.count(Symbol.id))) or 0)


def claimed_order(order: PositionedOrder) -> ClaimedOrder:
    """The execution view of a stored order."""
    return ClaimedOrder(*(getattr(order, column.key) for column in CLAIMED_COLUMNS))


class OrderRepository:
    """Positioned orders and their compare-and-set transitions."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, order: PositionedOrder) -> PositionedOrder:
        """Insert an order (flushes, so its id is known)."""
        self.session.add(order)
        await self.session.flush()
        return order

    async def get(self, order_id: int) -> PositionedOrder | None:
        """An order by id."""
        return await self.session.get(PositionedOrder, order_id)

    async def list(
        self, client_id: int | None, status: str | None = None, symbol: str | None = None
    ) -> Sequence[PositionedOrder]:
        """Orders of a client (all clients when ``None``), newest first."""
        query = select(PositionedOrder).order_by(PositionedOrder.id.desc())
        if client_id is not None:
            query = query.where(PositionedOrder.client_id == client_id)
        if status is not None:
            query = query.where(PositionedOrder.status == status)
        if symbol is not None:
            query = query.where(PositionedOrder.symbol == symbol)
        return (await self.session.scalars(query)).all()

    async def transition(
        self, order_id: int, expected: OrderStatus, new: OrderStatus, **changes: object
    ) -> bool:
        """Compare-and-set the status; ``False`` when the order was not in ``expected``."""
        bound = statements.transition(order_id, expected, new, utcnow(), **changes)
        result = await self.session.execute(*bound, execution_options=NO_SYNC)
        return bool(getattr(result, "rowcount", 0) == 1)

    async def reserved_quantity(self, client_id: int, symbol: str) -> Decimal:
        """Quantity held back by the client's waiting sells of ``symbol``."""
        query = select(PositionedOrder.quantity).where(
            PositionedOrder.client_id == client_id,
            PositionedOrder.symbol == symbol,
            PositionedOrder.type == Side.SELL.value,
            PositionedOrder.status.in_([OrderStatus.WAITING.value, OrderStatus.TRIGGERED.value]),
        )
        # summed here, not in SQL: SQLite keeps money as text and would sum it as floats
        return sum((await self.session.scalars(query)).all(), Decimal(0))

    async def with_status(self, status: OrderStatus) -> Sequence[PositionedOrder]:
        """Every order in ``status``, oldest first."""
        query = select(PositionedOrder).where(PositionedOrder.status == status.value)
        return (await self.session.scalars(query.order_by(PositionedOrder.id))).all()

    async def waiting_symbols(self) -> set[str]:
        """Symbols with at least one waiting order."""
        query = select(PositionedOrder.symbol).where(
            PositionedOrder.status == OrderStatus.WAITING.value
        )
        return set((await self.session.scalars(query.distinct())).all())


class TradeRepository:
    """Executed trades."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, trade: Trade) -> Trade:
        """Insert a trade (flushes, so its id is known)."""
        self.session.add(trade)
        await self.session.flush()
        return trade

    async def list(
        self, client_id: int | None, symbol: str | None = None, *, oldest_first: bool = False
    ) -> Sequence[Trade]:
        """Trades of a client (all when ``None``)."""
        order = Trade.id.asc() if oldest_first else Trade.id.desc()
        query = select(Trade).order_by(order)
        if client_id is not None:
            query = query.where(Trade.client_id == client_id)
        if symbol is not None:
            query = query.where(Trade.symbol == symbol)
        return (await self.session.scalars(query)).all()

    async def facts(self, client_id: int, symbol: str, base_asset: str) -> Sequence[TradeFact]:
        """The client's trades in ``symbol``, oldest first, as position inputs."""
        rows = await self.session.execute(*statements.trade_facts(client_id, symbol))
        return [statements.to_trade_fact(row, base_asset) for row in rows]


def to_fact(trade: Trade, rules: SymbolRules | None) -> TradeFact:
    """What a position needs of a stored trade.

    A fee paid in a third asset (BNB) has no price in this symbol's quote asset: it is left
    out of the cost basis and the P&L rather than counted as if it were quote currency.
    """
    base = rules.base_asset if rules else None
    quote = rules.quote_asset if rules else None
    valued = trade.fee_asset in (None, base, quote)
    return TradeFact(
        side=Side(trade.type),
        price=trade.price,
        quantity=trade.quantity,
        fee=trade.fee if valued else Decimal(0),
        fee_in_base=base is not None and trade.fee_asset == base,
    )


class FeedCursorRepository:
    """Last aggregate trade processed per symbol (where gap-fill resumes after a restart)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def save(self, symbol: str, last_agg_id: int, trade_time_ms: int) -> None:
        """Upsert the cursor of ``symbol`` (it only ever moves forward)."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        values = {"symbol": symbol, "last_agg_id": last_agg_id, "last_trade_time_ms": trade_time_ms}
        statement = insert(FeedCursor).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[FeedCursor.symbol],
            set_={"last_agg_id": last_agg_id, "last_trade_time_ms": trade_time_ms},
            where=FeedCursor.last_agg_id < last_agg_id,
        )
        await self.session.execute(statement)

    async def all(self) -> dict[str, int]:
        """Every cursor: symbol → last processed aggregate-trade id."""
        rows = (await self.session.execute(select(FeedCursor.symbol, FeedCursor.last_agg_id))).all()
        return {symbol: last for symbol, last in rows}
