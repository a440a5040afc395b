"""schemathesis against /openapi.json of a real server: no 5xx, responses match their schemas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.databases import sqlite_copy
from tests.support.live import create_client, fake_exchange_in_thread, service_env, service_process

pytestmark = pytest.mark.slow  # real processes; started first under xdist
NO_PING = 24 * 3600.0
CHECKS: list[Any] = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_api(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    """A served process with one client that holds some BTC, and its auth header."""
    tmp = tmp_path_factory.mktemp("contract")
    # no keepalive pings during the run: websockets draws their payload from the global
    # `random`, and hypothesis, which watches that state while it generates a case, then
    # fails the test (HypothesisDeprecationWarning) when a ping lands mid-generation
    with fake_exchange_in_thread(ping_interval=NO_PING) as (_loop, exchange):
        exchange.emit_prices("BTCUSDT", ["61837.63"])
        env = service_env(tmp, exchange)
        env["CRIPTOREN_DATABASE_URL"] = sqlite_copy(sqlite_template, tmp / "contract.db")
        with service_process(env) as service:
            client_id, token = create_client(service, env, "c")
            auth = {"Authorization": f"Bearer {token}"}
            bought = httpx.post(
                f"{service.base_url}/registrar-compra",
                json={
                    "cliente_id": client_id,
                    "symbol": "BTCUSDT",
                    "preco_executado": "60000",
                    "quantidade": "1",
                },
                headers=auth,
                timeout=10,
            )
            assert bought.status_code == 201, bought.text
            yield service.base_url, auth


@pytest.fixture(scope="module")
def api_schema(live_api: tuple[str, dict[str, str]]) -> Any:
    """The served OpenAPI document."""
    return schemathesis.openapi.from_url(f"{live_api[0]}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_honours_its_contract(case: Any, live_api: tuple[str, dict[str, str]]) -> None:
    base, auth = live_api
    case.call_and_validate(base_url=base, headers=auth, checks=CHECKS)
