"""Crash and concurrency safety: SIGKILL mid-burst and two engines on one database.

Real ``criptoren serve`` processes against the fake exchange (in a thread of the test
process). The ledger they leave must equal the oracle (``tests/support/oracle.py``)
computed over every trade the exchange emitted: none missed, none twice, none stuck
``triggered``, each at its crossing trade's price and fee.

Synchronisation: the exchange's own awaitable conditions (subscriptions), the service's
log (uvicorn's "listening" line, read by a thread that sets an event) and, for state that
only exists in another process's database, bounded polls of that database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from criptoren.fake_exchange import FakeExchange
from tests.support.databases import sqlite_copy
from tests.support.live import (
    ServiceProcess,
    create_client,
    fake_exchange_in_thread,
    service_env,
    service_process,
)
from tests.support.oracle import OracleFill, expected_fills
from tests.support.processes import (
    DbProbe,
    ExchangeDriver,
    migrated_postgres,
    place_orders,
    poll_until,
)

pytestmark = pytest.mark.slow  # real processes; started first under xdist
SYMBOL = "BTCUSDT"
STREAM = "btcusdt@aggTrade"
QTY = "0.001"
FEE_RATE = Decimal("0.001")  # the paper default
START = Decimal("60000.00")
SERVICE_SETTINGS = {"CRIPTOREN_CURSOR_FLUSH_SECONDS": "0.2"}
# small batches: the burst is many transactions, so a kill on the first lands inside it
SMALL_BATCHES = {"CRIPTOREN_ENGINE_BATCH_SIZE": "2"}


@pytest.fixture(params=["sqlite", "postgres"])
def scratch_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A migrated, empty database of its own: a SQLite file, or a PostgreSQL database.

    Not the run's shared database: no test may truncate it while these processes run.
    """
    if request.param == "sqlite":
        yield sqlite_copy(sqlite_template, tmp_path / "crash.db")
        return
    with _migrated_postgres() as url:
        yield url


@pytest.fixture
def postgres_scratch_url() -> Iterator[str]:
    """A migrated PostgreSQL database of its own (two engines need a server database)."""
    with _migrated_postgres() as url:
        yield url


def _migrated_postgres() -> AbstractContextManager[str]:
    return migrated_postgres("criptoren_crash")


def _env(tmp_path: Path, fake: FakeExchange, database_url: str, **settings: str) -> dict[str, str]:
    env = service_env(tmp_path, fake, **SERVICE_SETTINGS, **settings)
    env["CRIPTOREN_DATABASE_URL"] = database_url
    return env


def _order(side: str, condition: str, target: Decimal) -> dict[str, str]:
    return {
        "symbol": SYMBOL,
        "side": side,
        "condition": condition,
        "target_price": str(target),
        "quantity": QTY,
    }


def _path(start: Decimal, stop: Decimal, step: Decimal) -> list[Decimal]:
    """Prices from ``start`` towards ``stop`` (inclusive when reached) by ``step``."""
    prices, price = [], start
    while (price >= stop) if step < 0 else (price <= stop):
        prices.append(price)
        price += step
    return prices


def _record_holdings(base_url: str, token: str, quantity: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    trade = {"symbol": SYMBOL, "side": "buy", "price": str(START), "quantity": quantity}
    response = httpx.post(f"{base_url}/api/v1/trades", json=trade, headers=auth, timeout=10)
    assert response.status_code == 201, response.text


def _assert_ledger_matches_oracle(
    probe: DbProbe, exchange: ExchangeDriver, logs: str
) -> dict[int, OracleFill]:
    """The ledger equals the oracle over every emitted trade; returns the oracle's fills."""
    orders = {o.id: o for o in probe.orders()}
    trades = probe.engine_trades()
    tape = exchange.tape(SYMBOL)
    expected = expected_fills(tape, [o.oracle() for o in orders.values()], FEE_RATE)

    per_order = Counter(t.order_id for t in trades)
    twice = {oid: n for oid, n in per_order.items() if n > 1}
    assert not twice, f"orders executed more than once: {twice}\n{logs}"
    stuck = sorted(o.id for o in orders.values() if o.status in ("triggered", "failed"))
    assert not stuck, f"orders left triggered/failed: {stuck}\n{logs}"
    executed = {oid for oid, o in orders.items() if o.status == "executed"}
    lost = sorted(set(expected) - executed)
    extra = sorted(executed - set(expected))
    assert not lost, f"{len(lost)} orders the oracle fires were not executed: {lost[:20]}\n{logs}"
    assert not extra, f"{len(extra)} orders executed that must not fire: {extra[:20]}\n{logs}"
    assert set(per_order) == executed

    by_order = {t.order_id: t for t in trades}
    wrong = []
    for oid, fill in expected.items():
        trade = by_order[oid]
        got = (trade.price, trade.quantity, trade.fee)
        if (
            got != (fill.price, fill.quantity, fill.fee)
            or orders[oid].executed_trade_id != trade.id
        ):
            wrong.append((oid, got, (fill.price, fill.quantity, fill.fee), fill.agg_id))
    assert not wrong, (
        f"{len(wrong)} fills differ from the oracle (id, got, want, agg): {wrong[:10]}"
    )
    for oid, order in orders.items():
        if oid not in expected:
            assert order.status in ("waiting", "cancelled"), (oid, order.status)
    return expected


def _kill_on_first_engine_trade(probe: DbProbe, service: ServiceProcess) -> None:
    """SIGKILL ``service`` as soon as its first engine trade is committed.

    The DB is the only place where the service's progress is visible from outside (it logs
    no line per execution), and a committed trade proves the worker is inside the burst;
    the poll is ~1 ms, shorter than the burst's next transaction.
    """
    poll_until(
        lambda: probe.engine_trades_count() >= 1,
        within=20,
        every=0.001,
        what="the first engine trade",
    )
    service.kill()


def _progress(probe: DbProbe) -> str:
    statuses = ("waiting", "triggered", "executed", "failed", "cancelled")
    counts = {s: probe.count_status(s) for s in statuses}
    return f"orders {counts}, engine trades {probe.engine_trades_count()}\n"


# --- 1. SIGKILL during a burst of firing orders ---------------------------------------


def test_sigkill_mid_burst_then_restart_matches_oracle(tmp_path: Path, scratch_url: str) -> None:
    buy_targets = [Decimal(59990) - 10 * i for i in range(240)]  # 59990 … 57600
    sell_targets = [Decimal(60100) + 10 * i for i in range(30)]  # 60100 … 60390
    orders = [_order("buy", "lte", t) for t in buy_targets]
    orders += [_order("sell", "gte", t) for t in sell_targets]
    orders += [_order("buy", "lte", Decimal(50000) + i) for i in range(10)]  # never reached
    orders += [_order("sell", "gte", Decimal(70000) + i) for i in range(10)]  # never reached
    # live burst: 59995 → 58000 by 80, each trade crossing eight buy levels at once, so
    # the kill (on the first committed fill) lands inside a trade with more orders to fill
    burst = _path(Decimal("59995"), Decimal("58000"), Decimal(-80))
    # while the service is down: on to 57500 (the remaining buys, several per trade), then
    # back up to 60500 by 100 (each trade from 60100 crosses ten sells at once)
    downtime = _path(Decimal("57975"), Decimal("57500"), Decimal(-45))
    downtime += _path(Decimal("57600"), Decimal("60500"), Decimal(100))
    burst_fires = sum(1 for t in buy_targets if t >= burst[-1])

    with fake_exchange_in_thread() as (loop, fake):
        exchange = ExchangeDriver(loop, fake)
        exchange.emit(SYMBOL, [START])
        env = _env(tmp_path, fake, scratch_url, **SMALL_BATCHES)
        probe = DbProbe(scratch_url)
        with service_process(env, "serve-1") as first:
            client_id, token = create_client(first, env, "crash-test")
            _record_holdings(first.base_url, token, "0.1")
            placed = place_orders(first.base_url, token, orders)
            assert {p["client_id"] for p in placed} == {client_id}
            auth = {"Authorization": f"Bearer {token}"}
            for order in placed[5:240:24]:  # ten firing buys cancelled: they must never fire
                cancel = httpx.post(
                    f"{first.base_url}/api/v1/orders/{order['id']}/cancel",
                    headers=auth,
                    timeout=10,
                )
                assert cancel.status_code == 200, cancel.text
            exchange.wait_subscribed(STREAM)

            exchange.emit(SYMBOL, burst)
            burst_last_id = exchange.tape(SYMBOL)[-1].agg_id
            # each batch of (at most) two orders is a committed transaction of its own
            _kill_on_first_engine_trade(probe, first)
        at_kill = probe.engine_trades_count()
        # the kill must have interrupted the burst, or this test proves nothing
        assert 0 < at_kill < burst_fires - 10, (at_kill, burst_fires)

        exchange.emit(SYMBOL, downtime)  # a gap the restarted service must fill from its cursor

        with service_process(env, "serve-2") as second:
            exchange.wait_subscribed(STREAM)
            exchange.emit(SYMBOL, [Decimal("60450.00"), Decimal("60460.00")])  # live again
            last_id = exchange.tape(SYMBOL)[-1].agg_id
            # settled: the engine persisted the last emitted trade as processed (its cursor
            # stays behind any fired order not yet executed), and nothing is mid-claim
            poll_until(
                lambda: probe.cursor(SYMBOL) == last_id and probe.count_status("triggered") == 0,
                within=30,
                what="the restarted service to process every emitted trade",
            )
            logs = first.log() + second.log()
            expected = _assert_ledger_matches_oracle(probe, exchange, logs)
            assert not second.errors(), second.log()
        probe.close()

    assert len(expected) == 240 - 10 + 30  # every reachable order, cancelled ones excepted
    # the scenario covers both: fills on the live burst, fills on trades of the downtime gap
    assert any(f.agg_id <= burst_last_id for f in expected.values())
    assert any(f.agg_id > burst_last_id for f in expected.values())


# --- 2. Two engine processes on one PostgreSQL database -------------------------------


def test_two_engines_on_one_postgres_execute_each_order_once(
    tmp_path: Path, postgres_scratch_url: str
) -> None:
    buys = [_order("buy", "lte", Decimal(59990) - 10 * i) for i in range(300)]  # … 57000
    sells = [_order("sell", "gte", Decimal(60010) + 10 * i) for i in range(200)]  # … 62000
    # falling by 20 then rising by 20: every trade crosses about two orders
    path = _path(Decimal("59995"), Decimal("56990"), Decimal(-20))
    path += _path(Decimal("57000"), Decimal("62010"), Decimal(20))

    with fake_exchange_in_thread() as (loop, fake):
        exchange = ExchangeDriver(loop, fake)
        exchange.emit(SYMBOL, [START])
        env = _env(tmp_path, fake, postgres_scratch_url)
        probe = DbProbe(postgres_scratch_url)
        # A places the orders (its index learns them as placed); B rebuilds them from the DB
        with service_process(env, "engine-a") as a:
            _, token = create_client(a, env, "crash-test")
            _record_holdings(a.base_url, token, "1")
            place_orders(a.base_url, token, buys + sells)
            assert probe.count_status("waiting") == 500
            with service_process(env, "engine-b") as b:
                exchange.wait_subscribed(STREAM, count=2)  # both see every trade live
                exchange.emit(SYMBOL, path)
                oracle_orders = [o.oracle() for o in probe.orders()]
                assert len(expected_fills(exchange.tape(SYMBOL), oracle_orders)) == 500

                poll_until(
                    lambda: _both_settled(probe, a, b),
                    within=45,
                    what="both engines to finish every order",
                    describe=lambda: (
                        _progress(probe)
                        + f"engines {[_engine_health(e) for e in (a, b)]}\n"
                        + a.log()[-3000:]
                        + b.log()[-3000:]
                    ),
                )
                logs = a.log() + b.log()
                expected = _assert_ledger_matches_oracle(probe, exchange, logs)
                assert len(expected) == 500
                assert probe.count_status("executed") == 500
                assert probe.engine_trades_count() == 500
                assert not a.errors(), logs
                assert not b.errors(), logs
        probe.close()


def _both_settled(probe: DbProbe, a: ServiceProcess, b: ServiceProcess) -> bool:
    """Each engine fired its whole index and executed (or lost the race for) every fired
    order; the database has nothing waiting or mid-claim."""
    idle = {"waiting_orders": 0, "pending_executions": 0}
    engines_idle = all(_engine_health(e) == idle for e in (a, b))
    return engines_idle and probe.count_status("waiting", "triggered") == 0


def _engine_health(service: ServiceProcess) -> dict[str, int]:
    response = httpx.get(f"{service.base_url}/healthz", timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json()["engine"])


# --- 3. Bursts: thousands of orders fired at once, executed in batches ----------------

BURST_LEVELS = [Decimal(59900) - 100 * i for i in range(10)]  # 59900 … 59000


BURST_ORDERS = [_order("buy", "lte", level) for level in BURST_LEVELS for _ in range(200)]


@contextmanager
def _burst_placed(
    tmp_path: Path, url: str, batch_size: int
) -> Iterator[tuple[ExchangeDriver, dict[str, str], DbProbe, ServiceProcess]]:
    """The exchange, and a service (batches of ``batch_size``) with the 2,000 orders placed."""
    with fake_exchange_in_thread() as (loop, fake):
        exchange = ExchangeDriver(loop, fake)
        exchange.emit(SYMBOL, [START])
        env = _env(tmp_path, fake, url, CRIPTOREN_ENGINE_BATCH_SIZE=str(batch_size))
        probe = DbProbe(url)
        try:
            with service_process(env, "serve-1") as first:
                _, token = create_client(first, env, "burst-test")
                place_orders(first.base_url, token, BURST_ORDERS, workers=8)
                yield exchange, env, probe, first
        finally:
            probe.close()


def test_sigkill_mid_burst_of_2000_then_restart_matches_oracle(
    tmp_path: Path, scratch_url: str
) -> None:
    # each trade crosses one level: ten trades fire 200 orders each, executed in batches
    # of 100, so the kill on the first commit lands with most of the burst still to do
    burst = [level - 5 for level in BURST_LEVELS]
    with _burst_placed(tmp_path, scratch_url, 100) as (exchange, env, probe, first):
        exchange.wait_subscribed(STREAM)
        exchange.emit(SYMBOL, burst)
        _kill_on_first_engine_trade(probe, first)
        at_kill = probe.engine_trades_count()
        assert 0 < at_kill < len(BURST_ORDERS) - 100, at_kill  # killed inside the burst

        with service_process(env, "serve-2") as second:
            exchange.wait_subscribed(STREAM)
            exchange.emit(SYMBOL, [Decimal("58900.00")])  # live again (crosses nothing new)
            last_id = exchange.tape(SYMBOL)[-1].agg_id
            poll_until(
                lambda: probe.cursor(SYMBOL) == last_id and probe.count_status("triggered") == 0,
                within=60,
                what="the restarted service to execute the rest of the burst",
                describe=lambda: _progress(probe) + second.log()[-3000:],
            )
            expected = _assert_ledger_matches_oracle(probe, exchange, first.log() + second.log())
            assert not second.errors(), second.log()
    assert len(expected) == len(BURST_ORDERS) == 2000


def test_two_engines_race_over_one_burst_on_postgres_each_order_once(
    tmp_path: Path, postgres_scratch_url: str
) -> None:
    placed = _burst_placed(tmp_path, postgres_scratch_url, 300)
    with placed as (exchange, env, probe, a), service_process(env, "engine-b") as b:
        exchange.wait_subscribed(STREAM, count=2)
        # one trade through every level: both engines fire all 2,000 at once and claim
        # overlapping batches of 300 concurrently
        exchange.emit(SYMBOL, [BURST_LEVELS[-1] - 5])
        poll_until(
            lambda: _both_settled(probe, a, b),
            within=60,
            what="both engines to finish the burst",
            describe=lambda: _progress(probe) + a.log()[-3000:] + b.log()[-3000:],
        )
        logs = a.log() + b.log()
        expected = _assert_ledger_matches_oracle(probe, exchange, logs)
        assert len(expected) == probe.count_status("executed") == 2000
        assert probe.engine_trades_count() == 2000
        assert not a.errors(), logs
        assert not b.errors(), logs
