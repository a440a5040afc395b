"""Price alerts: vocabulary, the request's rules and the exact ``move_pct`` arithmetic (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from criptoren.domain.filters import SymbolRules, check_price
from criptoren.domain.text import TextError, check_plain_text
from criptoren.errors import InvalidInput

DEFAULT_COOLDOWN_SECONDS = 300
MAX_COOLDOWN_SECONDS = 30 * 86_400
MAX_WINDOW_SECONDS = 3600
"""A window keeps its trades in memory: an hour of a busy symbol is a few MB."""
MAX_PERCENT = Decimal(1000)
MAX_NOTE_LENGTH = 200
PERCENT_SCALE = 10**10
"""``|p − ref| × 10^10 ≥ percent_units × ref`` is ``|p − ref| / ref × 100 ≥ percent``."""


class AlertCondition(StrEnum):
    """When an alert fires (see README, Alerts)."""

    GTE = "gte"
    LTE = "lte"
    CROSS = "cross"
    MOVE_PCT = "move_pct"


class AlertStatus(StrEnum):
    """``active`` → ``triggered`` (a one-shot alert that fired) | ``deleted``."""

    ACTIVE = "active"
    TRIGGERED = "triggered"
    DELETED = "deleted"


LEVEL_CONDITIONS = frozenset({AlertCondition.GTE, AlertCondition.LTE, AlertCondition.CROSS})


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """What a client asks to be alerted of (validated by :func:`check_alert`)."""

    condition: AlertCondition
    price: Decimal | None = None
    percent: Decimal | None = None
    window_seconds: int | None = None
    repeat: bool = False
    cooldown_seconds: int = DEFAULT_COOLDOWN_SECONDS
    note: str | None = None


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as stored (what the API shows and the engine indexes)."""

    id: int
    client_id: int
    symbol: str
    condition: str
    price: Decimal | None
    percent: Decimal | None
    window_seconds: int | None
    repeat: bool
    cooldown_seconds: int
    note: str | None
    status: str
    fire_count: int
    last_fired_at: datetime | None
    last_fired_ms: int | None
    created_at: datetime


def check_alert(spec: AlertSpec, rules: SymbolRules) -> None:
    """Refuse an alert that could never make sense (422), before anything is stored."""
    if spec.condition in LEVEL_CONDITIONS:
        if spec.price is None:
            raise InvalidInput(f"a {spec.condition} alert needs a price")
        if spec.percent is not None or spec.window_seconds is not None:
            raise InvalidInput("percent and window_seconds belong to move_pct alerts")
        check_price(rules, spec.price)
    else:
        _check_move(spec)
    if not 0 <= spec.cooldown_seconds <= MAX_COOLDOWN_SECONDS:
        raise InvalidInput(f"cooldown_seconds must be within 0..{MAX_COOLDOWN_SECONDS}")
    if spec.note is not None:
        if len(spec.note) > MAX_NOTE_LENGTH:
            raise InvalidInput(f"note is longer than {MAX_NOTE_LENGTH} characters")
        try:
            check_plain_text(spec.note, "note")
        except TextError as exc:
            raise InvalidInput(str(exc)) from None


def _check_move(spec: AlertSpec) -> None:
    if spec.price is not None:
        raise InvalidInput("a move_pct alert takes percent and window_seconds, not a price")
    if spec.percent is None or not 0 < spec.percent <= MAX_PERCENT:
        raise InvalidInput(f"percent must be above 0 and at most {MAX_PERCENT}")
    window = spec.window_seconds
    if window is None or not 0 < window <= MAX_WINDOW_SECONDS:
        raise InvalidInput(f"window_seconds must be within 1..{MAX_WINDOW_SECONDS}")
