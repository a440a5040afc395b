"""The floor of bench/api.py: the least work a route must do, as a raw ASGI app.

No framework, no middleware, no service layer: what any implementation of the two routes
must still do, on the service's own tables. ``GET /orders``: authenticate a bearer token
(cached after its first lookup), read the client's orders (the service's query) and write
them as exact JSON. ``POST /orders``: parse and check the body, then in one transaction
insert the order and stage its audit row (PostgreSQL links it into the chain as the
transaction commits; SQLite: read the chain's head and append), commit; answer
201 with the order. It leaves out what the service adds on top (rate limit, request ids,
metrics, symbol filters, notification routing, the order's name): a lower bound, not a
rival. Run by uvicorn with the same defaults as the bare app and the service; the database
is ``FLOOR_DATABASE`` (a ``postgresql://`` DSN or a SQLite file path).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

QUANTUM = Decimal("0.00000001")
COLUMNS = (
    "id, client_id, symbol, type, target_price, quantity, status, condition, reference_price,"
    " client_order_id, created_at, triggered_at, executed_trade_id, failure_reason, origin,"
    " strategy_id"
)
NAMES = [name.strip() for name in COLUMNS.split(",")]
MONEY = {"target_price", "quantity", "reference_price"}
JSON = [(b"content-type", b"application/json")]


def exact(row: dict[str, Any]) -> dict[str, Any]:
    """Amounts as 8-decimal strings, times as ISO strings (orjson writes the rest)."""
    for name in MONEY:
        value = row[name]
        if value is not None:
            row[name] = format(Decimal(value).quantize(QUANTUM), "f")
    return row


def audit_row(head: tuple[int, str] | None, order_id: int, client_id: int, data: str) -> tuple:
    """The next link of the chain: id, time, who, what, and the hash over the previous one."""
    prev_id, prev_hash = head if head and head[0] is not None else (0, "0" * 64)
    at = datetime.now(UTC)
    fields = (prev_id + 1, at, f"client:{client_id}", "order.placed", "order", str(order_id))
    link = "|".join(map(str, (*fields, client_id, data, prev_hash)))
    return (*fields, client_id, data, None, prev_hash, hashlib.sha256(link.encode()).hexdigest())


class Postgres:
    """The two routes' statements on asyncpg."""

    LIST = f"SELECT {COLUMNS} FROM positioned_orders WHERE client_id = $1 ORDER BY id DESC"
    INSERT = (
        "INSERT INTO positioned_orders (client_id, symbol_id, symbol, type, target_price,"
        " quantity, status, created_at, condition, updated_at, origin)"
        " VALUES ($1, $2, $3, 'buy', $4, $5, 'waiting', $6, 'lte', $6, 'manual')"
        f" RETURNING {COLUMNS}"
    )
    # staged, then linked into audit_log as the transaction commits (migration 0011)
    STAGE = (
        "INSERT INTO audit_log_staged (at, actor, action, entity, entity_id, client_id, data,"
        " request_id, row_before, row_after) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9)"
    )

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pool: asyncpg.Pool | None = None

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(self.dsn, min_size=10, max_size=10)

    async def client_of(self, token_hash: str) -> int | None:
        assert self.pool is not None
        query = "SELECT id FROM clients WHERE api_token = $1 AND active"
        client_id: int | None = await self.pool.fetchval(query, token_hash)
        return client_id

    async def symbol_id(self, symbol: str) -> int | None:
        assert self.pool is not None
        found: int | None = await self.pool.fetchval(
            "SELECT id FROM symbols WHERE symbol = $1", symbol
        )
        return found

    async def orders(self, client_id: int) -> list[dict[str, Any]]:
        assert self.pool is not None
        return [exact(dict(row)) for row in await self.pool.fetch(self.LIST, client_id)]

    async def place(self, client_id: int, symbol_id: int, body: dict[str, Any]) -> dict[str, Any]:
        assert self.pool is not None
        now = datetime.now(UTC)
        async with self.pool.acquire() as connection, connection.transaction():
            values = (client_id, symbol_id, body["symbol"], body["price"], body["quantity"], now)
            order = exact(dict(await connection.fetchrow(self.INSERT, *values)))
            data = orjson.dumps(order, default=str).decode()
            fields = (now, f"client:{client_id}", "order.placed", "order", str(order["id"]))
            before = b'{"data":' + data.encode() + b',"id":'
            await connection.execute(self.STAGE, *fields, client_id, data, before, b"}")
        return order


class Sqlite:
    """The same on one sqlite3 connection, run on the loop (as the service does)."""

    LIST = f"SELECT {COLUMNS} FROM positioned_orders WHERE client_id = ? ORDER BY id DESC"
    INSERT = (
        "INSERT INTO positioned_orders (client_id, symbol_id, symbol, type, target_price,"
        " quantity, status, created_at, condition, updated_at, origin)"
        " VALUES (?, ?, ?, 'buy', ?, ?, 'waiting', ?, 'lte', ?, 'manual')"
        f" RETURNING {COLUMNS}"
    )
    AUDIT = "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    HEAD = "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1"

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")

    async def start(self) -> None:
        return None

    async def client_of(self, token_hash: str) -> int | None:
        query = "SELECT id FROM clients WHERE api_token = ? AND active"
        row = self.db.execute(query, (token_hash,)).fetchone()
        return None if row is None else int(row[0])

    async def symbol_id(self, symbol: str) -> int | None:
        row = self.db.execute("SELECT id FROM symbols WHERE symbol = ?", (symbol,)).fetchone()
        return None if row is None else int(row[0])

    async def orders(self, client_id: int) -> list[dict[str, Any]]:
        rows = self.db.execute(self.LIST, (client_id,)).fetchall()
        return [exact(dict(zip(NAMES, row, strict=True))) for row in rows]

    async def place(self, client_id: int, symbol_id: int, body: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC).isoformat(sep=" ")
        price, quantity = str(body["price"]), str(body["quantity"])
        self.db.execute("BEGIN IMMEDIATE")
        try:
            values = (client_id, symbol_id, body["symbol"], price, quantity, now, now)
            order = exact(
                dict(zip(NAMES, self.db.execute(self.INSERT, values).fetchone(), strict=True))
            )
            head = self.db.execute(
                "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1"
            ).fetchone()
            data = orjson.dumps(order, default=str).decode()
            row = audit_row(head, order["id"], client_id, data)
            self.db.execute(self.AUDIT, (*row[:1], row[1].isoformat(sep=" "), *row[2:]))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return order


class Floor:
    """The raw ASGI application."""

    def __init__(self) -> None:
        target = os.environ.get("FLOOR_DATABASE", "")
        self.db = Postgres(target) if target.startswith("postgres") else Sqlite(target)
        self.clients: dict[str, int] = {}  # token → client id (a revoke is not watched)
        self.symbols: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            await self.db.start()
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        status, body = await self.answer(scope, receive)
        await send({"type": "http.response.start", "status": status, "headers": JSON})
        await send({"type": "http.response.body", "body": body})

    async def answer(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        if scope["path"] == "/":
            return 200, b'{"status":"OK"}'
        client_id = await self.authenticate(scope)
        if client_id is None:
            return 401, b'{"error":{"code":"unauthorized","message":"invalid token"}}'
        if scope["method"] == "GET":
            return 200, orjson.dumps(await self.db.orders(client_id))
        body = await self.checked_body(receive)
        symbol_id = body and await self.symbol(body["symbol"])
        if not body or symbol_id is None:
            return 422, b'{"error":{"code":"validation_error","message":"bad body"}}'
        return 201, orjson.dumps(await self.db.place(client_id, symbol_id, body))

    async def authenticate(self, scope: Scope) -> int | None:
        header = dict(scope["headers"]).get(b"authorization", b"")
        token = header.decode().removeprefix("Bearer ")
        client_id = self.clients.get(token)
        if client_id is None:
            token_hash = "sha256$" + hashlib.sha256(token.encode()).hexdigest()
            client_id = await self.db.client_of(token_hash)
            if client_id is not None:
                self.clients[token] = client_id
        return client_id

    async def symbol(self, symbol: str) -> int | None:
        found = self.symbols.get(symbol)
        if found is None and (found := await self.db.symbol_id(symbol)) is not None:
            self.symbols[symbol] = found
        return found

    @staticmethod
    async def checked_body(receive: Receive) -> dict[str, Any] | None:
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        try:
            raw = orjson.loads(b"".join(chunks))
            price, quantity = Decimal(raw["preco_alvo"]), Decimal(raw["quantidade"])
        except (ValueError, KeyError, TypeError, ArithmeticError):
            return None
        if price <= 0 or quantity <= 0 or not isinstance(raw.get("symbol"), str):
            return None
        return {"symbol": raw["symbol"].upper(), "price": price, "quantity": quantity}


app = Floor()
