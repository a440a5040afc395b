"""What a person reads: an event as a Portuguese title, plain text and HTML (Jinja2)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

SIDES = {"buy": "compra", "sell": "venda"}
TITLES = {
    "order.placed": "Ordem {order_id} posicionada",
    "order.triggered": "Ordem {order_id} disparada",
    "order.executed": "Ordem {order_id} executada",
    "order.failed": "Ordem {order_id} falhou",
    "order.cancelled": "Ordem {order_id} cancelada",
    "alert.triggered": "Alerta disparado: {symbol}",
}
SUMMARIES = {
    "order.placed": "Sua ordem de {side} de {symbol} foi posicionada.",
    "order.triggered": "O mercado atingiu o preço alvo da sua ordem de {side} de {symbol}.",
    "order.executed": "Sua ordem de {side} de {symbol} foi executada.",
    "order.failed": "Sua ordem de {side} de {symbol} não pôde ser executada.",
    "order.cancelled": "Sua ordem de {side} de {symbol} foi cancelada.",
    "alert.triggered": "Seu alerta de preço de {symbol} foi disparado.",
}
LABELS = {
    "order_id": "Ordem",
    "symbol": "Par",
    "side": "Lado",
    "price": "Preço",
    "target_price": "Preço alvo",
    "quantity": "Quantidade",
    "trade_id": "Negociação",
    "reason": "Motivo",
    "alert_id": "Alerta",
    "condition": "Condição",
    "note": "Nota",
}


@dataclass(frozen=True, slots=True)
class Message:
    """One event as a person reads it."""

    title: str
    text: str
    html: str


class _Defaults(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


class MessageRenderer:
    """Renders an event body (the webhook's JSON) in Portuguese."""

    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("criptoren.notify", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
        )

    def render(self, body: str) -> Message:
        """Title, plain text and HTML of an event body."""
        event = json.loads(body)
        data: dict[str, Any] = event.get("data") or {}
        values = _Defaults({k: SIDES.get(v, v) if k == "side" else v for k, v in data.items()})
        kind = event["type"]
        title = "Criptoren: " + TITLES.get(kind, "notificação {kind}").format_map(
            values | {"kind": kind}
        )
        summary = SUMMARIES.get(kind, "Evento {kind}.").format_map(values | {"kind": kind})
        rows = [(LABELS.get(k, k), v) for k, v in values.items() if v is not None]
        context = {"title": title, "summary": summary, "rows": rows, "event": event}
        return Message(
            title,
            self.env.get_template("event.txt").render(context),
            self.env.get_template("event.html").render(context),
        )
