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

from tests.support.live import fake_exchange_in_thread, run_cli, service_env, service_process

pytestmark = pytest.mark.slow  # real processes; started first under xdist
CHECKS: list[Any] = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A served process with one client that holds some BTC, and its auth header."""
    tmp = tmp_path_factory.mktemp("contract")
    with fake_exchange_in_thread() as (_loop, exchange):
        exchange.emit_prices("BTCUSDT", ["61837.63"])
        env = service_env(Path(tmp), exchange)
        run_cli(env, "migrate")
        with service_process(env) as service, httpx.Client(timeout=10) as client:
            base = service.base_url
            admin = {"Authorization": f"Bearer {env['CRIPTOREN_ADMIN_TOKEN']}"}
            token = client.post(f"{base}/api/v1/clients", json={"name": "c"}, headers=admin)
            auth = {"Authorization": f"Bearer {token.json()['token']}"}
            client.post(
                f"{base}/registrar-compra",
                json={
                    "cliente_id": 1,
                    "symbol": "BTCUSDT",
                    "preco_executado": "60000",
                    "quantidade": "1",
                },
                headers=auth,
            )
            yield base, auth


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
