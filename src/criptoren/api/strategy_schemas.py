"""Wire schemas of channel strategies: English (``/api/v1/strategies``) and Portuguese
(``/estrategias``), and their conversions to and from the service's types."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, Strict

from criptoren.api.types import Amount, Body, BodyId, MoneyOut, SymbolText
from criptoren.db.models import StrategyRow
from criptoren.domain.strategies import StrategyKind
from criptoren.services.strategies import StrategyRequest

KindText = Literal["channel-breakout", "channel-reversion"]
# the range itself is the domain's rule (ChannelParams); here only "a JSON integer"
Window = Annotated[int, Strict(), Field(description="Candles in the channel (2 to 1000).")]
IntervalText = Annotated[str, Field(max_length=4, examples=["5m"])]
Pct = Annotated[Amount, Field(description="Percent of the entry price.")]


class StrategyIn(Body):
    """Enable a channel strategy: exactly one of ``quantity`` and ``quote_amount``."""

    client_id: BodyId | None = None
    symbol: SymbolText
    kind: KindText
    interval: IntervalText
    window: Window
    exit_window: Window | None = Field(default=None, description="Breakout exit window (N/2).")
    quantity: Amount | None = None
    quote_amount: Amount | None = None
    stop_loss_pct: Pct | None = None
    take_profit_pct: Pct | None = None

    def request(self) -> StrategyRequest:
        """The service's request."""
        return StrategyRequest(
            self.client_id, self.symbol, StrategyKind(self.kind), self.interval, self.window,
            self.exit_window, self.quantity, self.quote_amount, self.stop_loss_pct,
            self.take_profit_pct,
        )  # fmt: skip


class StrategyOut(BaseModel):
    """A channel strategy."""

    id: int
    client_id: int
    symbol: str
    kind: str
    interval: str
    window: int
    exit_window: int | None
    quantity: MoneyOut | None
    quote_amount: MoneyOut | None
    stop_loss_pct: MoneyOut | None
    take_profit_pct: MoneyOut | None
    status: str
    last_close_ms: int | None = Field(description="Open time of the last candle acted on.")
    created_at: datetime


class EstrategiaIn(Body):
    """Ativar uma estratégia de canal: ``quantidade`` ou ``valor_cotacao``, um só."""

    cliente_id: BodyId | None = None
    symbol: SymbolText
    tipo: KindText
    intervalo: IntervalText
    janela: Window
    janela_saida: Window | None = None
    quantidade: Amount | None = None
    valor_cotacao: Amount | None = None
    stop_perda_pct: Pct | None = None
    alvo_lucro_pct: Pct | None = None

    def request(self) -> StrategyRequest:
        """The service's request."""
        return StrategyRequest(
            self.cliente_id, self.symbol, StrategyKind(self.tipo), self.intervalo, self.janela,
            self.janela_saida, self.quantidade, self.valor_cotacao, self.stop_perda_pct,
            self.alvo_lucro_pct,
        )  # fmt: skip


class EstrategiaOut(BaseModel):
    """Uma estratégia de canal."""

    id: int
    cliente_id: int
    symbol: str
    tipo: str
    intervalo: str
    janela: int
    janela_saida: int | None
    quantidade: MoneyOut | None
    valor_cotacao: MoneyOut | None
    stop_perda_pct: MoneyOut | None
    alvo_lucro_pct: MoneyOut | None
    status: str
    ultimo_fechamento_ms: int | None
    criado_em: datetime


def _values(row: StrategyRow) -> tuple[Decimal | None, ...]:
    return (row.quantity, row.quote_amount, row.stop_loss_pct, row.take_profit_pct)


def strategy_out(row: StrategyRow) -> StrategyOut:
    """English view of a strategy."""
    quantity, quote, stop, take = _values(row)
    return StrategyOut(
        id=row.id, client_id=row.client_id, symbol=row.symbol, kind=row.kind,
        interval=row.interval, window=row.window, exit_window=row.exit_window,
        quantity=quantity, quote_amount=quote, stop_loss_pct=stop, take_profit_pct=take,
        status=row.status, last_close_ms=row.last_close_ms, created_at=row.created_at,
    )  # fmt: skip


def estrategia_out(row: StrategyRow) -> EstrategiaOut:
    """Portuguese view of a strategy."""
    quantity, quote, stop, take = _values(row)
    return EstrategiaOut(
        id=row.id, cliente_id=row.client_id, symbol=row.symbol, tipo=row.kind,
        intervalo=row.interval, janela=row.window, janela_saida=row.exit_window,
        quantidade=quantity, valor_cotacao=quote, stop_perda_pct=stop, alvo_lucro_pct=take,
        status=row.status, ultimo_fechamento_ms=row.last_close_ms, criado_em=row.created_at,
    )  # fmt: skip
