"""Binance HMAC-SHA256 signing: the official test vectors, encoding, and error mapping."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from criptoren.binance import errors as bx
from criptoren.binance.rate_gate import RateGate
from criptoren.binance.signed import BinanceSignedRest, RetryPolicy
from criptoren.binance.signing import encode_query, signature, signed_query
from criptoren.binance.transport import BinanceHttp
from criptoren.engine import broker
from criptoren.errors import CriptorenError, OrderRejected, OutcomeUnknown

SECRET = SecretStr("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
KEY = SecretStr("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A")
ASCII_PAYLOAD = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
ASCII_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
NON_ASCII_PAYLOAD = (
    "symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT"
    "&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)
NON_ASCII_SIGNATURE = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
VECTOR_TAIL = [
    ("side", "BUY"),
    ("type", "LIMIT"),
    ("timeInForce", "GTC"),
    ("quantity", "1"),
    ("price", "0.1"),
    ("recvWindow", "5000"),
    ("timestamp", "1499827319559"),
]


def test_official_ascii_vector() -> None:
    assert signature(SECRET, ASCII_PAYLOAD) == ASCII_SIGNATURE


def test_official_non_ascii_vector() -> None:
    assert signature(SECRET, NON_ASCII_PAYLOAD) == NON_ASCII_SIGNATURE


def test_encoding_rebuilds_the_ascii_vector_in_order() -> None:
    query = encode_query([("symbol", "LTCBTC"), *VECTOR_TAIL])
    assert query == ASCII_PAYLOAD
    assert signed_query(SECRET, [("symbol", "LTCBTC"), *VECTOR_TAIL]) == (
        f"{ASCII_PAYLOAD}&signature={ASCII_SIGNATURE}"
    )


def test_encoding_percent_encodes_utf8_like_the_vector() -> None:
    query = encode_query([("symbol", "１２３４５６"), *VECTOR_TAIL])
    assert query == NON_ASCII_PAYLOAD
    assert signature(SECRET, query) == NON_ASCII_SIGNATURE


def test_body_follows_the_query_without_separator() -> None:
    query, body = ASCII_PAYLOAD[:40], ASCII_PAYLOAD[40:]
    assert signature(SECRET, query, body) == ASCII_SIGNATURE
    assert signature(SECRET, query, "&" + body) != ASCII_SIGNATURE


def test_reserved_characters_are_encoded() -> None:
    assert encode_query([("id", "a b&c=d/é"), ("x", "-_.~")]) == "id=a%20b%26c%3Dd%2F%C3%A9&x=-_.~"


@given(st.lists(st.tuples(st.text(min_size=1), st.text()), max_size=8))
def test_query_order_is_preserved(params: list[tuple[str, str]]) -> None:
    query = encode_query(params)
    parts = query.split("&") if params else []
    assert len(parts) == len(params)
    assert [tuple(unquote(x) for x in p.split("=", 1)) for p in parts] == params


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (429, {"code": -1003, "msg": "Too many"}, bx.RateLimited),
        (418, {"code": -1003, "msg": "banned"}, bx.IpBanned),
        (500, None, bx.OutcomeUnknownAtExchange),
        (503, {"code": -1001, "msg": "x"}, bx.OutcomeUnknownAtExchange),
        (408, {"code": -1007, "msg": "Timeout waiting"}, bx.OutcomeUnknownAtExchange),
        (
            400,
            {"code": -2010, "msg": "Account has insufficient balance"},
            bx.OrderRejectedByExchange,
        ),
        (400, {"code": -1013, "msg": "Filter failure: LOT_SIZE"}, bx.OrderRejectedByExchange),
        (400, {"code": -2011, "msg": "Unknown order sent."}, bx.OrderRejectedByExchange),
        (400, {"code": -1021, "msg": "Timestamp"}, bx.InvalidTimestamp),
        (400, {"code": -1022, "msg": "Signature"}, bx.InvalidSignature),
        (400, {"code": -2013, "msg": "Order does not exist."}, bx.UnknownOrder),
        (400, {"code": -1121, "msg": "Invalid symbol."}, bx.BinanceError),
    ],
)
def test_error_mapping(status: int, body: object, kind: type[bx.BinanceError]) -> None:
    error = bx.error_from_reply(status, body, "7")
    assert type(error) is kind
    assert isinstance(error, CriptorenError)
    if isinstance(error, bx.RateLimited):
        assert error.retry_after == 7.0


def test_broker_outcomes_are_one_class_each() -> None:
    # what the executor catches from any broker is what the Binance transport raises
    assert issubclass(bx.OutcomeUnknownAtExchange, OutcomeUnknown)
    assert issubclass(bx.OrderRejectedByExchange, OrderRejected)
    assert broker.OutcomeUnknown is OutcomeUnknown
    assert broker.OrderRejected is OrderRejected


def test_only_temporary_errors_are_retryable() -> None:
    assert issubclass(bx.OutcomeUnknownAtExchange, bx.TemporaryError)
    assert issubclass(bx.ExchangeUnreachable, bx.TemporaryError)
    for final in (bx.RateLimited, bx.OrderRejectedByExchange, bx.InvalidSignature, bx.UnknownOrder):
        assert not issubclass(final, bx.TemporaryError)


def test_retry_after_defaults_when_missing_or_bad() -> None:
    assert bx.parse_retry_after(None, 418) == 120.0
    assert bx.parse_retry_after("soon", 429) == 10.0
    assert bx.parse_retry_after("0.5", 429) == 0.5


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(attempts=10, base_delay=0.1, max_delay=0.5)
    assert [policy.delay(i) for i in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]


def test_gate_never_shortens_a_wait() -> None:
    now = [100.0]
    gate = RateGate(clock=lambda: now[0])
    gate.close_for(120, banned=True)
    gate.close_for(1)
    assert gate.remaining() == 120
    with pytest.raises(bx.IpBanned):
        gate.check()
    now[0] = 220.0
    gate.check()


async def test_secrets_stay_out_of_repr() -> None:
    async with BinanceHttp("http://127.0.0.1:1") as http:
        client = BinanceSignedRest(http, KEY, SECRET)
        for text in (repr(client), str(client)):
            assert KEY.get_secret_value() not in text
            assert SECRET.get_secret_value() not in text


async def test_recv_window_is_bounded() -> None:
    async with BinanceHttp("http://127.0.0.1:1") as http:
        with pytest.raises(ValueError, match="recvWindow"):
            BinanceSignedRest(http, KEY, SECRET, recv_window_ms=60_001)
