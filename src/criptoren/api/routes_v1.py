"""The English API under ``/api/v1``: the same services as the original endpoints."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import Query, Response, status

from criptoren.api.convert import (
    monitor_out,
    order_out,
    orders_json,
    position_out,
    symbol_out,
    trade_out,
)
from criptoren.api.deps import (
    AdminDep,
    CallDep,
    ContainerDep,
    PrincipalDep,
    SessionDep,
    WorkDep,
    api_router,
)
from criptoren.api.schemas import (
    MonitorOut,
    OrderIn,
    OrderOut,
    PositionOut,
    SymbolOut,
    TradeIn,
    TradeOut,
)
from criptoren.api.types import DbId, PageBefore, PageLimit
from criptoren.domain.audit import ADMIN
from criptoren.domain.orders import CONDITION_ALIASES, OrderStatus
from criptoren.domain.paging import Page
from criptoren.services.orders import OrderRequest
from criptoren.services.trades import TradeRequest

router = api_router(prefix="/api/v1")
SymbolQuery = Query(default=None, max_length=20)


@router.post("/orders", status_code=status.HTTP_201_CREATED, tags=["orders"])
async def create_order(body: OrderIn, call: CallDep) -> OrderOut:
    """Position a buy or sell at a target price."""
    condition = CONDITION_ALIASES[body.condition] if body.condition else None
    request = OrderRequest(
        body.client_id, body.symbol, body.side, body.target_price, body.quantity, condition
    )
    return order_out(
        await call.container.orders.place(call.work, call.principal, request),
        call.container.prices.cached_price,
    )


@router.get("/orders", tags=["orders"], response_model=list[OrderOut])
async def list_orders(
    call: CallDep,
    status_: Annotated[OrderStatus | None, Query(alias="status")] = None,
    symbol: str | None = SymbolQuery,
    client_id: DbId | None = None,
    before: PageBefore = None,
    limit: PageLimit = None,
) -> Response:
    """The caller's orders, newest first, filtered by status and symbol, paged on request."""
    orders = await call.container.orders.list(
        call.work, call.principal, client_id, status_, symbol, Page(before, limit)
    )
    body = orders_json(orders, call.container.prices.cached_price)
    return Response(body, media_type="application/json")


@router.get("/orders/{order_id}", tags=["orders"])
async def get_order(order_id: DbId, call: CallDep) -> OrderOut:
    """One of the caller's orders."""
    return order_out(
        await call.container.orders.get(call.work, call.principal, order_id),
        call.container.prices.cached_price,
    )


@router.post("/orders/{order_id}/cancel", tags=["orders"])
async def cancel_order(order_id: DbId, call: CallDep) -> OrderOut:
    """Cancel a waiting order (409 when it is no longer waiting)."""
    return order_out(
        await call.container.orders.cancel(call.work, call.principal, order_id),
        call.container.prices.cached_price,
    )


@router.post("/trades", status_code=status.HTTP_201_CREATED, tags=["trades"])
async def record_trade(body: TradeIn, call: CallDep) -> TradeOut:
    """Record a trade executed elsewhere."""
    request = TradeRequest(
        client_id=body.client_id,
        symbol=body.symbol,
        side=body.side,
        price=body.price,
        quantity=body.quantity,
        fee=body.fee or Decimal(0),
        fee_asset=body.fee_asset,
        order_id=body.order_id,
    )
    return trade_out(await call.container.trades.record(call.work, call.principal, request))


@router.get("/trades", tags=["trades"])
async def list_trades(
    call: CallDep,
    symbol: str | None = SymbolQuery,
    client_id: DbId | None = None,
    before: PageBefore = None,
    limit: PageLimit = None,
) -> list[TradeOut]:
    """The caller's trades, newest first, paged on request."""
    trades = await call.container.trades.list(
        call.work, call.principal, client_id, symbol, Page(before, limit)
    )
    return [trade_out(t) for t in trades]


@router.get("/positions", tags=["positions"])
async def list_positions(
    session: SessionDep,
    container: ContainerDep,
    principal: PrincipalDep,
    client_id: DbId | None = None,
) -> list[PositionOut]:
    """Holdings, average cost and P&L per symbol."""
    views = await container.positions.list(session, principal, client_id)
    return [position_out(v) for v in views]


@router.get("/symbols", tags=["symbols"])
async def list_symbols(
    session: SessionDep,
    container: ContainerDep,
    _principal: PrincipalDep,
    trading_only: bool = True,
) -> list[SymbolOut]:
    """Known symbols and their exchange rules."""
    rules = await container.symbols.list(session, trading_only=trading_only)
    return [symbol_out(r) for r in rules]


@router.get("/symbols/{symbol}", tags=["symbols"])
async def get_symbol(
    symbol: str, work: WorkDep, container: ContainerDep, _principal: PrincipalDep
) -> SymbolOut:
    """One symbol's rules (422 for an unknown symbol)."""
    return symbol_out(await container.symbols.rules(work.read, symbol))


@router.post("/symbols/sync", tags=["symbols"])
async def sync_symbols(
    session: SessionDep, container: ContainerDep, _admin: AdminDep
) -> dict[str, int]:
    """Refresh every symbol from the exchange (admin)."""
    return {"symbols": await container.symbols.sync(session, ADMIN)}


@router.get("/monitored", tags=["monitoring"])
async def list_monitored(
    call: CallDep,
    client_id: DbId | None = None,
) -> list[MonitorOut]:
    """The caller's watchlist with live state (the admin may name any client)."""
    states = await call.container.watchlists.list(call.work, call.principal, client_id)
    return [monitor_out(s) for s in states]


@router.put("/monitored/{symbol}", tags=["monitoring"])
async def monitor_symbol(symbol: str, call: CallDep) -> MonitorOut:
    """Put a symbol on the caller's watchlist (idempotent)."""
    return monitor_out(await call.container.watchlists.watch(call.work, call.principal, symbol))


@router.delete("/monitored/{symbol}", tags=["monitoring"])
async def stop_monitoring(symbol: str, call: CallDep) -> MonitorOut:
    """Take a symbol off the caller's watchlist (its waiting orders keep it streaming)."""
    return monitor_out(await call.container.watchlists.unwatch(call.work, call.principal, symbol))
