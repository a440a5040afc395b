"""Pure notification rules: the signature, the retry schedule, masking and address checks."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from criptoren.domain.notifications import (
    NotificationError,
    check_email,
    check_webhook_url,
    clip_error,
    event_body,
    mask_apprise,
    normalise_order_events,
    refused_address,
    retry_delay,
    signature,
)


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"e1"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", 1700000000, body) == f"t=1700000000,v1={expected}"


def test_default_schedule_spans_at_least_an_hour_over_six_or_more_attempts() -> None:
    rng = random.Random(7)
    for _ in range(200):
        # 8 attempts: 7 waits between them, each at least base × 2^(n-1)
        waits = [retry_delay(n, 30.0, rng) for n in range(1, 8)]
        assert sum(waits) >= 3600
        assert all(b > a for a, b in itertools.pairwise(waits))


def test_event_body_keeps_money_exact() -> None:
    at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    body = json.loads(event_body("e1", "order.executed", at, {"price": Decimal("0.10000000")}))
    assert body == {
        "id": "e1",
        "type": "order.executed",
        "created_at": "2026-11-30T12:00:00+00:00",
        "data": {"price": "0.10000000"},
    }


def test_errors_are_clipped_to_one_kib_of_utf8() -> None:
    assert len(clip_error("é" * 5000).encode()) <= 1024


def test_apprise_urls_are_masked() -> None:
    assert mask_apprise("tgram://123:ABC/456") == "tgram://***"
    assert mask_apprise("json://user:pw@host.example:8080/p?t=1") == "json://host.example:8080/***"
    assert mask_apprise("discord://webhook_id/webhook_token") == "discord://***"
    assert mask_apprise("json://[::1/x") == "json://***"  # apprise is more lenient


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "0.0.0.0",
        "100.64.0.1",
        "::ffff:127.0.0.1",
        "fc00::1",
    ],
)
def test_private_addresses_are_refused(address: str) -> None:
    assert refused_address(address) is not None


def test_public_addresses_pass() -> None:
    assert refused_address("93.184.216.34") is None
    assert refused_address("2606:2800:220:1:248:1893:25c8:1946") is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x.example/",
        "http://",
        "//x.example/",
        "http://u:p@x.example/",
        "http://x/ y",
        "http://[::1/x",
        "http://x.example:99999/",
    ],
)
def test_bad_webhook_urls(url: str) -> None:
    with pytest.raises(NotificationError):
        check_webhook_url(url)


@pytest.mark.parametrize("address", ["a", "a@b", "a@@b.co", "a b@c.co", "a@b..co", "a@.b.co"])
def test_bad_email_addresses(address: str) -> None:
    with pytest.raises(NotificationError):
        check_email(address)


def test_order_events_are_canonical() -> None:
    assert normalise_order_events(["failed", "placed", "failed"]) == ("placed", "failed")
    with pytest.raises(NotificationError):
        normalise_order_events(["exploded"])
