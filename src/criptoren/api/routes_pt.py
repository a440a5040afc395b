"""The original Portuguese endpoints, exactly as specified (plus their natural siblings)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import Query, status

from criptoren.api.convert import monitor_out, negociacao_out, ordem_out, posicao_out
from criptoren.api.deps import (
    CallDep,
    ContainerDep,
    PrincipalDep,
    SessionDep,
    api_router,
)
from criptoren.api.schemas import (
    MonitorOut,
    NegociacaoOut,
    OrdemOut,
    PosicaoOut,
    PosicionarBody,
    RegistrarBody,
)
from criptoren.api.types import DbId, PageBefore, PageLimit
from criptoren.domain.orders import CONDITION_ALIASES, OrderStatus, Side
from criptoren.domain.paging import Page
from criptoren.services.orders import OrderRequest
from criptoren.services.trades import TradeRequest

router = api_router(tags=["original (pt)"])


def _order_request(body: PosicionarBody, side: Side) -> OrderRequest:
    condition = CONDITION_ALIASES[body.condicao] if body.condicao else None
    return OrderRequest(
        body.cliente_id, body.symbol, side, body.preco_alvo, body.quantidade, condition
    )


def _trade_request(body: RegistrarBody, side: Side) -> TradeRequest:
    return TradeRequest(
        client_id=body.cliente_id,
        symbol=body.symbol,
        side=side,
        price=body.preco_executado,
        quantity=body.quantidade,
        fee=body.taxa or Decimal(0),
        fee_asset=body.taxa_ativo,
        order_id=body.ordem_id,
    )


@router.get("/", tags=["health"])
async def root() -> dict[str, str]:
    """Liveness, as in the original specification."""
    return {"status": "OK"}


@router.get("/monitorar-par/{symbol}", response_model=MonitorOut)
async def monitorar_par(symbol: str, call: CallDep) -> MonitorOut:
    """Put a symbol on the caller's watchlist (idempotent) and return its live state."""
    return monitor_out(await call.container.watchlists.watch(call.work, call.principal, symbol))


@router.post("/posicionar-compra", status_code=status.HTTP_201_CREATED, response_model=OrdemOut)
async def posicionar_compra(body: PosicionarBody, call: CallDep) -> OrdemOut:
    """Position a buy at a target price; nothing executes now."""
    order = await call.container.orders.place(
        call.work, call.principal, _order_request(body, Side.BUY)
    )
    return ordem_out(order, call.container.prices.cached_price)


@router.post("/posicionar-venda", status_code=status.HTTP_201_CREATED, response_model=OrdemOut)
async def posicionar_venda(body: PosicionarBody, call: CallDep) -> OrdemOut:
    """Position a sell at a target price; it reserves the quantity from the holdings."""
    order = await call.container.orders.place(
        call.work, call.principal, _order_request(body, Side.SELL)
    )
    return ordem_out(order, call.container.prices.cached_price)


@router.post("/registrar-compra", status_code=status.HTTP_201_CREATED, response_model=NegociacaoOut)
async def registrar_compra(body: RegistrarBody, call: CallDep) -> NegociacaoOut:
    """Record a buy executed elsewhere."""
    trade = await call.container.trades.record(
        call.work, call.principal, _trade_request(body, Side.BUY)
    )
    return negociacao_out(trade)


@router.post("/registrar-venda", status_code=status.HTTP_201_CREATED, response_model=NegociacaoOut)
async def registrar_venda(body: RegistrarBody, call: CallDep) -> NegociacaoOut:
    """Record a sell executed elsewhere (never beyond the recorded holdings)."""
    trade = await call.container.trades.record(
        call.work, call.principal, _trade_request(body, Side.SELL)
    )
    return negociacao_out(trade)


@router.get("/ordens", response_model=list[OrdemOut])
async def listar_ordens(
    call: CallDep,
    status_: Annotated[OrderStatus | None, Query(alias="status")] = None,
    symbol: str | None = Query(default=None, max_length=20),
    cliente_id: DbId | None = None,
    before: PageBefore = None,
    limit: PageLimit = None,
) -> list[OrdemOut]:
    """The caller's positioned orders, newest first (paged on request)."""
    orders = await call.container.orders.list(
        call.work, call.principal, cliente_id, status_, symbol, Page(before, limit)
    )
    return [ordem_out(o, call.container.prices.cached_price) for o in orders]


@router.delete("/ordens/{ordem_id}", response_model=OrdemOut)
async def cancelar_ordem(ordem_id: DbId, call: CallDep) -> OrdemOut:
    """Cancel a waiting order (409 if it already fired or was cancelled)."""
    return ordem_out(
        await call.container.orders.cancel(call.work, call.principal, ordem_id),
        call.container.prices.cached_price,
    )


@router.get("/negociacoes", response_model=list[NegociacaoOut])
async def listar_negociacoes(
    call: CallDep,
    symbol: str | None = Query(default=None, max_length=20),
    cliente_id: DbId | None = None,
    before: PageBefore = None,
    limit: PageLimit = None,
) -> list[NegociacaoOut]:
    """The caller's trades, newest first (paged on request)."""
    trades = await call.container.trades.list(
        call.work, call.principal, cliente_id, symbol, Page(before, limit)
    )
    return [negociacao_out(t) for t in trades]


@router.get("/posicoes", response_model=list[PosicaoOut])
async def listar_posicoes(
    session: SessionDep,
    container: ContainerDep,
    principal: PrincipalDep,
    cliente_id: DbId | None = None,
) -> list[PosicaoOut]:
    """The caller's positions and P&L."""
    views = await container.positions.list(session, principal, cliente_id)
    return [posicao_out(v) for v in views]
