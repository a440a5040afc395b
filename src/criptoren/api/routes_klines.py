"""``GET /api/v1/klines/{symbol}``: candles for charts, proxied from the exchange."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel

from criptoren.api.deps import ContainerDep, PrincipalDep, WorkDep, api_router
from criptoren.api.types import MoneyOut
from criptoren.services.klines import MAX_LIMIT

router = api_router(prefix="/api/v1")
Interval = Literal["1m", "5m", "15m", "1h", "4h", "1d"]


class CandleOut(BaseModel):
    """One candle; ``time`` is its open time in ms since the epoch."""

    time: int
    open: MoneyOut
    high: MoneyOut
    low: MoneyOut
    close: MoneyOut
    volume: MoneyOut


@router.get("/klines/{symbol}", tags=["symbols"])
async def klines(
    symbol: str,
    work: WorkDep,
    container: ContainerDep,
    _principal: PrincipalDep,
    interval: Interval = "1m",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 300,
) -> list[CandleOut]:
    """The latest candles of a symbol, oldest first (cached for a couple of seconds)."""
    candles = await container.klines.candles(work.read, symbol, interval, limit)
    return [
        CandleOut(
            time=c.open_time, open=c.open, high=c.high, low=c.low, close=c.close, volume=c.volume
        )
        for c in candles
    ]
