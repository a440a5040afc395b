"""``LiveBroker`` and ``BinanceSignedRest`` against the fake exchange on loopback.

The fake verifies API keys, signatures and timestamps as Binance does, fills MARKET orders
(through scripted depth when set) and can be told to fail any endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from criptoren.binance import errors as bx
from criptoren.binance.live_broker import LiveBroker, common_step, total_commission
from criptoren.binance.signed import BinanceSignedRest, RetryPolicy
from criptoren.binance.transport import BinanceHttp
from criptoren.config import Mode
from criptoren.domain.filters import SymbolRules
from criptoren.domain.orders import Side
from criptoren.engine.broker import (
    ExecutionRequest,
    OrderRejected,
    OutcomeUnknown,
    PaperBroker,
)
from criptoren.fake_exchange import FakeExchange
from criptoren.fake_exchange.faults import OrderRequest

API_KEY = "stub-key-4f1c9a7e2b"
API_SECRET = "stub-secret-93d0e6b1a8c45f72"
ORDER = "/api/v3/order"
RULES = SymbolRules(
    symbol="BTCUSDT",
    status="TRADING",
    base_asset="BTC",
    quote_asset="USDT",
    min_qty=Decimal("0.00001"),
    max_qty=Decimal("9000"),
    step_size=Decimal("0.00001"),
    market_min_qty=Decimal("0.00001"),
    market_max_qty=Decimal("100"),
    market_step_size=Decimal("0.0001"),
    min_notional=Decimal("0.5"),
)
PRICE = "50000"
# 0.004 at 50000 then the rest at 50100: 0.01 fills at (200 + 300.6) / 0.01 = 50060
TWO_LEVELS = [("50000", "0.004"), ("50100", "1")]
ACCOUNT = "/api/v3/account"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def request(
    quantity: str = "0.01",
    side: Side = Side.BUY,
    price: str = PRICE,
    coid: str = "crpt-1",
) -> ExecutionRequest:
    return ExecutionRequest(
        order_id=1,
        client_order_id=coid,
        rules=RULES,
        side=side,
        quantity=Decimal(quantity),
        trigger_price=Decimal(price),
        trigger_time_ms=0,
    )


def signed(fake: FakeExchange, method: str, path: str) -> list[OrderRequest]:
    """The signed requests of ``method path`` that reached the fake, in order."""
    return [
        r for r in fake.order_requests(every_endpoint=True) if (r.method, r.path) == (method, path)
    ]


def sent_anything(fake: FakeExchange) -> bool:
    return bool(fake.order_requests(every_endpoint=True) or fake.market_data_requests())


def make_client(fake: FakeExchange, secret: str = API_SECRET) -> BinanceSignedRest:
    http = BinanceHttp(fake.rest_url, timeout=0.5)
    return BinanceSignedRest(
        http, SecretStr(API_KEY), SecretStr(secret), retry=RetryPolicy(3, 0.01, 0.05)
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeExchange]:
    """The fake exchange, BTCUSDT at 50000, an account funded in USDT, BTC and BNB."""
    async with FakeExchange() as exchange:
        exchange.add_account(API_KEY, API_SECRET, {"USDT": "100000", "BTC": "10", "BNB": "1"})
        exchange.emit_prices("BTCUSDT", [PRICE])
        yield exchange


@pytest.fixture
async def client(fake: FakeExchange) -> AsyncIterator[BinanceSignedRest]:
    rest = make_client(fake)
    async with rest.http:
        yield rest


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def broker(client: BinanceSignedRest, clock: FakeClock) -> LiveBroker:
    return LiveBroker(client, clock=clock)


# --- execution -----------------------------------------------------------------------------


async def test_market_order_gives_average_price_and_base_commission(
    fake: FakeExchange, broker: LiveBroker
) -> None:
    fake.set_depth("BTCUSDT", TWO_LEVELS)
    fake.set_commission_asset("base")
    fill = await broker.execute(request("0.01"))
    assert fill.price == Decimal("50060.00000000")
    assert fill.quantity == Decimal("0.01")
    assert (fill.fee, fill.fee_asset) == (Decimal("0.00001"), "BTC")  # BUY: base-asset fee
    assert fill.mode is Mode.LIVE
    [at_exchange] = fake.orders(API_KEY)
    assert fill.exchange_order_id == str(at_exchange["orderId"])
    [sent] = fake.order_requests()
    assert sent.api_key == API_KEY
    assert {k: sent.params[k] for k in ("symbol", "side", "type", "quantity")} == {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "MARKET",
        "quantity": "0.01",
    }
    assert sent.params["newClientOrderId"] == "crpt-1"
    assert sent.params["newOrderRespType"] == "FULL"
    assert sent.params["recvWindow"] == "5000"


async def test_sell_commission_in_quote(fake: FakeExchange, broker: LiveBroker) -> None:
    fill = await broker.execute(request("0.05", Side.SELL))
    assert (fill.price, fill.quantity) == (Decimal("50000.00000000"), Decimal("0.05"))
    assert (fill.fee, fill.fee_asset) == (Decimal("2.5"), "USDT")
    assert fake.order_requests()[0].params["side"] == "SELL"


async def test_bnb_commission_is_summed_in_bnb(fake: FakeExchange, broker: LiveBroker) -> None:
    fake.set_commission_asset("BNB", fee_per_fill="0.0001")
    fake.set_depth("BTCUSDT", TWO_LEVELS)
    fill = await broker.execute(request("0.01"))
    assert (fill.fee, fill.fee_asset) == (Decimal("0.0002"), "BNB")


async def test_quantity_is_rounded_down_to_both_steps(
    fake: FakeExchange, broker: LiveBroker
) -> None:
    fill = await broker.execute(request("0.0123456"))
    assert fake.order_requests()[0].params["quantity"] == "0.0123"  # never 0.0124
    assert fill.quantity == Decimal("0.0123")


def test_common_step() -> None:
    assert common_step(Decimal("0.00001"), Decimal("0.0001")) == Decimal("0.0001")
    assert common_step(Decimal("0.3"), Decimal("0.2")) == Decimal("0.6")
    assert common_step(Decimal(0), Decimal("0.01")) == Decimal("0.01")


def test_mixed_commission_assets_book_the_base_asset() -> None:
    fills = [
        {"price": "100", "qty": "0.004", "commission": "0.0001", "commissionAsset": "BNB"},
        {"price": "101", "qty": "0.006", "commission": "0.000006", "commissionAsset": "BTC"},
        {"price": "101", "qty": "0.001", "commission": "0.000001", "commissionAsset": "BTC"},
    ]
    assert total_commission(fills, RULES) == (Decimal("0.000007"), "BTC")
    assert total_commission(fills[:1], RULES) == (Decimal("0.0001"), "BNB")
    assert total_commission([], RULES) == (Decimal(0), "USDT")


@pytest.mark.parametrize(
    ("quantity", "price", "reason"),
    [
        ("0.01", "40", "minimum notional 0.5"),  # 0.01 × 40 = 0.4 < 0.5
        ("0.00009", "1000000", "rounds down to 0"),  # below the market step
        ("150", "100", "above the maximum 100"),  # MARKET_LOT_SIZE maxQty
    ],
)
async def test_prechecks_send_nothing(
    fake: FakeExchange, broker: LiveBroker, quantity: str, price: str, reason: str
) -> None:
    with pytest.raises(OrderRejected, match=reason):
        await broker.execute(request(quantity, price=price))
    assert not sent_anything(fake)


async def test_exchange_rejection_carries_its_message(
    fake: FakeExchange, broker: LiveBroker
) -> None:
    fake.set_balance(API_KEY, "USDT", "1")
    with pytest.raises(OrderRejected, match="insufficient balance"):
        await broker.execute(request())
    assert len(fake.order_requests()) == 1


async def test_bad_signature_is_a_clear_rejection(fake: FakeExchange, clock: FakeClock) -> None:
    wrong = "not-the-secret-5a9b"
    rest = make_client(fake, secret=wrong)
    async with rest.http:
        with pytest.raises(OrderRejected, match="Signature for this request is not valid"):
            await LiveBroker(rest, clock=clock).execute(request())
        with pytest.raises(bx.InvalidSignature) as caught:
            await rest.account()
    for text in (str(caught.value), repr(caught.value), repr(rest), str(rest)):
        assert wrong not in text
        assert API_KEY not in text
    assert fake.orders(API_KEY) == []


# --- rate limits ---------------------------------------------------------------------------


async def test_429_waits_for_retry_after_then_sends_the_same_order(
    fake: FakeExchange, broker: LiveBroker
) -> None:
    fake.rate_limit_orders(1, retry_after=1)
    fill = await broker.execute(request(coid="crpt-429"))
    first, second = fake.order_requests()
    assert second.monotonic - first.monotonic >= 1.0
    assert first.params["newClientOrderId"] == second.params["newClientOrderId"] == "crpt-429"
    assert [o["clientOrderId"] for o in fake.orders(API_KEY)] == ["crpt-429"]
    assert fill.quantity == Decimal("0.01")


@pytest.mark.parametrize(("status", "kind"), [("429", bx.RateLimited), ("418", bx.IpBanned)])
async def test_nothing_is_sent_before_retry_after(
    fake: FakeExchange, client: BinanceSignedRest, status: str, kind: type[bx.RateLimited]
) -> None:
    fake.fail_requests("GET", ACCOUNT, status, retry_after=1)
    with pytest.raises(kind):
        await client.account()
    answered = signed(fake, "GET", ACCOUNT)[-1].monotonic
    assert client.http.gate.not_before >= answered + 1.0
    seen = len(fake.order_requests(every_endpoint=True)), len(fake.market_data_requests())
    with pytest.raises(kind):
        await client.get_order("BTCUSDT", "x")  # refused locally: never sent
    with pytest.raises(kind):
        await client.server_time()
    assert (len(fake.order_requests(every_endpoint=True)), len(fake.market_data_requests())) == seen
    await client.http.gate.wait()
    assert (await client.account())["canTrade"] is True
    assert signed(fake, "GET", ACCOUNT)[-1].monotonic - answered >= 1.0


# --- unknown outcomes ----------------------------------------------------------------------

MINUS_1007 = '{"code":-1007,"msg":"Timeout waiting for response from backend server."}'


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("5xx", {"status": 502, "body": "<html>Bad Gateway</html>"}),
        ("5xx", {"status": 503, "body": MINUS_1007}),
        ("timeout", {"hold": 2.0}),
        ("drop", {}),
    ],
    ids=["502", "-1007", "timeout", "drop"],
)
async def test_unknown_outcomes_are_never_resent(
    fake: FakeExchange, broker: LiveBroker, kind: str, options: dict[str, Any]
) -> None:
    fake.fail_orders(kind, **options)
    with pytest.raises(OutcomeUnknown):
        await broker.execute(request())
    assert len(fake.order_requests()) == 1


async def test_reply_lost_after_execution_then_lookup_finds_the_fill(
    fake: FakeExchange, broker: LiveBroker
) -> None:
    fake.set_depth("BTCUSDT", TWO_LEVELS)
    fake.set_commission_asset("base")
    fake.drop_order_replies(1, hold=1.0)  # executed; the client gives up waiting first
    with pytest.raises(OutcomeUnknown):
        await broker.execute(request(coid="crpt-lost"))
    fill = await broker.lookup(request(coid="crpt-lost"))
    assert fill is not None
    assert fill.price == Decimal("50060.00000000")
    assert (fill.quantity, fill.fee, fill.fee_asset) == (Decimal("0.01"), Decimal("0.00001"), "BTC")
    [at_exchange] = fake.orders(API_KEY)
    assert fill.exchange_order_id == str(at_exchange["orderId"])
    assert len(fake.order_requests()) == 1


async def test_dropped_reply_after_execution_then_lookup(
    fake: FakeExchange, broker: LiveBroker
) -> None:
    fake.drop_order_replies(1)
    with pytest.raises(OutcomeUnknown):
        await broker.execute(request(quantity="0.05", side=Side.SELL))
    fill = await broker.lookup(request(quantity="0.05", side=Side.SELL))
    assert fill is not None
    assert (fill.fee, fill.fee_asset) == (Decimal("2.5"), "USDT")


async def test_unknown_order_is_none_only_after_recv_window(
    fake: FakeExchange, broker: LiveBroker, clock: FakeClock
) -> None:
    fake.timeout_orders(1, hold=1.0)  # lost on the way: never executed
    with pytest.raises(OutcomeUnknown):
        await broker.execute(request(coid="crpt-gone"))
    clock.now += 5.0  # recvWindow 5 s, + 1 s of allowed clock lead, + 1 s margin not yet over
    with pytest.raises(OutcomeUnknown, match="may still arrive"):
        await broker.lookup(request(coid="crpt-gone"))
    clock.now += 2.1
    assert await broker.lookup(request(coid="crpt-gone")) is None


async def test_unknown_order_never_sent_by_this_process(
    broker: LiveBroker, clock: FakeClock
) -> None:
    # after a restart the order was signed (if at all) before this broker was created
    with pytest.raises(OutcomeUnknown):
        await broker.lookup(request(coid="crpt-before-restart"))
    clock.now += broker.settle_seconds + 0.001
    assert await broker.lookup(request(coid="crpt-before-restart")) is None


async def test_lookup_while_the_order_is_in_flight_is_unknown(
    fake: FakeExchange, broker: LiveBroker, clock: FakeClock
) -> None:
    clock.now += 3600  # long after the broker was born: only "in flight" can say "wait"
    fake.timeout_orders(1, hold=2.0)
    sending = asyncio.create_task(broker.execute(request(coid="crpt-busy")))
    await fake.wait_order_requests(1, within=5)
    with pytest.raises(OutcomeUnknown, match="being sent"):
        await broker.lookup(request(coid="crpt-busy"))
    with pytest.raises(OutcomeUnknown):
        await sending


async def test_lookup_network_trouble_is_unknown(fake: FakeExchange, broker: LiveBroker) -> None:
    fake.fail_requests("GET", ORDER, "5xx", count=3)
    with pytest.raises(OutcomeUnknown):
        await broker.lookup(request())
    assert len(signed(fake, "GET", ORDER)) == 3  # reads are retried, up to the policy


async def test_lookup_of_an_order_that_expired_unfilled_is_a_rejection(
    fake: FakeExchange, broker: LiveBroker
) -> None:
    fake.expire_orders(1)  # no liquidity: EXPIRED, nothing executed
    fake.drop_order_replies(1)
    with pytest.raises(OutcomeUnknown):
        await broker.execute(request(coid="crpt-x"))
    with pytest.raises(OrderRejected, match="EXPIRED"):
        await broker.lookup(request(coid="crpt-x"))


async def test_paper_broker_is_atomic() -> None:
    paper = PaperBroker(Decimal("0.001"), Decimal(0))
    assert paper.atomic is True
    assert LiveBroker.atomic is False
    assert await paper.lookup(request()) is None


# --- the signed client ---------------------------------------------------------------------


async def test_reads_are_retried_but_orders_never(
    fake: FakeExchange, client: BinanceSignedRest
) -> None:
    fake.fail_requests("GET", ACCOUNT, "5xx", status=500)
    fake.fail_requests("GET", ACCOUNT, "timeout", hold=1.0)
    assert (await client.account())["canTrade"] is True
    assert len(signed(fake, "GET", ACCOUNT)) == 3
    fake.error_orders(1, status=500)
    with pytest.raises(bx.OutcomeUnknownAtExchange):
        await client.new_order("BTCUSDT", "BUY", "MARKET", Decimal("0.01"), "crpt-9")
    assert len(fake.order_requests()) == 1


async def test_clock_offset_is_learnt_and_relearnt(fake: FakeExchange) -> None:
    fake.skew_clock(30_000)  # the exchange's clock is 30 s ahead of ours
    rest = make_client(fake)
    async with rest.http:
        await rest.account()
        assert rest.time_offset_ms is not None
        assert abs(rest.time_offset_ms - 30_000) < 500
        fake.skew_clock(-20_000)
        await rest.account()  # -1021, offset re-learnt, retried once
        assert abs(rest.time_offset_ms + 20_000) < 500
        broker = LiveBroker(rest)
        fake.skew_clock(10_000)
        await broker.execute(request(coid="crpt-skew"))  # a -1021 order was refused: resent
    assert len([r for r in fake.market_data_requests() if r[0] == "/api/v3/time"]) == 3
    refused, accepted = fake.order_requests()
    assert (refused.outcome, accepted.outcome) == ("error -1021", "FILLED")
    assert refused.params["newClientOrderId"] == accepted.params["newClientOrderId"]
    assert [o["clientOrderId"] for o in fake.orders(API_KEY)] == ["crpt-skew"]


async def test_used_weight_and_test_orders(fake: FakeExchange, client: BinanceSignedRest) -> None:
    assert client.http.used_weight is None
    reply = await client.new_order("BTCUSDT", "BUY", "MARKET", Decimal("0.01"), "crpt-t", test=True)
    assert reply == {}
    assert client.http.used_weight == fake.gateway.weight.used
    assert fake.orders(API_KEY) == []
    await client.my_trades("BTCUSDT", 1)
    assert client.http.used_weight == fake.gateway.weight.used > 20


async def test_non_ascii_parameters_are_signed_as_sent(
    fake: FakeExchange, client: BinanceSignedRest
) -> None:
    with pytest.raises(bx.UnknownOrder, match="Order does not exist"):
        await client.get_order("BTCUSDT", "pedido-ção 1/2&3")
    assert signed(fake, "GET", ORDER)[0].params["origClientOrderId"] == "pedido-ção 1/2&3"
