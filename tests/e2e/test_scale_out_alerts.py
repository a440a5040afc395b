"""Scale-out on PostgreSQL: alerts created and deleted through an API process reach the
engine leader's index over NOTIFY (no restart), those no notification told of through the
engine's catch-up, and the engine's ``/metrics`` shows the index and the outbox backlog."""

from __future__ import annotations

import re
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import cluster as scale
from tests.support.live import ServiceProcess, create_client
from tests.support.processes import migrated_postgres, poll_until
from tests.support.receiver import WebhookReceiver

pytestmark = pytest.mark.slow  # real processes; started first under xdist


def gauge(engine: ServiceProcess, name: str) -> float | None:
    """The value of an unlabelled metric on the engine's ``/metrics``."""
    text = httpx.get(f"{engine.base_url}/metrics", timeout=5).text
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return None if found is None else float(found.group(1))


def call(method: str, api: ServiceProcess, path: str, token: str, **kw: Any) -> Any:
    """One scale.API call that must succeed; its JSON body."""
    auth = {"Authorization": f"Bearer {token}"}
    response = httpx.request(method, f"{api.base_url}{path}", headers=auth, timeout=10, **kw)
    assert response.is_success, response.text
    return response.json()


COPY = """INSERT INTO alerts (client_id, symbol_id, symbol, condition, price, repeat,
    cooldown_seconds, status, fire_count, created_at, updated_at)
    SELECT client_id, symbol_id, symbol, condition, price, repeat, cooldown_seconds,
    'active', 0, now(), now() FROM alerts WHERE id = :id RETURNING id"""
DELETE = "UPDATE alerts SET status = 'deleted', updated_at = now() WHERE id = :id RETURNING id"


def test_alerts_created_and_deleted_through_an_api_process_reach_the_engine(
    tmp_path: Path,
) -> None:
    with ExitStack() as stack:
        url = stack.enter_context(migrated_postgres("criptoren_alerts"))
        exchange, env, probe = stack.enter_context(scale.cluster(tmp_path, url))
        env = {**env, "CRIPTOREN_WEBHOOK_ALLOW_PRIVATE": "true"}
        receiver = exchange.loop.run(WebhookReceiver(status_for=lambda _n: 500).start())
        stack.callback(lambda: exchange.loop.run(receiver.stop()))
        engine, api = scale.start(stack, (env, "engine", scale.ENGINE), (env, "api", scale.API))
        scale.wait_leader(engine)
        _, token = create_client(api, env, "alerts")
        hook = {"kind": "webhook", "url": f"{receiver.url}/hook"}
        call("POST", api, "/api/v1/notification-channels", token, json=hook)
        stream = scale.StreamRecorder(exchange.loop, api, token)
        stack.callback(stream.close)

        level = {"symbol": scale.SYMBOL, "condition": "gte", "price": "60100"}
        kept = call("POST", api, "/api/v1/alerts", token, json=level)
        nivel = {"symbol": scale.SYMBOL, "condicao": "gte", "preco": "60100"}
        dropped = call("POST", api, "/alertas", token, json=nivel)
        exchange.wait_subscribed(scale.STREAM)  # the leader streams the alerts' symbol
        poll_until(
            lambda: gauge(engine, "criptoren_alerts_indexed") == 2,
            within=15,
            what="the leader to index both alerts",
            describe=lambda: engine.log()[-3000:],
        )
        call("DELETE", api, f"/alertas/{dropped['id']}", token)
        poll_until(
            lambda: gauge(engine, "criptoren_alerts_indexed") == 1,
            within=15,
            what="the leader to forget the deleted alert",
        )

        exchange.emit(scale.SYMBOL, [Decimal("60200.00")])  # crosses both levels
        fired = poll_until(
            lambda: [m for m in stream.messages if m["type"] == "alert"],
            within=15,
            what="the alert's firing on the API process's stream",
            describe=lambda: engine.log()[-3000:],
        )
        # its webhook is refused (500): the delivery waits for a retry, counted as backlog
        poll_until(
            lambda: gauge(engine, "criptoren_outbox_backlog") == 1,
            within=15,
            what="the engine's /metrics to count the pending delivery",
        )
        listed = call("GET", api, "/api/v1/alerts", token)

        # no notification tells of these two changes: the engine's catch-up finds them
        missed = scale.unannounced(probe, COPY, id=kept["id"])
        poll_until(lambda: gauge(engine, "criptoren_alerts_indexed") == 1, within=15,
                   what="the catch-up to index an alert no notification told of")  # fmt: skip
        scale.unannounced(probe, DELETE, id=missed)
        poll_until(lambda: gauge(engine, "criptoren_alerts_indexed") == 0, within=15,
                   what="the catch-up to forget an alert no notification told of")  # fmt: skip
        assert not engine.errors(), engine.log()
        assert not api.errors(), api.log()

    assert [m["alert_id"] for m in fired] == [kept["id"]]
    assert [(a["id"], a["status"], a["fire_count"]) for a in listed] == [
        (kept["id"], "triggered", 1)
    ]
    assert [r.json["type"] for r in receiver.received] == ["alert.triggered"]
