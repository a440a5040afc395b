"""The service as a user starts it: migrate, create a client, serve, run the original curls."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support.live import fake_exchange_in_thread, run_cli, service_env, service_process

pytestmark = pytest.mark.slow  # real processes; started first under xdist


def test_original_examples_against_a_served_process(tmp_path: Path) -> None:
    with fake_exchange_in_thread() as (loop, exchange):
        exchange.emit_prices("BTCUSDT", ["61837.63"])
        env = service_env(tmp_path, exchange)
        assert "created the database schema" in run_cli(env, "migrate")
        assert "already up to date" in run_cli(env, "migrate")
        created = json.loads(run_cli(env, "clients", "create", "Alice", "--json"))
        assert set(created) == {"id", "name", "token"}
        assert created["token"] not in run_cli(env, "clients", "list")
        with service_process(env) as service:
            auth = {"Authorization": f"Bearer {created['token']}"}
            with httpx.Client(base_url=service.base_url, headers=auth, timeout=10) as http:
                assert http.get("/").json() == {"status": "OK"}
                assert http.get("/monitorar-par/BTCUSDT").status_code == 200
                order = http.post(
                    "/posicionar-compra",
                    json={
                        "cliente_id": created["id"],
                        "symbol": "BTCUSDT",
                        "preco_alvo": 62000,
                        "quantidade": 0.005,
                    },
                )
                assert order.status_code == 201, order.text
                assert order.json()["status"] == "waiting"
                bought = http.post(
                    "/registrar-compra",
                    json={
                        "cliente_id": created["id"],
                        "symbol": "BTCUSDT",
                        "preco_executado": 61950.5,
                        "quantidade": 0.005,
                    },
                )
                assert bought.status_code == 201, bought.text
                sold = http.post(
                    "/registrar-venda",
                    json={
                        "cliente_id": created["id"],
                        "symbol": "BTCUSDT",
                        "preco_executado": 63000,
                        "quantidade": 0.005,
                    },
                )
                assert sold.status_code == 201, sold.text
                docs = http.get("/openapi.json").json()
                assert "/posicionar-compra" in docs["paths"]
        rotated = run_cli(env, "clients", "rotate", str(created["id"]))
        assert rotated.startswith("token: ")
        assert "revoked" in run_cli(env, "clients", "revoke", str(created["id"]))
        run_cli(env, "clients", "rotate", str(created["id"]))
        assert "\trevoked\t" in run_cli(env, "clients", "list")  # rotation keeps it revoked
        run_cli(env, "clients", "rotate", str(created["id"]), "--reactivate")
        assert "\tactive\t" in run_cli(env, "clients", "list")
        assert loop is not None
