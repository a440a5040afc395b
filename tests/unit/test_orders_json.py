"""The orders listing's hand-written JSON is byte for byte what the OrderOut schema writes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pydantic import TypeAdapter

from criptoren.api.convert import order_out, orders_json
from criptoren.api.schemas import OrderOut
from criptoren.db.repositories import OrderRow
from criptoren.domain.orders import Condition, OrderOrigin, OrderStatus, Side

SCHEMA = TypeAdapter(list[OrderOut])


def amount(rng: random.Random) -> Decimal:
    """A ``DECIMAL(18,8)`` amount with 0 to 8 decimals, as a row may hold one."""
    places = rng.randint(0, 8)
    return Decimal(rng.randint(1, 10**10)).scaleb(-places)


def order(rng: random.Random, order_id: int) -> OrderRow:
    """An order with every optional field present or absent at random."""
    at = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(microseconds=rng.choice([0, 1, 999_999]))
    maybe = rng.random() < 0.5
    return OrderRow(
        id=order_id,
        client_id=rng.randint(1, 2**31 - 1),
        symbol=rng.choice(["BTCUSDT", "ETHUSDT", "SHIBUSDT"]),
        type=rng.choice(list(Side)),
        target_price=amount(rng),
        quantity=amount(rng),
        status=rng.choice(list(OrderStatus)),
        condition=rng.choice(list(Condition)),
        reference_price=amount(rng) if maybe else None,
        client_order_id=f"crpt-{order_id}" if maybe else None,
        created_at=at,
        triggered_at=at + timedelta(seconds=1) if maybe else None,
        executed_trade_id=order_id if maybe else None,
        failure_reason='insufficient "balance" \\ ñ' if maybe else None,
        origin=rng.choice(list(OrderOrigin)),
        strategy_id=rng.randint(1, 9) if maybe else None,
    )


def test_orders_json_writes_what_the_schema_writes() -> None:
    rng = random.Random(20261201)
    for round_ in range(300):
        rows = [order(rng, round_ * 10 + i) for i in range(rng.randint(0, 4))]
        known = {"BTCUSDT": amount(rng), "ETHUSDT": Decimal("2600.5")}

        def price(symbol: str, known: dict[str, Decimal] = known) -> Decimal | None:
            return known.get(symbol)

        expected = SCHEMA.dump_json([order_out(row, price) for row in rows])
        assert orders_json(rows, price) == expected, rows
