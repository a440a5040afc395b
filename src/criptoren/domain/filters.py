"""Binance symbol rules (``exchangeInfo`` filters) and the checks they impose on orders."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from criptoren.domain.money import plain
from criptoren.errors import InvalidInput

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """The trading rules of one symbol; a zero bound means the rule is disabled."""

    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    min_price: Decimal = ZERO
    max_price: Decimal = ZERO
    tick_size: Decimal = ZERO
    min_qty: Decimal = ZERO
    max_qty: Decimal = ZERO
    step_size: Decimal = ZERO
    market_min_qty: Decimal = ZERO
    market_max_qty: Decimal = ZERO
    market_step_size: Decimal = ZERO
    min_notional: Decimal = ZERO
    max_notional: Decimal = ZERO
    symbol_id: int | None = None  # the ``symbols`` row, once stored

    @property
    def is_trading(self) -> bool:
        """Whether orders may be placed now."""
        return self.status == "TRADING"


def _dec(filters: Mapping[str, Mapping[str, Any]], kind: str, key: str) -> Decimal:
    raw = filters.get(kind, {}).get(key)
    return Decimal(str(raw)) if raw is not None else ZERO


def _notional_bounds(filters: Mapping[str, Mapping[str, Any]]) -> tuple[Decimal, Decimal]:
    if "NOTIONAL" in filters:
        return _dec(filters, "NOTIONAL", "minNotional"), _dec(filters, "NOTIONAL", "maxNotional")
    # exchangeInfo bodies from before 2023 carry MIN_NOTIONAL instead of NOTIONAL
    return _dec(filters, "MIN_NOTIONAL", "minNotional"), ZERO


def rules_from_exchange_symbol(raw: Mapping[str, Any]) -> SymbolRules:
    """Build the rules of one ``exchangeInfo.symbols[]`` entry (both filter generations)."""
    filters = {f["filterType"]: f for f in raw.get("filters", [])}
    min_notional, max_notional = _notional_bounds(filters)
    return SymbolRules(
        symbol=str(raw["symbol"]).upper(),
        status=str(raw.get("status", "")),
        base_asset=str(raw.get("baseAsset", "")),
        quote_asset=str(raw.get("quoteAsset", "")),
        min_price=_dec(filters, "PRICE_FILTER", "minPrice"),
        max_price=_dec(filters, "PRICE_FILTER", "maxPrice"),
        tick_size=_dec(filters, "PRICE_FILTER", "tickSize"),
        min_qty=_dec(filters, "LOT_SIZE", "minQty"),
        max_qty=_dec(filters, "LOT_SIZE", "maxQty"),
        step_size=_dec(filters, "LOT_SIZE", "stepSize"),
        market_min_qty=_dec(filters, "MARKET_LOT_SIZE", "minQty"),
        market_max_qty=_dec(filters, "MARKET_LOT_SIZE", "maxQty"),
        market_step_size=_dec(filters, "MARKET_LOT_SIZE", "stepSize"),
        min_notional=min_notional,
        max_notional=max_notional,
    )


def parse_exchange_info(body: Mapping[str, Any]) -> list[SymbolRules]:
    """All symbols of an ``exchangeInfo`` body."""
    symbols: Iterable[Mapping[str, Any]] = body.get("symbols", [])
    return [rules_from_exchange_symbol(raw) for raw in symbols]


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """Whether ``value`` is a whole number of ``step`` (a zero step accepts anything)."""
    return step == 0 or value % step == 0


def round_down_to_step(value: Decimal, step: Decimal) -> Decimal:
    """The largest multiple of ``step`` not above ``value`` (never rounds up)."""
    if step == 0:
        return value
    return (value // step) * step


def check_price(rules: SymbolRules, price: Decimal, field: str = "price") -> None:
    """Refuse a price outside ``PRICE_FILTER``."""
    if rules.min_price and price < rules.min_price:
        raise InvalidInput(
            f"{field} {plain(price)} is below the minimum {plain(rules.min_price)}",
            code="price_too_low",
        )
    if rules.max_price and price > rules.max_price:
        raise InvalidInput(
            f"{field} {plain(price)} is above the maximum {plain(rules.max_price)}",
            code="price_too_high",
        )
    if not is_multiple(price, rules.tick_size):
        raise InvalidInput(
            f"{field} {plain(price)} is not a multiple of the tick size {plain(rules.tick_size)}",
            code="price_off_tick",
        )


def check_quantity(rules: SymbolRules, quantity: Decimal, field: str = "quantity") -> None:
    """Refuse a quantity outside ``LOT_SIZE``."""
    if rules.min_qty and quantity < rules.min_qty:
        raise InvalidInput(
            f"{field} {plain(quantity)} is below the minimum {plain(rules.min_qty)}",
            code="quantity_too_small",
        )
    if rules.max_qty and quantity > rules.max_qty:
        raise InvalidInput(
            f"{field} {plain(quantity)} is above the maximum {plain(rules.max_qty)}",
            code="quantity_too_large",
        )
    if not is_multiple(quantity, rules.step_size):
        raise InvalidInput(
            f"{field} {plain(quantity)} is not a multiple of the step size "
            f"{plain(rules.step_size)}",
            code="quantity_off_step",
        )


def check_notional(rules: SymbolRules, price: Decimal, quantity: Decimal) -> None:
    """Refuse price × quantity outside ``NOTIONAL``/``MIN_NOTIONAL``."""
    notional = price * quantity
    if rules.min_notional and notional < rules.min_notional:
        raise InvalidInput(
            f"order value {plain(notional)} is below the minimum notional "
            f"{plain(rules.min_notional)} {rules.quote_asset}",
            code="notional_too_small",
        )
    if rules.max_notional and notional > rules.max_notional:
        raise InvalidInput(
            f"order value {plain(notional)} is above the maximum notional "
            f"{plain(rules.max_notional)} {rules.quote_asset}",
            code="notional_too_large",
        )


def check_order(rules: SymbolRules, price: Decimal, quantity: Decimal) -> None:
    """All the exchange rules an order at ``price`` for ``quantity`` must satisfy."""
    if not rules.is_trading:
        raise InvalidInput(
            f"{rules.symbol} is not trading now (status {rules.status})", code="symbol_not_trading"
        )
    check_price(rules, price)
    check_quantity(rules, quantity)
    check_notional(rules, price, quantity)
