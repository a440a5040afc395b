"""Live mode: the service is SIGKILLed while an order's outcome at the exchange is unknown.

The fake exchange executes the order and holds its reply; the service is killed while it
waits. After a restart the reconciler asks the exchange (``origClientOrderId``) before
anything new executes: exactly one exchange order, exactly one trade, never a resend.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.support.databases import sqlite_copy
from tests.support.live import create_client, fake_exchange_in_thread, service_env, service_process
from tests.support.processes import DbProbe, ExchangeDriver, poll_until

pytestmark = pytest.mark.slow  # real processes; started first under xdist
API_KEY = "live-crash-key-0123456789abcdef"
API_SECRET = "live-crash-secret-0123456789abcdef"
START = Decimal("60000.00")


def test_sigkill_while_the_outcome_is_unknown_then_reconcile(
    tmp_path: Path, sqlite_template: Path
) -> None:
    database_url = sqlite_copy(sqlite_template, tmp_path / "live.db")
    with fake_exchange_in_thread() as (loop, fake):
        exchange = ExchangeDriver(loop, fake)
        exchange._call(lambda: fake.add_account(API_KEY, API_SECRET, {"USDT": "100000"}))
        exchange.emit("BTCUSDT", [START])
        env = service_env(
            tmp_path,
            fake,
            CRIPTOREN_MODE="live",
            BINANCE_API_KEY=API_KEY,
            BINANCE_API_SECRET=API_SECRET,
            CRIPTOREN_HTTP_TIMEOUT_SECONDS="5",
        )
        env["CRIPTOREN_DATABASE_URL"] = database_url
        probe = DbProbe(database_url)
        with service_process(env, "live-1") as first:
            _, token = create_client(first, env, "live")
            auth = {"Authorization": f"Bearer {token}"}
            order = httpx.post(
                f"{first.base_url}/api/v1/orders",
                json={
                    "symbol": "BTCUSDT",
                    "side": "buy",
                    "target_price": "59900",
                    "quantity": "0.01",
                },
                headers=auth,
                timeout=10,
            ).json()
            exchange.wait_subscribed("btcusdt@aggTrade")
            # the next order executes at the exchange, whose reply then never comes
            exchange._call(lambda: fake.drop_order_replies(1, hold=25))
            exchange.emit("BTCUSDT", [Decimal("59850.00")])
            poll_until(
                lambda: exchange._call(lambda: fake.orders(API_KEY)),
                within=15,
                what="the order executed at the exchange",
            )
            first.kill()
        assert probe.count_status("triggered") == 1, "the kill must find the outcome unknown"
        assert probe.engine_trades_count() == 0

        with service_process(env, "live-2") as second:
            poll_until(
                lambda: probe.count_status("executed") == 1,
                within=20,
                what="the reconciler to record the fill",
                describe=second.log,
            )
        [at_exchange] = exchange._call(lambda: fake.orders(API_KEY))
        posts = [r for r in exchange._call(fake.order_requests) if r.method == "POST"]
        assert len(posts) == 1, "the order was resent"
        assert at_exchange["clientOrderId"] == order["client_order_id"]
        [trade] = probe.engine_trades()
        assert trade.order_id == order["id"]
        assert (trade.price, trade.quantity) == (Decimal("59850.00"), Decimal("0.01"))
        assert trade.fee == Decimal("0.598500")  # the exchange's 0.1 % commission, from myTrades
        assert probe.count_status("triggered") == 0
        probe.close()
