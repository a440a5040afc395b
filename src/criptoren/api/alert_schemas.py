"""Wire schemas of price alerts: English (``/api/v1/alerts``) and Portuguese (``/alertas``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, Strict, StrictBool

from criptoren.api.types import NO_CONTROL_CHARACTERS, Amount, Body, BodyId, MoneyOut, SymbolText
from criptoren.domain.alerts import (
    DEFAULT_COOLDOWN_SECONDS,
    MAX_NOTE_LENGTH,
    AlertCondition,
    AlertSpec,
    StoredAlert,
)
from criptoren.services.alerts import AlertRequest

ConditionText = Literal["gte", "lte", "cross", "move_pct"]
Seconds = Annotated[int, Strict()]
Note = Annotated[str, Field(max_length=MAX_NOTE_LENGTH), NO_CONTROL_CHARACTERS]
CONDITION_HELP = (
    "gte: a trade at or above price; lte: at or below; cross: reaching price from the other "
    "side; move_pct: a move of at least percent against the trailing window's oldest trade."
)


class AlertIn(Body):
    """Create an alert: ``price`` for gte/lte/cross, ``percent`` + ``window_seconds`` for
    move_pct."""

    client_id: BodyId | None = None
    symbol: SymbolText
    condition: ConditionText = Field(description=CONDITION_HELP)
    price: Amount | None = None
    percent: Amount | None = None
    window_seconds: Seconds | None = None
    repeat: StrictBool = False
    cooldown_seconds: Seconds = Field(default=DEFAULT_COOLDOWN_SECONDS)
    note: Note | None = None

    def request(self) -> AlertRequest:
        """The service's request."""
        spec = AlertSpec(
            AlertCondition(self.condition), self.price, self.percent, self.window_seconds,
            self.repeat, self.cooldown_seconds, self.note,
        )  # fmt: skip
        return AlertRequest(self.client_id, self.symbol, spec)


class AlertOut(BaseModel):
    """A price alert."""

    id: int
    client_id: int
    symbol: str
    condition: str
    price: MoneyOut | None
    percent: MoneyOut | None
    window_seconds: int | None
    repeat: bool
    cooldown_seconds: int
    note: str | None
    status: str
    fire_count: int
    last_fired_at: datetime | None = Field(description="Exchange time of the last firing trade.")
    created_at: datetime


class AlertaIn(Body):
    """Criar um alerta: ``preco`` para gte/lte/cross, ``percentual`` + ``janela_segundos``
    para move_pct."""

    cliente_id: BodyId | None = None
    symbol: SymbolText
    condicao: ConditionText = Field(description=CONDITION_HELP)
    preco: Amount | None = None
    percentual: Amount | None = None
    janela_segundos: Seconds | None = None
    repetir: StrictBool = False
    espera_segundos: Seconds = Field(default=DEFAULT_COOLDOWN_SECONDS)
    nota: Note | None = None

    def request(self) -> AlertRequest:
        """The service's request."""
        spec = AlertSpec(
            AlertCondition(self.condicao), self.preco, self.percentual, self.janela_segundos,
            self.repetir, self.espera_segundos, self.nota,
        )  # fmt: skip
        return AlertRequest(self.cliente_id, self.symbol, spec)


class AlertaOut(BaseModel):
    """Um alerta de preço."""

    id: int
    cliente_id: int
    symbol: str
    condicao: str
    preco: MoneyOut | None
    percentual: MoneyOut | None
    janela_segundos: int | None
    repetir: bool
    espera_segundos: int
    nota: str | None
    status: str
    disparos: int
    ultimo_disparo_em: datetime | None
    criado_em: datetime


def alert_out(alert: StoredAlert) -> AlertOut:
    """English view of an alert."""
    return AlertOut(
        id=alert.id, client_id=alert.client_id, symbol=alert.symbol, condition=alert.condition,
        price=alert.price, percent=alert.percent, window_seconds=alert.window_seconds,
        repeat=alert.repeat, cooldown_seconds=alert.cooldown_seconds, note=alert.note,
        status=alert.status, fire_count=alert.fire_count, last_fired_at=alert.last_fired_at,
        created_at=alert.created_at,
    )  # fmt: skip


def alerta_out(alert: StoredAlert) -> AlertaOut:
    """Portuguese view of an alert."""
    return AlertaOut(
        id=alert.id, cliente_id=alert.client_id, symbol=alert.symbol, condicao=alert.condition,
        preco=alert.price, percentual=alert.percent, janela_segundos=alert.window_seconds,
        repetir=alert.repeat, espera_segundos=alert.cooldown_seconds, nota=alert.note,
        status=alert.status, disparos=alert.fire_count, ultimo_disparo_em=alert.last_fired_at,
        criado_em=alert.created_at,
    )  # fmt: skip
