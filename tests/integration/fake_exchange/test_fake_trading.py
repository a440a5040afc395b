"""The fake exchange trades: signed MARKET orders, balances, queries and scripted failures."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Iterable
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from criptoren.fake_exchange import FakeExchange, FakeExchangeConfig
from criptoren.fake_exchange.signing import signed_payload, verify

KEY, SECRET = "fake-key-7d1e", "fake-secret-c0ffee42"
ORDER = "/api/v3/order"
PRICE = "60000.00"


# signing, written here the way a client does it


def encode(params: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in params)


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def stamped(params: dict[str, str], offset_ms: int = 0) -> list[tuple[str, str]]:
    return [*params.items(), ("timestamp", str(int(time.time() * 1000) + offset_ms))]


async def call(
    http: httpx.AsyncClient, method: str, path: str, params: dict[str, str], **kw: Any
) -> httpx.Response:
    """A signed request; ``kw``: key, secret, offset_ms (clock skew), then httpx options."""
    key, secret = kw.pop("key", KEY), kw.pop("secret", SECRET)
    query = encode(stamped(params, kw.pop("offset_ms", 0)))
    url = f"{path}?{query}&signature={sign(secret, query)}"
    return await http.request(method, url, headers={"X-MBX-APIKEY": key}, **kw)


def market(side: str = "BUY", qty: str = "0.01", **extra: str) -> dict[str, str]:
    return {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": qty} | extra


def error(response: httpx.Response) -> tuple[int, int, str]:
    body = response.json()
    return response.status_code, body["code"], body["msg"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeExchange]:
    exchange = FakeExchange(FakeExchangeConfig(api_keys={"other-key": "other-secret"}))
    exchange.add_account(KEY, SECRET, {"USDT": Decimal("10000"), "BTC": Decimal("1")})
    await exchange.start()
    exchange.emit_prices("BTCUSDT", ["59000.00", PRICE])
    try:
        yield exchange
    finally:
        await exchange.stop()


@pytest.fixture
async def http(fake: FakeExchange) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fake.rest_url, timeout=5.0) as client:
        yield client


def test_official_signature_vectors_verify() -> None:
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    payload = (
        "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
        "&recvWindow=5000&timestamp=1499827319559"
    )
    signature = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    assert verify(secret, payload, signature)
    assert not verify(secret, payload.replace("1499827319559", "1499827319560"), signature)
    expected = (payload.encode(), signature)
    assert signed_payload(f"{payload}&signature={signature}".encode(), b"") == expected
    non_ascii = payload.replace(
        "symbol=LTCBTC", "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96"
    )
    assert encode([("symbol", "１２３４５６")]) == non_ascii.split("&")[0]
    assert verify(
        secret, non_ascii, "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
    )
    # query string and body: the payload is the one immediately followed by the other
    query, body = payload[:47], payload[47:]
    mixed = sign(secret, query + body)
    expected = ((query + body).encode(), mixed)
    assert signed_payload(query.encode(), f"{body}&signature={mixed}".encode()) == expected


async def test_market_buy_full_reply_balances_queries(
    fake: FakeExchange, http: httpx.AsyncClient
) -> None:
    reply = await call(http, "POST", ORDER, market(newClientOrderId="crpt-1"))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    fill = {
        "price": "60000.00000000",
        "qty": "0.01000000",
        "commission": "0.60000000",
        "commissionAsset": "USDT",
        "tradeId": body["fills"][0]["tradeId"],
    }
    assert body == {
        "symbol": "BTCUSDT",
        "orderId": body["orderId"],
        "orderListId": -1,
        "clientOrderId": "crpt-1",
        "transactTime": body["transactTime"],
        "price": "0.00000000",
        "origQty": "0.01000000",
        "executedQty": "0.01000000",
        "cummulativeQuoteQty": "600.00000000",
        "status": "FILLED",
        "timeInForce": "GTC",
        "type": "MARKET",
        "side": "BUY",
        "fills": [fill],
    }
    assert isinstance(body["orderId"], int)
    assert abs(body["transactTime"] - time.time() * 1000) < 5000
    used = int(reply.headers["X-MBX-USED-WEIGHT-1M"])
    info = await http.get("/api/v3/exchangeInfo")
    assert int(info.headers["X-MBX-USED-WEIGHT-1M"]) in (used + 20, 20)  # 20 if a new minute
    assert fake.balances(KEY) == {"USDT": Decimal("9399.4"), "BTC": Decimal("1.01")}

    account = (await call(http, "GET", "/api/v3/account", {})).json()
    free = {b["asset"]: b["free"] for b in account["balances"]}
    assert free == {"BTC": "1.01000000", "USDT": "9399.40000000"}
    order_id = str(body["orderId"])
    for key in ({"origClientOrderId": "crpt-1"}, {"orderId": order_id}):
        got = (await call(http, "GET", ORDER, {"symbol": "BTCUSDT", **key})).json()
        picked = [got[k] for k in ("status", "orderId", "clientOrderId", "executedQty")]
        assert picked == ["FILLED", body["orderId"], "crpt-1", "0.01000000"]
        assert got["cummulativeQuoteQty"] == "600.00000000"
    mine = {"symbol": "BTCUSDT", "orderId": order_id}
    [trade] = (await call(http, "GET", "/api/v3/myTrades", mine)).json()
    names = ("price", "qty", "commission", "commissionAsset", "orderId", "id")
    assert [trade[k] for k in names] == [*list(fill.values())[:4], body["orderId"], fill["tradeId"]]
    assert [r.outcome for r in fake.order_requests()] == ["FILLED"]


async def test_sell_with_params_in_the_form_body(
    fake: FakeExchange, http: httpx.AsyncClient
) -> None:
    query = "symbol=BTCUSDT&side=SELL&type=MARKET"
    body = encode(stamped({"quantity": "0.5", "newClientOrderId": "sell-1"}))
    signature = sign(SECRET, query + body)
    reply = await http.post(
        f"{ORDER}?{query}",
        content=f"{body}&signature={signature}",
        headers={"X-MBX-APIKEY": KEY, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["cummulativeQuoteQty"] == "30000.00000000"
    assert reply.json()["fills"][0]["commission"] == "30.00000000"
    assert fake.balances(KEY) == {"USDT": Decimal("39970"), "BTC": Decimal("0.5")}


async def test_quote_order_qty_and_ack_reply(fake: FakeExchange, http: httpx.AsyncClient) -> None:
    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quoteOrderQty": "100"}
    reply = await call(http, "POST", ORDER, params | {"newOrderRespType": "ACK"})
    assert set(reply.json()) == {
        "symbol",
        "orderId",
        "orderListId",
        "clientOrderId",
        "transactTime",
    }
    [order] = fake.orders(KEY)
    assert (order["executedQty"], order["cummulativeQuoteQty"]) == ("0.00166000", "99.60000000")


async def test_commission_in_the_base_asset(fake: FakeExchange, http: httpx.AsyncClient) -> None:
    fake.set_commission_asset("base")
    reply = await call(http, "POST", ORDER, market())
    assert reply.json()["fills"][0] | {"tradeId": 0} == {
        "price": "60000.00000000",
        "qty": "0.01000000",
        "commission": "0.00001000",
        "commissionAsset": "BTC",
        "tradeId": 0,
    }
    assert fake.balances(KEY) == {"USDT": Decimal("9400"), "BTC": Decimal("1.00999")}
    sell = await call(http, "POST", ORDER, market("SELL"))
    assert sell.json()["fills"][0]["commissionAsset"] == "USDT"  # base only for BUYs


async def test_test_order_validates_and_executes_nothing(
    fake: FakeExchange, http: httpx.AsyncClient
) -> None:
    ok = await call(http, "POST", f"{ORDER}/test", market(newClientOrderId="t-1"))
    assert (ok.status_code, ok.json()) == (200, {})
    bad = await call(http, "POST", f"{ORDER}/test", market(qty="0.000001"))
    assert error(bad) == (400, -1013, "Filter failure: LOT_SIZE")
    assert fake.orders(KEY) == []
    assert fake.balances(KEY) == {"USDT": Decimal("10000"), "BTC": Decimal("1")}
    assert fake.order_requests() == []  # only POST /api/v3/order counts as an order
    assert len(fake.order_requests(every_endpoint=True)) == 2


async def test_bad_signature(fake: FakeExchange, http: httpx.AsyncClient) -> None:
    reply = await call(http, "POST", ORDER, market(), secret="not-the-secret")
    assert error(reply) == (400, -1022, "Signature for this request is not valid.")
    assert fake.orders(KEY) == []
    unsigned = await http.post(
        f"{ORDER}?{encode(stamped(market()))}", headers={"X-MBX-APIKEY": KEY}
    )
    assert error(unsigned)[:2] == (400, -1102)


async def test_timestamp_outside_the_recv_window(
    fake: FakeExchange, http: httpx.AsyncClient
) -> None:
    outside = (400, -1021, "Timestamp for this request is outside of the recvWindow.")
    assert error(await call(http, "POST", ORDER, market(), offset_ms=2000)) == outside
    assert error(await call(http, "POST", ORDER, market(), offset_ms=-6000)) == outside
    late_ok = await call(http, "POST", ORDER, market(recvWindow="10000"), offset_ms=-6000)
    assert late_ok.status_code == 200
    too_wide = await call(http, "POST", ORDER, market(recvWindow="60001"))
    assert error(too_wide)[:2] == (400, -1131)
    assert len(fake.orders(KEY)) == 1


async def test_unknown_or_missing_api_key(fake: FakeExchange, http: httpx.AsyncClient) -> None:
    reply = await call(http, "POST", ORDER, market(), key="nobody")
    assert error(reply) == (401, -2015, "Invalid API-key, IP, or permissions for action.")
    missing = await http.post(f"{ORDER}?{encode(stamped(market()))}")
    assert error(missing)[:2] == (401, -2014)
    configured = await call(
        http, "GET", "/api/v3/account", {}, key="other-key", secret="other-secret"
    )
    assert (configured.status_code, configured.json()["balances"]) == (200, [])


@pytest.mark.parametrize(
    ("qty", "failure"),
    [
        ("0.000001", "Filter failure: LOT_SIZE"),  # below minQty
        ("0.000015", "Filter failure: LOT_SIZE"),  # off the step
        ("98", "Filter failure: MARKET_LOT_SIZE"),  # above the market maxQty
        ("0.00005", "Filter failure: NOTIONAL"),  # 3 USDT < minNotional 5
    ],
)
async def test_filter_failures(
    fake: FakeExchange, http: httpx.AsyncClient, qty: str, failure: str
) -> None:
    assert error(await call(http, "POST", ORDER, market(qty=qty))) == (400, -1013, failure)
    assert fake.orders(KEY) == []


async def test_insufficient_balance(fake: FakeExchange, http: httpx.AsyncClient) -> None:
    msg = "Account has insufficient balance for requested action."
    assert error(await call(http, "POST", ORDER, market(qty="0.2"))) == (400, -2010, msg)
    assert error(await call(http, "POST", ORDER, market("SELL", "1.5"))) == (400, -2010, msg)
    assert fake.balances(KEY) == {"USDT": Decimal("10000"), "BTC": Decimal("1")}


async def test_duplicate_client_order_id(fake: FakeExchange, http: httpx.AsyncClient) -> None:
    first = await call(http, "POST", ORDER, market(newClientOrderId="same-1"))
    assert first.status_code == 200
    again = await call(http, "POST", ORDER, market("SELL", newClientOrderId="same-1"))
    assert error(again) == (400, -2010, "Duplicate order sent.")
    assert len(fake.orders(KEY)) == 1


async def test_unknown_order_and_non_ascii_ids(http: httpx.AsyncClient) -> None:
    for client_id in ("never-sent", "pedido-ção 1/2&3"):
        reply = await call(
            http, "GET", ORDER, {"symbol": "BTCUSDT", "origClientOrderId": client_id}
        )
        assert error(reply) == (400, -2013, "Order does not exist.")


@pytest.mark.parametrize(("status", "retry_after"), [(429, 1), (418, 120)])
async def test_rate_limit_and_ban_answer_retry_after(
    fake: FakeExchange, http: httpx.AsyncClient, status: int, retry_after: int
) -> None:
    if status == 429:
        fake.rate_limit_orders(count=2, retry_after=retry_after)
    else:
        fake.ban_orders(retry_after=retry_after)
    reply = await call(http, "POST", ORDER, market())
    assert reply.status_code == status
    assert reply.headers["Retry-After"] == str(retry_after)
    assert reply.json()["code"] == -1003
    assert "too many requests" in reply.json()["msg"].lower()
    if status == 429:
        assert (await call(http, "POST", ORDER, market())).status_code == 429
        await asyncio.sleep(float(reply.headers["Retry-After"]))
    assert (await call(http, "POST", ORDER, market())).status_code == 200
    outcomes = [(r.outcome, r.status) for r in fake.order_requests()]
    faulted = [(f"fault {status}", status)] * (2 if status == 429 else 1)
    assert outcomes == [*faulted, ("FILLED", 200)]
    assert len(fake.orders(KEY)) == 1
    last, filled = fake.order_requests()[-2:]  # the record tells when each request came
    assert (filled.params["quantity"], filled.api_key) == ("0.01", KEY)
    if status == 429:
        assert filled.monotonic - last.monotonic >= retry_after


@pytest.mark.parametrize("status", [502, 503])
async def test_5xx_executes_nothing(
    fake: FakeExchange, http: httpx.AsyncClient, status: int
) -> None:
    fake.error_orders(status=status)
    reply = await call(http, "POST", ORDER, market(newClientOrderId="x-1"))
    assert reply.status_code == status
    assert fake.orders(KEY) == []
    retry = await call(http, "POST", ORDER, market(newClientOrderId="x-1"))
    assert retry.status_code == 200  # the id was never used: nothing reached the engine


async def test_timeout_holds_the_request_and_executes_nothing(
    fake: FakeExchange, http: httpx.AsyncClient
) -> None:
    fake.timeout_orders()
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        await call(http, "POST", ORDER, market(), timeout=0.5)
    assert time.monotonic() - started < 3
    [held] = fake.order_requests()
    assert held.outcome == "timeout"
    assert fake.orders(KEY) == []
    fake.timeout_orders(hold=0.3)  # a short hold ends with the connection cut
    with pytest.raises(httpx.TransportError):
        await call(http, "POST", ORDER, market())
    assert fake.orders(KEY) == []


async def test_stop_releases_held_requests() -> None:
    fake = FakeExchange()
    await fake.start()
    fake.add_account(KEY, SECRET)
    fake.timeout_orders(hold=30)
    async with httpx.AsyncClient(base_url=fake.rest_url, timeout=60) as http:
        pending = asyncio.create_task(call(http, "POST", ORDER, market()))
        await fake.wait_order_requests(1)
        started = time.monotonic()
        await fake.stop()
        assert time.monotonic() - started < 5
        with pytest.raises(httpx.TransportError):
            await pending


async def test_drop_executes_then_loses_the_reply(
    fake: FakeExchange, http: httpx.AsyncClient
) -> None:
    fake.drop_order_replies()
    with pytest.raises(httpx.TransportError):
        await call(http, "POST", ORDER, market(newClientOrderId="lost-1"))
    found = await call(http, "GET", ORDER, {"symbol": "BTCUSDT", "origClientOrderId": "lost-1"})
    assert (found.status_code, found.json()["status"]) == (200, "FILLED")
    assert found.json()["executedQty"] == "0.01000000"
    assert fake.balances(KEY)["BTC"] == Decimal("1.01")
    [request] = fake.order_requests()
    assert request.outcome == "FILLED (reply dropped)"
    again = await call(http, "POST", ORDER, market(newClientOrderId="lost-1"))
    assert error(again) == (400, -2010, "Duplicate order sent.")


async def test_controls_over_http(fake: FakeExchange, http: httpx.AsyncClient) -> None:
    async def control(action: str, **body: Any) -> Any:
        reply = await http.post(f"/_control/{action}", json=body)
        assert reply.status_code == 200, reply.text
        return reply.json()

    await control("add_account", api_key="k2", secret="s2", balances={"USDT": "2000"})
    await control("set_commission_asset", asset="base")
    await control("rate_limit_orders", retry_after=3)
    limited = await call(http, "POST", ORDER, market(), key="k2", secret="s2")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
    await control("error_orders", status=502)
    assert (await call(http, "POST", ORDER, market(), key="k2", secret="s2")).status_code == 502
    filled = await call(http, "POST", ORDER, market(), key="k2", secret="s2")
    assert filled.json()["fills"][0]["commissionAsset"] == "BTC"
    assert await control("balances", api_key="k2") == {"USDT": "1400.00000000", "BTC": "0.00999000"}
    records = await control("order_requests")
    assert [r["outcome"] for r in records] == ["fault 429", "fault 502", "FILLED"]
    assert records[2]["params"]["symbol"] == "BTCUSDT"
    await control("fail_orders", kind="drop", count=1)
    with pytest.raises(httpx.TransportError):
        await call(http, "POST", ORDER, market(), key="k2", secret="s2")
    assert len(await control("orders", api_key="k2")) == 2
