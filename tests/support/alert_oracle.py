"""An independent answer to "which trades fire this alert": every trade, one by one, with
``Decimal`` prices, straight from the rules in README (Alerts). Shares no code with the index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from criptoren.domain.alerts import AlertCondition

Trade = tuple[int, Decimal, int]
"""(trade id, price, time ms)."""


@dataclass
class Spec:
    """An alert as the test sees it: created after trade ``born`` (index), maybe deleted."""

    alert_id: int
    condition: AlertCondition
    level: Decimal  # price, or percent for move_pct
    born: int
    created_ms: int
    window_ms: int = 0
    cooldown_ms: int | None = None
    deleted_after: int | None = None  # deleted once trade index reached
    fired: list[int] = field(default_factory=list)


def naive(spec: Spec, trades: Sequence[Trade]) -> list[int]:
    """The ids of the trades that fire ``spec``, from the trades after its ``born`` index."""
    """Every trade, one by one, by the README's rules."""
    fired: list[int] = []
    seen: list[tuple[int, Decimal]] = []  # (time, price) of trades after creation
    previous: Decimal | None = None
    last_fire: int | None = None
    oldest = 0  # first of ``seen`` inside the trailing window
    end = len(trades) if spec.deleted_after is None else spec.deleted_after + 1
    for trade_id, price, time in trades[spec.born + 1 : end]:
        if time <= spec.created_ms:
            continue
        seen.append((time, price))
        if last_fire is not None and (
            spec.cooldown_ms is None or time < last_fire + spec.cooldown_ms
        ):
            previous = price
            continue
        level = spec.level
        if spec.condition is AlertCondition.GTE:
            hit = price >= level
        elif spec.condition is AlertCondition.LTE:
            hit = price <= level
        elif spec.condition is AlertCondition.CROSS:
            hit = previous is not None and (previous < level <= price or price <= level < previous)
        else:
            while seen[oldest][0] < time - spec.window_ms:
                oldest += 1
            reference = seen[oldest][1]
            hit = abs(price - reference) * 100 >= level * reference
        if hit:
            fired.append(trade_id)
            last_fire = time
        previous = price
    return fired
