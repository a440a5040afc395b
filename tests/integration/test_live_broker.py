"""``LiveBroker`` and ``BinanceSignedRest`` against a real HTTP server on loopback.

The server is ``tests.support.binance_stub.BinanceStub``: it verifies signatures and
timestamps as Binance does and can be told to fail. (When the fake exchange grows signed
trading endpoints, ``test_fake_exchange_order_round_trip`` runs the happy path against it.)
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
from tests.support.binance_stub import BinanceStub, Fault

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
# 0.004 at 100 then the rest at 101: 0.01 fills at (0.4 + 0.606) / 0.01 = 100.6
TWO_LEVELS = [(Decimal("100"), Decimal("0.004")), (Decimal("101"), Decimal(1))]


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def request(
    quantity: str = "0.01",
    side: Side = Side.BUY,
    price: str = "100",
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


def make_client(stub: BinanceStub, secret: str = API_SECRET) -> BinanceSignedRest:
    http = BinanceHttp(stub.rest_url, timeout=0.5)
    return BinanceSignedRest(
        http, SecretStr(API_KEY), SecretStr(secret), retry=RetryPolicy(3, 0.01, 0.05)
    )


@pytest.fixture
async def stub() -> AsyncIterator[BinanceStub]:
    async with BinanceStub(API_KEY, API_SECRET) as server:
        yield server


@pytest.fixture
async def client(stub: BinanceStub) -> AsyncIterator[BinanceSignedRest]:
    rest = make_client(stub)
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
    stub: BinanceStub, broker: LiveBroker
) -> None:
    stub.venue.levels["BTCUSDT"] = [
        (Decimal("100"), Decimal("0.004")),
        (Decimal("101"), Decimal(1)),
    ]
    fill = await broker.execute(request("0.01"))
    assert fill.price == Decimal("100.60000000")  # (0.004×100 + 0.006×101) / 0.01
    assert fill.quantity == Decimal("0.01")
    assert (fill.fee, fill.fee_asset) == (Decimal("0.00001"), "BTC")  # BUY: base-asset fee
    assert fill.mode is Mode.LIVE
    assert fill.exchange_order_id == str(stub.orders["crpt-1"]["orderId"])
    (sent,) = stub.seen("POST", ORDER)
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


async def test_sell_commission_in_quote(stub: BinanceStub, broker: LiveBroker) -> None:
    stub.venue.levels["BTCUSDT"] = [(Decimal("200"), Decimal(1))]
    fill = await broker.execute(request("0.05", Side.SELL))
    assert (fill.price, fill.quantity) == (Decimal("200.00000000"), Decimal("0.05"))
    assert (fill.fee, fill.fee_asset) == (Decimal("0.01"), "USDT")
    assert stub.seen("POST", ORDER)[0].params["side"] == "SELL"


async def test_bnb_commission_is_summed_in_bnb(stub: BinanceStub, broker: LiveBroker) -> None:
    stub.venue.commission_asset = "BNB"
    stub.venue.levels["BTCUSDT"] = [
        (Decimal("100"), Decimal("0.004")),
        (Decimal("101"), Decimal(1)),
    ]
    fill = await broker.execute(request("0.01"))
    assert (fill.fee, fill.fee_asset) == (Decimal("0.0002"), "BNB")


async def test_quantity_is_rounded_down_to_both_steps(
    stub: BinanceStub, broker: LiveBroker
) -> None:
    fill = await broker.execute(request("0.0123456"))
    assert stub.seen("POST", ORDER)[0].params["quantity"] == "0.0123"  # never 0.0124
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
    stub: BinanceStub, broker: LiveBroker, quantity: str, price: str, reason: str
) -> None:
    with pytest.raises(OrderRejected, match=reason):
        await broker.execute(request(quantity, price=price))
    assert stub.arrivals == []


async def test_exchange_rejection_carries_its_message(
    stub: BinanceStub, broker: LiveBroker
) -> None:
    body = {"code": -2010, "msg": "Account has insufficient balance for requested action."}
    stub.fail_next("POST", ORDER, Fault("status", 400, body))
    with pytest.raises(OrderRejected, match="insufficient balance"):
        await broker.execute(request())
    assert len(stub.seen("POST", ORDER)) == 1


async def test_bad_signature_is_a_clear_rejection(stub: BinanceStub, clock: FakeClock) -> None:
    wrong = "not-the-secret-5a9b"
    rest = make_client(stub, secret=wrong)
    async with rest.http:
        with pytest.raises(OrderRejected, match="Signature for this request is not valid"):
            await LiveBroker(rest, clock=clock).execute(request())
        with pytest.raises(bx.InvalidSignature) as caught:
            await rest.account()
    for text in (str(caught.value), repr(caught.value), repr(rest), str(rest)):
        assert wrong not in text
        assert API_KEY not in text
    assert stub.orders == {}


# --- rate limits ---------------------------------------------------------------------------


async def test_429_waits_for_retry_after_then_sends_the_same_order(
    stub: BinanceStub, broker: LiveBroker
) -> None:
    stub.fail_next("POST", ORDER, Fault("status", 429, retry_after=1))
    fill = await broker.execute(request(coid="crpt-429"))
    first, second = stub.seen("POST", ORDER)
    assert second.at - first.at >= 1.0
    assert first.params["newClientOrderId"] == second.params["newClientOrderId"] == "crpt-429"
    assert list(stub.orders) == ["crpt-429"]
    assert fill.quantity == Decimal("0.01")


@pytest.mark.parametrize(("status", "kind"), [(429, bx.RateLimited), (418, bx.IpBanned)])
async def test_nothing_is_sent_before_retry_after(
    stub: BinanceStub, client: BinanceSignedRest, status: int, kind: type[bx.RateLimited]
) -> None:
    stub.fail_next("GET", "/api/v3/account", Fault("status", status, retry_after=1))
    with pytest.raises(kind):
        await client.account()
    answered = stub.arrivals[-1].at
    assert client.http.gate.not_before >= answered + 1.0
    seen = len(stub.arrivals)
    with pytest.raises(kind):
        await client.get_order("BTCUSDT", "x")  # refused locally: never sent
    with pytest.raises(kind):
        await client.server_time()
    assert len(stub.arrivals) == seen
    await client.http.gate.wait()
    assert (await client.account())["canTrade"] is True
    assert stub.arrivals[-1].at - answered >= 1.0


# --- unknown outcomes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", 502, body="<html>Bad Gateway</html>"),
        Fault("status", 503, {"code": -1007, "msg": "Timeout waiting for response"}),
        Fault("timeout"),
        Fault("drop"),
    ],
    ids=["502", "-1007", "timeout", "drop"],
)
async def test_unknown_outcomes_are_never_resent(
    stub: BinanceStub, broker: LiveBroker, fault: Fault
) -> None:
    stub.fail_next("POST", ORDER, fault)
    with pytest.raises(OutcomeUnknown):
        await broker.execute(request())
    assert len(stub.seen("POST", ORDER)) == 1


async def test_timeout_after_execution_then_lookup_finds_the_fill(
    stub: BinanceStub, broker: LiveBroker
) -> None:
    stub.venue.levels["BTCUSDT"] = [
        (Decimal("100"), Decimal("0.004")),
        (Decimal("101"), Decimal(1)),
    ]
    stub.fail_next("POST", ORDER, Fault("timeout", execute=True))
    with pytest.raises(OutcomeUnknown):
        await broker.execute(request(coid="crpt-lost"))
    fill = await broker.lookup(request(coid="crpt-lost"))
    assert fill is not None
    assert fill.price == Decimal("100.60000000")
    assert (fill.quantity, fill.fee, fill.fee_asset) == (Decimal("0.01"), Decimal("0.00001"), "BTC")
    assert fill.exchange_order_id == str(stub.orders["crpt-lost"]["orderId"])
    assert len(stub.seen("POST", ORDER)) == 1


async def test_dropped_reply_after_execution_then_lookup(
    stub: BinanceStub, broker: LiveBroker
) -> None:
    stub.fail_next("POST", ORDER, Fault("drop", execute=True))
    with pytest.raises(OutcomeUnknown):
        await broker.execute(request(quantity="0.05", side=Side.SELL))
    fill = await broker.lookup(request(quantity="0.05", side=Side.SELL))
    assert fill is not None
    assert (fill.fee, fill.fee_asset) == (Decimal("0.005"), "USDT")


async def test_unknown_order_is_none_only_after_recv_window(
    stub: BinanceStub, broker: LiveBroker, clock: FakeClock
) -> None:
    stub.fail_next("POST", ORDER, Fault("timeout"))  # lost on the way: never executed
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
    stub: BinanceStub, broker: LiveBroker, clock: FakeClock
) -> None:
    clock.now += 3600  # long after the broker was born: only "in flight" can say "wait"
    stub.fail_next("POST", ORDER, Fault("timeout"))
    sending = asyncio.create_task(broker.execute(request(coid="crpt-busy")))
    await asyncio.wait_for(stub.wait_seen("POST", ORDER), 5)
    with pytest.raises(OutcomeUnknown, match="being sent"):
        await broker.lookup(request(coid="crpt-busy"))
    with pytest.raises(OutcomeUnknown):
        await sending


async def test_lookup_network_trouble_is_unknown(stub: BinanceStub, broker: LiveBroker) -> None:
    for _ in range(3):
        stub.fail_next("GET", ORDER, Fault("status", 503))
    with pytest.raises(OutcomeUnknown):
        await broker.lookup(request())
    assert len(stub.seen("GET", ORDER)) == 3  # reads are retried, up to the policy


async def test_lookup_of_an_expired_order_is_a_rejection(
    stub: BinanceStub, broker: LiveBroker
) -> None:
    await broker.execute(request(coid="crpt-x"))
    stub.orders["crpt-x"].update(status="EXPIRED", executedQty="0.00000000")
    with pytest.raises(OrderRejected, match="EXPIRED"):
        await broker.lookup(request(coid="crpt-x"))


async def test_paper_broker_is_atomic() -> None:
    paper = PaperBroker(Decimal("0.001"), Decimal(0))
    assert paper.atomic is True
    assert LiveBroker.atomic is False
    assert await paper.lookup(request()) is None


# --- the signed client ---------------------------------------------------------------------


async def test_reads_are_retried_but_orders_never(
    stub: BinanceStub, client: BinanceSignedRest
) -> None:
    stub.fail_next("GET", "/api/v3/account", Fault("status", 500))
    stub.fail_next("GET", "/api/v3/account", Fault("timeout"))
    assert (await client.account())["canTrade"] is True
    assert len(stub.seen("GET", "/api/v3/account")) == 3
    stub.fail_next("POST", ORDER, Fault("status", 500))
    with pytest.raises(bx.OutcomeUnknownAtExchange):
        await client.new_order("BTCUSDT", "BUY", "MARKET", Decimal("0.01"), "crpt-9")
    assert len(stub.seen("POST", ORDER)) == 1


async def test_clock_offset_is_learnt_and_relearnt(stub: BinanceStub) -> None:
    stub.skew_ms = 30_000  # the exchange's clock is 30 s ahead of ours
    rest = make_client(stub)
    async with rest.http:
        await rest.account()
        assert rest.time_offset_ms is not None
        assert abs(rest.time_offset_ms - 30_000) < 500
        stub.skew_ms = -20_000
        await rest.account()  # -1021, offset re-learnt, retried once
        assert abs(rest.time_offset_ms + 20_000) < 500
        broker = LiveBroker(rest)
        stub.skew_ms = 10_000
        await broker.execute(request(coid="crpt-skew"))  # a -1021 order was refused: resent
    assert len(stub.seen("GET", "/api/v3/time")) == 3
    refused, accepted = stub.seen("POST", ORDER)
    assert refused.params["newClientOrderId"] == accepted.params["newClientOrderId"]
    assert list(stub.orders) == ["crpt-skew"]


async def test_used_weight_and_test_orders(stub: BinanceStub, client: BinanceSignedRest) -> None:
    assert client.http.used_weight is None
    reply = await client.new_order("BTCUSDT", "BUY", "MARKET", Decimal("0.01"), "crpt-t", test=True)
    assert reply == {}
    assert client.http.used_weight == stub.used_weight
    assert stub.orders == {}
    await client.my_trades("BTCUSDT", 1)
    assert client.http.used_weight == stub.used_weight > 20


async def test_non_ascii_parameters_are_signed_as_sent(
    stub: BinanceStub, client: BinanceSignedRest
) -> None:
    with pytest.raises(bx.UnknownOrder, match="Order does not exist"):
        await client.get_order("BTCUSDT", "pedido-ção 1/2&3")
    assert stub.seen("GET", ORDER)[0].params["origClientOrderId"] == "pedido-ção 1/2&3"


# --- against the fake exchange ----------------------------------------------------


@pytest.fixture
async def fake_broker(clock: FakeClock) -> AsyncIterator[tuple[Any, LiveBroker]]:
    """The fake exchange, priced at 50000 USDT/BTC, and a broker with a funded account."""
    async with FakeExchange() as fake:
        fake.add_account(API_KEY, API_SECRET, {"USDT": "100000", "BTC": "10"})
        fake.emit_prices("BTCUSDT", ["50000"])
        http = BinanceHttp(fake.rest_url)
        rest = BinanceSignedRest(http, SecretStr(API_KEY), SecretStr(API_SECRET))
        async with http:
            yield fake, LiveBroker(rest, clock=clock)


async def test_fake_exchange_order_and_lookup(fake_broker: tuple[Any, LiveBroker]) -> None:
    fake, broker = fake_broker
    fill = await broker.execute(request(price="50000", coid="crpt-fake"))
    assert (fill.quantity, fill.price, fill.mode) == (Decimal("0.01"), Decimal(50000), Mode.LIVE)
    assert fill.exchange_order_id is not None
    looked = await broker.lookup(request(price="50000", coid="crpt-fake"))
    assert looked == fill
    assert len(fake.order_requests()) == 1


async def test_fake_exchange_429_then_drop(fake_broker: tuple[Any, LiveBroker]) -> None:
    fake, broker = fake_broker
    fake.rate_limit_orders(1, retry_after=1)
    await broker.execute(request(price="50000", coid="crpt-f429"))
    first, second = fake.order_requests()
    assert second.params["newClientOrderId"] == first.params["newClientOrderId"]
    fake.drop_order_replies(1)
    with pytest.raises(OutcomeUnknown):
        await broker.execute(request(price="50000", coid="crpt-fdrop"))
    looked = await broker.lookup(request(price="50000", coid="crpt-fdrop"))
    assert looked is not None
    assert looked.quantity == Decimal("0.01")
    assert len(fake.order_requests()) == 3


async def test_fake_exchange_bad_signature(
    fake_broker: tuple[Any, LiveBroker], clock: FakeClock
) -> None:
    fake, _ = fake_broker
    http = BinanceHttp(fake.rest_url)
    wrong = BinanceSignedRest(http, SecretStr(API_KEY), SecretStr("wrong-secret"))
    async with http:
        with pytest.raises(OrderRejected, match=r"(?i)signature"):
            await LiveBroker(wrong, clock=clock).execute(request(price="50000"))
    assert fake.orders(API_KEY) == []
