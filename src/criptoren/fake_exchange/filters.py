"""exchangeInfo symbol filters applied to a MARKET order, as Binance applies them."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from criptoren.fake_exchange.errors import BinanceError

ZERO = Decimal(0)


def _filter(info: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for item in info.get("filters", []):
        if item.get("filterType") == kind:
            return dict(item)
    return None


def _dec(item: dict[str, Any], key: str) -> Decimal:
    return Decimal(str(item.get(key, "0")))


def _lot_ok(item: dict[str, Any], qty: Decimal) -> bool:
    low, high, step = _dec(item, "minQty"), _dec(item, "maxQty"), _dec(item, "stepSize")
    if low and qty < low:
        return False
    if high and qty > high:
        return False
    return not step or (qty - low) % step == ZERO


def _notional_ok(item: dict[str, Any], notional: Decimal) -> bool:
    if item["filterType"] == "MIN_NOTIONAL":
        return not item.get("applyToMarket", True) or notional >= _dec(item, "minNotional")
    low, high = _dec(item, "minNotional"), _dec(item, "maxNotional")
    if item.get("applyMinToMarket", True) and low and notional < low:
        return False
    return not (item.get("applyMaxToMarket", False) and high and notional > high)


def check_market(info: dict[str, Any], qty: Decimal, price: Decimal) -> None:
    """Raise ``-1013 Filter failure: <FILTER>`` when a MARKET order of ``qty`` breaks a rule."""
    if qty <= ZERO:
        raise BinanceError(-1013, "Invalid quantity.")
    for kind in ("LOT_SIZE", "MARKET_LOT_SIZE"):
        item = _filter(info, kind)
        if item is not None and not _lot_ok(item, qty):
            raise BinanceError(-1013, f"Filter failure: {kind}")
    for kind in ("MIN_NOTIONAL", "NOTIONAL"):
        item = _filter(info, kind)
        if item is not None and not _notional_ok(item, qty * price):
            raise BinanceError(-1013, f"Filter failure: {kind}")


def qty_for_quote(info: dict[str, Any], quote: Decimal, price: Decimal) -> Decimal:
    """The base quantity a ``quoteOrderQty`` buys at ``price``, rounded down to the lot step."""
    qty = quote / price
    for kind in ("MARKET_LOT_SIZE", "LOT_SIZE"):
        item = _filter(info, kind)
        step = ZERO if item is None else _dec(item, "stepSize")
        if step:
            return (qty / step).to_integral_value(ROUND_DOWN) * step
    return qty.quantize(Decimal("0.00000001"), ROUND_DOWN)
