from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from criptoren.domain.orders import Condition, Side, infer_condition
from criptoren.domain.positions import (
    TradeFact,
    apply_trade,
    held_quantity,
    position_from_trades,
    sale_shortfall,
    trade_fact,
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


def test_a_fee_in_a_third_asset_stays_out_of_cost_and_holdings() -> None:
    def fact(side: Side, fee_asset: str) -> TradeFact:
        return trade_fact(side, Decimal(100), Decimal(2), Decimal("0.01"), fee_asset, "ETH", "USDT")

    buy_bnb, sell_bnb = fact(Side.BUY, "BNB"), fact(Side.SELL, "BNB")
    assert (buy_bnb.fee, buy_bnb.fee_in_base) == (0, False)
    assert position_from_trades([buy_bnb]).cost_basis == 200
    assert held_quantity([buy_bnb, fact(Side.BUY, "ETH")]) == Decimal("3.99")
    assert position_from_trades([buy_bnb, sell_bnb]).realized_pnl == 0
    assert position_from_trades([fact(Side.BUY, "USDT")]).cost_basis == Decimal("200.01")


def test_a_sale_may_not_eat_reserved_quantity() -> None:
    assert sale_shortfall(Decimal("0.002"), Decimal("0.01"), Decimal("0.008"), "BTC") is None
    refusal = sale_shortfall(Decimal("0.003"), Decimal("0.01"), Decimal("0.008"), "BTC")
    assert refusal == (
        "cannot sell 0.003 BTC: holdings are 0.01 BTC with 0.008 BTC reserved by waiting "
        "sells (0.002 BTC unreserved); cancel a waiting sell first"
    )
    plain = sale_shortfall(Decimal("0.02"), Decimal("0.01"), Decimal(0), "BTC")
    assert plain == "cannot sell 0.02 BTC: holdings are 0.01 BTC"


def test_a_sale_must_also_cover_its_fee_in_the_base_asset() -> None:
    # the fee comes out of the holdings (held_quantity): selling all of them and paying it
    # in BTC would leave a negative position
    fee = Decimal("0.00001")
    refusal = sale_shortfall(Decimal("0.005"), Decimal("0.005"), Decimal(0), "BTC", fee)
    assert refusal == "cannot sell 0.005 BTC and pay a fee of 0.00001 BTC: holdings are 0.005 BTC"
    assert sale_shortfall(Decimal("0.00499"), Decimal("0.005"), Decimal(0), "BTC", fee) is None
