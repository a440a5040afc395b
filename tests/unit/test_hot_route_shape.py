"""Only routes a hot answer writes exactly as FastAPI would are taken apart as hot routes."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Header
from fastapi.routing import APIRoute

from criptoren.api.deps import CallDep, RequestRoute
from criptoren.api.hot_paths import hot_route
from criptoren.api.schemas import MonitorOut


def route_of(router: APIRouter) -> APIRoute:
    [route] = router.routes
    assert isinstance(route, APIRoute)
    return route


def test_a_plain_route_is_taken_and_trimmed_or_unusual_ones_are_refused() -> None:
    plain, trimmed, header = (APIRouter(route_class=RequestRoute) for _ in range(3))

    @plain.get("/watch/{symbol}", response_model=MonitorOut)
    async def watch(symbol: str, call: CallDep) -> MonitorOut: ...

    @trimmed.get("/watch/{symbol}", response_model=MonitorOut, response_model_exclude_none=True)
    async def watch_trimmed(symbol: str, call: CallDep) -> MonitorOut: ...

    @header.get("/watch/{symbol}", response_model=MonitorOut)
    async def watch_header(symbol: str, call: CallDep, x_hint: str = Header("")) -> MonitorOut: ...

    hot = hot_route(route_of(plain))
    assert (hot.call_name, hot.body_name) == ("call", None)
    for refused in (trimmed, header):
        with pytest.raises(TypeError, match="hot route's shape"):
            hot_route(route_of(refused))
