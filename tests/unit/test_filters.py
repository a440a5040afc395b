import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from criptoren.domain.filters import (
    SymbolRules,
    check_order,
    is_multiple,
    parse_exchange_info,
    round_down_to_step,
)
from criptoren.errors import InvalidInput
from tests.support.paths import exchange_info_path

BTC = SymbolRules(
    symbol="BTCUSDT",
    status="TRADING",
    base_asset="BTC",
    quote_asset="USDT",
    min_price=Decimal("0.01"),
    max_price=Decimal("1000000"),
    tick_size=Decimal("0.01"),
    min_qty=Decimal("0.00001"),
    max_qty=Decimal("9000"),
    step_size=Decimal("0.00001"),
    min_notional=Decimal("5"),
    max_notional=Decimal("9000000"),
)


def _load(name: str) -> dict[str, SymbolRules]:
    body = json.loads(Path(exchange_info_path(name)).read_text())
    return {rules.symbol: rules for rules in parse_exchange_info(body)}


def test_2025_body_uses_notional_filter() -> None:
    rules = _load("exchangeInfo_spot_subset25_2025-08-07_gocryptotrader.json")
    btc = rules["BTCUSDT"]
    assert (btc.tick_size, btc.step_size) == (Decimal("0.01"), Decimal("0.00001"))
    assert (btc.min_notional, btc.max_notional) == (Decimal("5"), Decimal("9000000"))
    assert btc.market_max_qty == Decimal("97.09521512")
    assert rules["EOSETH"].status == "BREAK"


def test_2021_body_uses_min_notional_filter() -> None:
    rules = _load("exchangeInfo_spot_full_2021-10-12_cryptofeed.json")
    assert len(rules) == 1695
    btc = rules["BTCUSDT"]
    assert btc.min_notional == Decimal("10")
    assert btc.max_notional == 0


def test_valid_order_passes() -> None:
    check_order(BTC, Decimal("62000"), Decimal("0.005"))


@pytest.mark.parametrize(
    ("price", "quantity", "code"),
    [
        ("62000.001", "0.005", "price_off_tick"),
        ("0.001", "0.005", "price_too_low"),
        ("2000000", "0.005", "price_too_high"),
        ("62000", "0.000015", "quantity_off_step"),
        ("62000", "0.000001", "quantity_too_small"),
        ("62000", "9001", "quantity_too_large"),
        ("100", "0.00001", "notional_too_small"),
    ],
)
def test_rule_violations_have_codes(price: str, quantity: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_order(BTC, Decimal(price), Decimal(quantity))
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("price", "quantity", "message"),
    [
        ("62000", "0.0000001", "quantity 0.0000001 is below the minimum 0.00001"),
        ("2000000", "0.005", "price 2000000 is above the maximum 1000000"),
        ("0.001", "0.005", "price 0.001 is below the minimum 0.01"),
        ("62000", "0.00001050", "quantity 0.0000105 is not a multiple of the step size 0.00001"),
        ("999999", "9000", "order value 8999991000 is above the maximum notional 9000000 USDT"),
    ],
)
def test_refusals_write_amounts_as_people_do(price: str, quantity: str, message: str) -> None:
    # str() of 0.0000001 is "1E-7" and Decimal.normalize() of 1000000 is "1E+6": neither
    # may reach a user who sent "0.0000001" against a limit of 1,000,000
    with pytest.raises(InvalidInput) as caught:
        check_order(BTC, Decimal(price), Decimal(quantity))
    assert caught.value.message == message


def test_non_trading_symbol_is_refused() -> None:
    halted = SymbolRules(symbol="EOSETH", status="BREAK", base_asset="EOS", quote_asset="ETH")
    with pytest.raises(InvalidInput, match="not trading"):
        check_order(halted, Decimal(1), Decimal(1))


steps = st.sampled_from([Decimal("0.00001"), Decimal("0.001"), Decimal("1"), Decimal("0.5")])
values = st.decimals(min_value=Decimal(0), max_value=Decimal(100000), places=8)


@given(values, steps)
def test_round_down_never_rounds_up_and_lands_on_a_step(value: Decimal, step: Decimal) -> None:
    rounded = round_down_to_step(value, step)
    assert rounded <= value
    assert value - rounded < step
    assert is_multiple(rounded, step)


@given(st.integers(min_value=1, max_value=10**9), steps)
def test_multiples_of_the_step_pass(count: int, step: Decimal) -> None:
    assert is_multiple(step * count, step)
    assert not is_multiple(step * count + step / 2, step)
