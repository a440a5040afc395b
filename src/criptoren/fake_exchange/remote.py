"""The ``/_control/...`` actions, so a fake exchange in another process can be driven."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from criptoren.fake_exchange.trading_controls import run_trading_control

if TYPE_CHECKING:
    from criptoren.fake_exchange.server import FakeExchange


async def run_control(fake: FakeExchange, action: str, params: dict[str, Any]) -> Any:
    """Apply one control action; unknown actions raise KeyError."""
    if action == "status":
        return fake.status()
    if action == "weight_refused":
        return [list(item) for item in fake.weight_refused()]
    if action == "drop":
        fake.drop_connections()
    elif action == "pause":
        fake.pause(params["symbol"])
    elif action == "resume":
        fake.resume(params["symbol"])
    elif action == "prices":
        fake.emit_prices(params["symbol"], [Decimal(str(p)) for p in _list(params["prices"])])
    elif action == "shutdown":
        fake.server_shutdown(float(params.get("close_after", 1.0)))
    elif action == "stall":
        fake.stall(str(params.get("stalled", "true")).lower() != "false")
    elif action == "replay":
        fake.replay(Path(params["path"]), float(params.get("speed", 1.0)))
    elif action == "blast":
        path = Path(params["path"]) if params.get("path") else None
        fake.blast(params["symbol"], int(params["count"]), path)
    elif action == "wait_subscribed":
        await fake.wait_subscribed(params["stream"], int(params.get("count", 1)))
    else:
        return await run_trading_control(fake, action, params)
    return {"ok": True}


def _list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [v for v in str(value).split(",") if v]
