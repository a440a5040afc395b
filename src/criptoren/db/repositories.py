"""Repositories: the only place that knows the SQL. They flush, never commit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from criptoren.db.ledger import CLAIMED_COLUMNS, ClaimedOrder, stored_rules
from criptoren.db.models import (
    Client,
    FeedCursor,
    PositionedOrder,
    Symbol,
    Trade,
)
from criptoren.db.outbox import Chosen, channel_columns, chosen_of
from criptoren.db.types import utcnow
from criptoren.domain.filters import SymbolRules
from criptoren.domain.orders import Condition, OrderOrigin, OrderStatus, Side, client_order_id
from criptoren.domain.paging import EVERYTHING, Page

NO_SYNC = {"synchronize_session": False}  # bulk statements: loaded objects are not refreshed


@dataclass(frozen=True, slots=True)
class OrderRow:
    """A positioned order as the request path reads it (no ORM object behind it)."""

    id: int
    client_id: int
    symbol: str
    type: Side
    target_price: Decimal
    quantity: Decimal
    status: OrderStatus
    condition: Condition
    reference_price: Decimal | None
    client_order_id: str | None
    created_at: datetime
    triggered_at: datetime | None
    executed_trade_id: int | None
    failure_reason: str | None
    origin: OrderOrigin
    strategy_id: int | None


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A stored order, and its client's notification channels (as the insert found them)."""

    row: OrderRow
    channels: Chosen


@dataclass(frozen=True, slots=True)
class TradeRow:
    """A trade as the request path stored it (no ORM object behind it)."""

    id: int
    client_id: int
    symbol_id: int
    symbol: str
    type: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str | None
    order_id: str | None
    positioned_order_id: int | None
    source: str
    mode: str
    executed_at: datetime


ORDER_COLUMNS = tuple(getattr(PositionedOrder, name) for name in OrderRow.__dataclass_fields__)
_ACTIVE_CLIENT_BY_TOKEN = select(Client.id).where(
    Client.api_token == bindparam("token_hash"), Client.active.is_(True)
)
_ACTIVE_CLIENT = select(Client.id).where(Client.id == bindparam("client_id"), Client.active)
_SYMBOL_COUNT = select(func.count(Symbol.id))
# The insert names the order too, so it takes the new id first (PostgreSQL: from the
# sequence; SQLite: max + 1, the very id SQLite would choose, there being no AUTOINCREMENT,
# under the writer's BEGIN IMMEDIATE), and returns the client's notification channels.
NEXT_ORDER = select(func.nextval(literal_column("'positioned_orders_id_seq'")).label("id")).cte(
    "next_order"
)
_NEW_ID = {
    True: select(NEXT_ORDER.c.id).scalar_subquery(),
    False: select(func.coalesce(func.max(PositionedOrder.id), 0) + 1).scalar_subquery(),
}
_INSERT_NAMED_ORDER = {
    postgres: insert(PositionedOrder)
    .values(
        id=new_id,
        client_order_id=bindparam("prefix", type_=String) + cast(new_id, String),
    )
    .returning(*ORDER_COLUMNS, *channel_columns(bindparam("owner", type_=Integer), postgres))
    for postgres, new_id in _NEW_ID.items()
}
_INSERT_NAMED_ORDER[True] = _INSERT_NAMED_ORDER[True].add_cte(NEXT_ORDER)


def active_client_of_token(connection: Connection, token_hash: str) -> int | None:
    """The id of the active client whose token hashes to ``token_hash``."""
    return connection.execute(_ACTIVE_CLIENT_BY_TOKEN, {"token_hash": token_hash}).scalar()


def is_active_client(connection: Connection, client_id: int) -> bool:
    """Whether ``client_id`` exists and is not revoked."""
    return connection.execute(_ACTIVE_CLIENT, {"client_id": client_id}).first() is not None


def symbol_count(connection: Connection) -> int:
    """How many symbols are stored."""
    return int(connection.execute(_SYMBOL_COUNT).scalar_one())


def insert_order(connection: Connection, values: Mapping[str, Any], prefix: str) -> NewOrder:
    """Store a waiting order named ``client_order_id(prefix, id)``, in one statement that
    also returns its client's notification channels."""
    params = {**values, "prefix": prefix, "owner": values["client_id"]}
    statement = _INSERT_NAMED_ORDER[connection.dialect.name == "postgresql"]
    *columns, channel_ids, events = connection.execute(statement, params).one()
    order = OrderRow(*columns)
    check_order_name(order, prefix)
    return NewOrder(order, chosen_of(order.client_id, channel_ids, events))


def check_order_name(order: OrderRow, prefix: str) -> None:
    """Raise unless the database named ``order`` as ``client_order_id`` would (which raises
    for a name too long)."""
    if order.client_order_id != client_order_id(prefix, order.id):
        raise ValueError(f"order {order.id} was named {order.client_order_id!r}")


@lru_cache(maxsize=32)
def _order_listing(
    by_client: bool, by_status: bool, by_symbol: bool, by_before: bool, limited: bool
) -> Select[Any]:
    query = select(*ORDER_COLUMNS).order_by(PositionedOrder.id.desc())
    if by_client:
        query = query.where(PositionedOrder.client_id == bindparam("client_id"))
    if by_status:
        query = query.where(PositionedOrder.status == bindparam("status"))
    if by_symbol:
        query = query.where(PositionedOrder.symbol == bindparam("symbol"))
    if by_before:
        query = query.where(PositionedOrder.id < bindparam("before"))
    return query.limit(bindparam("limit")) if limited else query


def order_listing(
    client_id: int | None,
    status: OrderStatus | None = None,
    symbol: str | None = None,
    page: Page = EVERYTHING,
) -> tuple[Select[Any], dict[str, Any]]:
    """The query of a client's orders (all clients when ``None``), newest first, and its
    parameters; :func:`order_rows` reads its rows."""
    query = _order_listing(
        client_id is not None,
        status is not None,
        symbol is not None,
        page.before is not None,
        page.limit is not None,
    )
    params = {"client_id": client_id, "status": status, "symbol": symbol}
    return query, params | {"before": page.before, "limit": page.limit}


def order_rows(rows: Iterable[Sequence[Any]]) -> list[OrderRow]:
    """The rows of :func:`order_listing` as orders."""
    return [OrderRow(*row) for row in rows]


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


def upsert_into(session: AsyncSession, table: type[Symbol]) -> Any:
    """An ``INSERT`` into ``table`` in the session's dialect, which can take
    ``on_conflict_do_update`` (PostgreSQL and SQLite spell it alike)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    return (postgresql_insert if postgres else sqlite_insert)(table)


class SymbolRepository:
    """Symbols and their exchange rules."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_many(self, rules: Iterable[SymbolRules]) -> int:
        """Insert new symbols and refresh existing ones; returns how many were written.

        ``is_active`` follows the exchange: ``TRADING`` symbols are active, every other
        status, and every stored symbol the exchange no longer lists, inactive.
        """
        existing = {s.symbol: s for s in (await self.session.scalars(select(Symbol))).all()}
        new_rows: list[dict[str, object]] = []
        count = 0
        for rule in rules:
            values = asdict(rule) | {"is_active": rule.is_trading}
            del values["symbol_id"]
            row = existing.pop(rule.symbol, None)
            if row is None:
                new_rows.append(values)
            else:
                for key, value in values.items():
                    setattr(row, key, value)
            count += 1
        for unlisted in existing.values():
            unlisted.is_active = False
        await self.session.flush()
        if new_rows:
            await self._insert_or_refresh(new_rows)
        return count

    async def _insert_or_refresh(self, rows: list[dict[str, object]]) -> None:
        """Insert ``rows``; a symbol another process inserted meanwhile (two workers
        syncing at start-up) is refreshed instead of failing the whole sync."""
        statement = upsert_into(self.session, Symbol)
        refreshed = {key: statement.excluded[key] for key in rows[0] if key != "symbol"}
        statement = statement.on_conflict_do_update(
            index_elements=[Symbol.symbol], set_=refreshed | {"updated_at": utcnow()}
        )
        await self.session.execute(statement, rows)

    async def get(self, symbol: str) -> SymbolRules | None:
        """The rules of ``symbol``, if known."""
        row = (await self.session.scalars(select(Symbol).where(Symbol.symbol == symbol))).first()
        return None if row is None else stored_rules(row)

    async def list(self, *, trading_only: bool = False) -> list[SymbolRules]:
        """All known symbols, alphabetically."""
        query = select(Symbol).order_by(Symbol.symbol)
        if trading_only:
            query = query.where(Symbol.is_active.is_(True))
        rows = (await self.session.scalars(query)).all()
        return [stored_rules(row) for row in rows]


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
        self,
        client_id: int | None,
        status: OrderStatus | None = None,
        symbol: str | None = None,
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

    async def with_status(self, status: OrderStatus) -> Sequence[PositionedOrder]:
        """Every order in ``status``, oldest first."""
        query = select(PositionedOrder).where(PositionedOrder.status == status)
        return (await self.session.scalars(query.order_by(PositionedOrder.id))).all()

    async def waiting_symbols(self) -> set[str]:
        """Symbols with at least one waiting order."""
        query = select(PositionedOrder.symbol).where(PositionedOrder.status == OrderStatus.WAITING)
        return set((await self.session.scalars(query.distinct())).all())


class TradeRepository:
    """Executed trades."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(
        self,
        client_id: int | None,
        symbol: str | None = None,
        *,
        oldest_first: bool = False,
        page: Page = EVERYTHING,
    ) -> Sequence[Trade]:
        """Trades of a client (all when ``None``); a ``page`` counts from the newest."""
        order = Trade.id.asc() if oldest_first else Trade.id.desc()
        query = select(Trade).order_by(order)
        if client_id is not None:
            query = query.where(Trade.client_id == client_id)
        if symbol is not None:
            query = query.where(Trade.symbol == symbol)
        if page.before is not None:
            query = query.where(Trade.id < page.before)
        if page.limit is not None:
            query = query.limit(page.limit)
        return (await self.session.scalars(query)).all()


def _cursor_upsert(insert_into: Any) -> Any:
    insert = insert_into(FeedCursor).values(
        symbol=bindparam("symbol"),
        last_agg_id=bindparam("last_agg_id"),
        last_trade_time_ms=bindparam("last_trade_time_ms"),
        venue=bindparam("venue"),
    )
    new = insert.excluded
    return insert.on_conflict_do_update(
        index_elements=[FeedCursor.symbol],
        set_={"last_agg_id": new.last_agg_id, "last_trade_time_ms": new.last_trade_time_ms,
              "venue": new.venue},
        where=(FeedCursor.last_agg_id < new.last_agg_id) | (FeedCursor.venue != new.venue),
    )  # fmt: skip


# forward only, unless the saved cursor counted another venue's ids
_CURSOR_UPSERT = {False: _cursor_upsert(sqlite_insert), True: _cursor_upsert(postgresql_insert)}
_CURSORS_DROP = delete(FeedCursor).where(
    FeedCursor.symbol.in_(bindparam("symbols", expanding=True))
)


def save_cursors(
    connection: Connection, venue: str, moved: Mapping[str, tuple[int, int]], dropped: Iterable[str]
) -> None:
    """Forget the cursors of ``dropped`` (their ids no longer mean anything) and move each
    symbol of ``moved`` (last aggregate-trade id, its time in ms) forward, in one transaction
    on the engine's writer (an ORM session on SQLite held the write lock across the event
    loop's turns, ≈ 40-60 ms under load, and every write of the request path waited)."""
    forgotten = sorted(dropped)
    upsert = _CURSOR_UPSERT[connection.dialect.name == "postgresql"]
    with connection.begin():
        if forgotten:
            connection.execute(_CURSORS_DROP, {"symbols": forgotten})
        for symbol, (agg_id, time_ms) in sorted(moved.items()):
            values = {"last_agg_id": agg_id, "last_trade_time_ms": time_ms, "venue": venue}
            connection.execute(upsert, {"symbol": symbol, **values})


class FeedCursorRepository:
    """Last aggregate trade processed per symbol (where gap-fill resumes after a restart)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def drop(self, symbols: Iterable[str]) -> None:
        """Forget the cursors of ``symbols`` (at start-up: they counted another venue's ids)."""
        await self.session.execute(
            _CURSORS_DROP, {"symbols": list(symbols)}, execution_options=NO_SYNC
        )

    async def all(self) -> dict[str, tuple[int, str]]:
        """Every cursor: symbol → (last processed aggregate-trade id, venue)."""
        query = select(FeedCursor.symbol, FeedCursor.last_agg_id, FeedCursor.venue)
        rows = (await self.session.execute(query)).all()
        return {symbol: (last, venue) for symbol, last, venue in rows}
