"""Wire schemas: the original Portuguese bodies and the English ``/api/v1`` ones."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from criptoren.api.types import (
    NO_CONTROL_CHARACTERS,
    Amount,
    Body,
    BodyId,
    FeeAmount,
    MoneyOut,
    SymbolText,
)
from criptoren.domain.orders import Condition, OrderStatus, Side

ConditionText = Literal["lte", "gte", "<=", ">=", "≤", "≥"]
ShortText = Annotated[str, Field(max_length=64), NO_CONTROL_CHARACTERS]
OptionalText = Annotated[ShortText | None, Field(default=None)]


class PosicionarBody(Body):
    """Original body of ``/posicionar-compra`` (and ``/posicionar-venda``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"cliente_id": 1, "symbol": "BTCUSDT", "preco_alvo": 62000, "quantidade": 0.005},
                {"symbol": "BTCUSDT", "preco_alvo": "62000", "quantidade": "0.005"},
            ]
        }
    )

    cliente_id: BodyId | None = Field(
        default=None, description="Defaults to the token's client; the admin token must name it."
    )
    symbol: SymbolText
    preco_alvo: Amount
    quantidade: Amount
    condicao: ConditionText | None = Field(
        default=None, description="Optional: lte fires at price ≤ target, gte at ≥ target."
    )


class RegistrarBody(Body):
    """Original body of ``/registrar-compra`` and ``/registrar-venda``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cliente_id": 1,
                    "symbol": "BTCUSDT",
                    "preco_executado": 61950.5,
                    "quantidade": 0.005,
                }
            ]
        }
    )

    cliente_id: BodyId | None = Field(
        default=None, description="Defaults to the token's client; the admin token must name it."
    )
    symbol: SymbolText
    preco_executado: Amount
    quantidade: Amount
    taxa: FeeAmount | None = Field(default=None, description="Fee paid (optional).")
    taxa_ativo: OptionalText = Field(default=None, description="Asset the fee was paid in.")
    ordem_id: OptionalText = Field(default=None, description="Exchange order id (optional).")


class OrdemOut(BaseModel):
    """A positioned order, in the original vocabulary."""

    id: int
    cliente_id: int
    symbol: str
    tipo: Side
    preco_alvo: MoneyOut
    quantidade: MoneyOut
    status: OrderStatus
    condicao: Condition
    preco_referencia: MoneyOut | None
    client_order_id: str | None
    criado_em: datetime
    preco_atual: MoneyOut | None = None
    distancia: MoneyOut | None = None
    distancia_percentual: str | None = None


class NegociacaoOut(BaseModel):
    """A recorded trade, in the original vocabulary."""

    id: int
    cliente_id: int
    symbol: str
    tipo: Side
    preco_executado: MoneyOut
    quantidade: MoneyOut
    taxa: MoneyOut
    taxa_ativo: str | None
    ordem_id: str | None
    ordem_posicionada_id: int | None
    origem: str
    modo: str
    executado_em: datetime


class OrderIn(Body):
    """Position an order (``client_id`` defaults to the token's client)."""

    client_id: BodyId | None = None
    symbol: SymbolText
    side: Side
    target_price: Amount
    quantity: Amount
    condition: ConditionText | None = None


class OrderOut(BaseModel):
    """A positioned order."""

    id: int
    client_id: int
    symbol: str
    side: Side
    target_price: MoneyOut
    quantity: MoneyOut
    status: OrderStatus
    condition: Condition
    reference_price: MoneyOut | None
    client_order_id: str | None
    created_at: datetime
    triggered_at: datetime | None
    executed_trade_id: int | None
    failure_reason: str | None
    origin: str = Field(default="manual", description="manual, or strategy (its strategy_id).")
    strategy_id: int | None = None
    last_price: MoneyOut | None = Field(default=None, description="Live price, when known.")
    distance: MoneyOut | None = Field(default=None, description="target_price - last_price.")
    distance_percent: str | None = Field(default=None, description="distance in % of last.")


class TradeIn(Body):
    """Record a trade executed elsewhere."""

    client_id: BodyId | None = None
    symbol: SymbolText
    side: Side
    price: Amount
    quantity: Amount
    fee: FeeAmount | None = None
    fee_asset: OptionalText = None
    order_id: OptionalText = None


class TradeOut(BaseModel):
    """An executed trade."""

    id: int
    client_id: int
    symbol: str
    side: Side
    price: MoneyOut
    quantity: MoneyOut
    fee: MoneyOut
    fee_asset: str | None
    order_id: str | None
    positioned_order_id: int | None
    source: str
    mode: str
    executed_at: datetime


class PositionOut(BaseModel):
    """Holdings and P&L of one symbol."""

    client_id: int
    symbol: str
    quantity: MoneyOut
    average_cost: MoneyOut
    cost_basis: MoneyOut
    realized_pnl: MoneyOut
    last_price: MoneyOut | None
    unrealized_pnl: MoneyOut | None


class PosicaoOut(BaseModel):
    """Holdings and P&L of one symbol, in the original vocabulary."""

    cliente_id: int
    symbol: str
    quantidade: MoneyOut
    custo_medio: MoneyOut
    pnl_realizado: MoneyOut
    ultimo_preco: MoneyOut | None
    pnl_nao_realizado: MoneyOut | None


class SymbolOut(BaseModel):
    """A symbol and its exchange rules (bounds of 0 are disabled)."""

    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    min_price: MoneyOut
    max_price: MoneyOut
    tick_size: MoneyOut
    min_qty: MoneyOut
    max_qty: MoneyOut
    step_size: MoneyOut
    min_notional: MoneyOut
    max_notional: MoneyOut


class MonitorOut(BaseModel):
    """A monitored symbol and what is known of its price now."""

    symbol: str
    monitored: bool
    status: str
    last_price: MoneyOut | None
    market: dict[str, object] | None = None


class ClientIn(Body):
    """Create a client."""

    name: Annotated[str, Field(min_length=1, max_length=100)]


class ClientOut(BaseModel):
    """A client (never its token)."""

    id: int
    name: str
    active: bool
    created_at: datetime


class ClientTokenOut(BaseModel):
    """A client and its token: shown this once, store it safely."""

    id: int
    name: str
    token: str


class ErrorDetail(BaseModel):
    """Machine-readable code and human message."""

    code: str
    message: str
    details: list[dict[str, object]] | None = None


class ErrorOut(BaseModel):
    """Every error response has this shape."""

    error: ErrorDetail
