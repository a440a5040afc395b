from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from criptoren.domain.orders import Condition, Side, infer_condition
from criptoren.domain.positions import (
    TradeFact,
    apply_trade,
    held_quantity,
    position_from_trades,
)

prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100000), places=2)
quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10), places=3)
fees = st.decimals(min_value=Decimal(0), max_value=Decimal(5), places=8)


@st.composite
def trade_histories(draw: st.DrawFn) -> list[TradeFact]:
    """Buys and sells where no sell exceeds what is held at that moment."""
    held = Decimal(0)
    history = []
    for _ in range(draw(st.integers(min_value=1, max_value=25))):
        if held > 0 and draw(st.booleans()):
            quantity = min(draw(quantities), held)
            history.append(TradeFact(Side.SELL, draw(prices), quantity, draw(fees)))
            held -= quantity
        else:
            quantity = draw(quantities)
            history.append(TradeFact(Side.BUY, draw(prices), quantity, draw(fees)))
            held += quantity
    return history


@given(trade_histories())
def test_held_quantity_is_buys_minus_sells(history: list[TradeFact]) -> None:
    buys = sum((t.quantity for t in history if t.side is Side.BUY), Decimal(0))
    sells = sum((t.quantity for t in history if t.side is Side.SELL), Decimal(0))
    assert position_from_trades(history).quantity == buys - sells == held_quantity(history)


@given(trade_histories())
def test_realized_plus_cost_basis_equals_cash_flow(history: list[TradeFact]) -> None:
    """What went out (buys + all fees) minus what came in (sales) is the open cost basis
    minus the realized gain: the average-cost method only moves money between the two."""
    position = position_from_trades(history)
    cash_in = sum((t.price * t.quantity for t in history if t.side is Side.SELL), Decimal(0))
    cash_out = sum((t.price * t.quantity for t in history if t.side is Side.BUY), Decimal(0))
    fees_paid = sum((t.fee for t in history), Decimal(0))
    cash_flow = cash_in - cash_out - fees_paid
    assert abs(position.realized_pnl - position.cost_basis - cash_flow) < Decimal("1e-20")


@given(trade_histories())
def test_closing_the_position_realizes_the_whole_cash_flow(history: list[TradeFact]) -> None:
    position = position_from_trades(history)
    if position.quantity == 0:
        return
    closing = TradeFact(Side.SELL, Decimal("123.45"), position.quantity, Decimal("0.1"))
    closed = apply_trade(position, closing)
    everything = [*history, closing]
    cash = sum(
        (t.price * t.quantity * (1 if t.side is Side.SELL else -1) - t.fee for t in everything),
        Decimal(0),
    )
    assert closed.quantity == 0
    assert closed.cost_basis == 0
    assert abs(closed.realized_pnl - cash) < Decimal("1e-20")


def test_average_cost_includes_fees() -> None:
    position = position_from_trades(
        [
            TradeFact(Side.BUY, Decimal(100), Decimal(1), Decimal(1)),
            TradeFact(Side.BUY, Decimal(200), Decimal(1), Decimal(1)),
        ]
    )
    assert position.average_cost == Decimal(151)
    sold = apply_trade(position, TradeFact(Side.SELL, Decimal(200), Decimal(1), Decimal(2)))
    assert sold.realized_pnl == Decimal(200 - 2 - 151)
    assert sold.quantity == 1


def test_fee_in_base_asset_reduces_the_holdings() -> None:
    bought = position_from_trades(
        [TradeFact(Side.BUY, Decimal(100), Decimal(1), Decimal("0.001"), fee_in_base=True)]
    )
    assert bought.quantity == Decimal("0.999")
    assert bought.cost_basis == Decimal(100)


def test_condition_follows_the_crossing_rule() -> None:
    reference = Decimal(100)
    assert infer_condition(Side.BUY, Decimal(90), reference) is Condition.LTE
    assert infer_condition(Side.BUY, Decimal(110), reference) is Condition.GTE
    assert infer_condition(Side.SELL, Decimal(110), reference) is Condition.GTE
    assert infer_condition(Side.SELL, Decimal(90), reference) is Condition.LTE
    assert infer_condition(Side.BUY, reference, reference) is Condition.LTE
    assert infer_condition(Side.SELL, reference, reference) is Condition.GTE
