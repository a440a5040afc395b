"""Holdings checks shared by positioned sells and recorded sells."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from criptoren.db.repositories import ClientRepository, OrderRepository, TradeRepository
from criptoren.domain.filters import SymbolRules
from criptoren.domain.positions import held_quantity
from criptoren.errors import InvalidInput


async def holdings(session: AsyncSession, client_id: int, rules: SymbolRules) -> Decimal:
    """What the client holds of the symbol's base asset, per its recorded trades."""
    facts = await TradeRepository(session).facts(client_id, rules.symbol, rules.base_asset)
    return held_quantity(facts)


async def ensure_can_sell(
    session: AsyncSession,
    client_id: int,
    rules: SymbolRules,
    quantity: Decimal,
    *,
    respect_reservations: bool,
) -> None:
    """Lock the client's holdings and refuse a sale beyond them (or beyond the unreserved part)."""
    await ClientRepository(session).lock(client_id)
    held = await holdings(session, client_id, rules)
    reserved = Decimal(0)
    if respect_reservations:
        reserved = await OrderRepository(session).reserved_quantity(client_id, rules.symbol)
    what = "unreserved holdings" if respect_reservations else "holdings"
    message = sale_shortfall(quantity, held - reserved, rules.base_asset, what)
    if message is not None:
        raise InvalidInput(message, code="insufficient_holdings")


def sale_shortfall(
    quantity: Decimal, available: Decimal, asset: str, what: str = "holdings"
) -> str | None:
    """Why selling ``quantity`` is impossible, or ``None`` when ``available`` covers it."""
    if quantity <= available:
        return None
    return (
        f"cannot sell {quantity.normalize()} {asset}: {what} are "
        f"{max(available, Decimal(0)).normalize()} {asset}"
    )
