"""The baseline of bench/api.py: a bare FastAPI app with a pydantic body, no database."""

from __future__ import annotations

from decimal import Decimal

from fastapi import FastAPI, status
from pydantic import BaseModel

app = FastAPI()


class OrderBody(BaseModel):
    """The shape of ``/posicionar-compra``'s body."""

    cliente_id: int
    symbol: str
    preco_alvo: Decimal
    quantidade: Decimal


@app.get("/")
async def read() -> dict[str, str]:
    """A constant answer."""
    return {"status": "OK"}


@app.post("/orders", status_code=status.HTTP_201_CREATED)
async def write(body: OrderBody) -> OrderBody:
    """The validated body, echoed."""
    return body
