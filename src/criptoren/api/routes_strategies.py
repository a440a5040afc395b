"""Channel strategies: ``/api/v1/strategies`` and its Portuguese twin ``/estrategias``."""

from __future__ import annotations

from enum import Enum

from fastapi import status

from criptoren.api.deps import ContainerDep, PrincipalDep, SessionDep, api_router
from criptoren.api.strategy_schemas import (
    EstrategiaIn,
    EstrategiaOut,
    StrategyIn,
    StrategyOut,
    estrategia_out,
    strategy_out,
)
from criptoren.api.types import DbId

router = api_router()
V1: list[str | Enum] = ["strategies"]
PT: list[str | Enum] = ["estratégias (pt)"]
CREATED = status.HTTP_201_CREATED


@router.post("/api/v1/strategies", status_code=CREATED, tags=V1)
async def create_strategy(
    body: StrategyIn, session: SessionDep, container: ContainerDep, principal: PrincipalDep
) -> StrategyOut:
    """Enable a channel strategy; its orders appear at the next candle close."""
    row = await container.strategies.create(session, principal, body.request())
    return strategy_out(row)


@router.get("/api/v1/strategies", tags=V1)
async def list_strategies(
    session: SessionDep,
    container: ContainerDep,
    principal: PrincipalDep,
    client_id: DbId | None = None,
) -> list[StrategyOut]:
    """The caller's strategies."""
    return [strategy_out(r) for r in await container.strategies.list(session, principal, client_id)]


@router.get("/api/v1/strategies/{strategy_id}", tags=V1)
async def get_strategy(
    strategy_id: DbId, session: SessionDep, container: ContainerDep, principal: PrincipalDep
) -> StrategyOut:
    """One of the caller's strategies."""
    return strategy_out(await container.strategies.get(session, principal, strategy_id))


@router.post("/api/v1/strategies/{strategy_id}/pause", tags=V1)
async def pause_strategy(
    strategy_id: DbId, session: SessionDep, container: ContainerDep, principal: PrincipalDep
) -> StrategyOut:
    """Pause: its waiting orders are cancelled (409 unless active)."""
    return strategy_out(await container.strategies.pause(session, principal, strategy_id))


@router.post("/api/v1/strategies/{strategy_id}/resume", tags=V1)
async def resume_strategy(
    strategy_id: DbId, session: SessionDep, container: ContainerDep, principal: PrincipalDep
) -> StrategyOut:
    """Resume a paused strategy (409 unless paused)."""
    return strategy_out(await container.strategies.resume(session, principal, strategy_id))


@router.delete("/api/v1/strategies/{strategy_id}", tags=V1)
async def delete_strategy(
    strategy_id: DbId, session: SessionDep, container: ContainerDep, principal: PrincipalDep
) -> StrategyOut:
    """Delete: its waiting orders are cancelled; an open position stays the client's."""
    return strategy_out(await container.strategies.delete(session, principal, strategy_id))


@router.post("/estrategias", status_code=CREATED, tags=PT)
async def criar_estrategia(
    body: EstrategiaIn, session: SessionDep, container: ContainerDep, principal: PrincipalDep
) -> EstrategiaOut:
    """Ativar uma estratégia de canal."""
    row = await container.strategies.create(session, principal, body.request())
    return estrategia_out(row)


@router.get("/estrategias", tags=PT)
async def listar_estrategias(
    session: SessionDep,
    container: ContainerDep,
    principal: PrincipalDep,
    cliente_id: DbId | None = None,
) -> list[EstrategiaOut]:
    """As estratégias do cliente."""
    rows = await container.strategies.list(session, principal, cliente_id)
    return [estrategia_out(r) for r in rows]


@router.get("/estrategias/{estrategia_id}", tags=PT)
async def obter_estrategia(
    estrategia_id: DbId, session: SessionDep, container: ContainerDep, principal: PrincipalDep
) -> EstrategiaOut:
    """Uma estratégia do cliente."""
    return estrategia_out(await container.strategies.get(session, principal, estrategia_id))


@router.post("/estrategias/{estrategia_id}/pausar", tags=PT)
async def pausar_estrategia(
    estrategia_id: DbId, session: SessionDep, container: ContainerDep, principal: PrincipalDep
) -> EstrategiaOut:
    """Pausar (as ordens em espera são canceladas)."""
    return estrategia_out(await container.strategies.pause(session, principal, estrategia_id))


@router.post("/estrategias/{estrategia_id}/retomar", tags=PT)
async def retomar_estrategia(
    estrategia_id: DbId, session: SessionDep, container: ContainerDep, principal: PrincipalDep
) -> EstrategiaOut:
    """Retomar uma estratégia pausada."""
    return estrategia_out(await container.strategies.resume(session, principal, estrategia_id))


@router.delete("/estrategias/{estrategia_id}", tags=PT)
async def remover_estrategia(
    estrategia_id: DbId, session: SessionDep, container: ContainerDep, principal: PrincipalDep
) -> EstrategiaOut:
    """Remover (as ordens em espera são canceladas)."""
    return estrategia_out(await container.strategies.delete(session, principal, estrategia_id))
