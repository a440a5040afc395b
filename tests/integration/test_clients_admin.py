"""Operator endpoints: tokens are shown once, stored hashed, rotated and revoked."""

from __future__ import annotations

from sqlalchemy import select

from criptoren.db.models import Client
from tests.support.harness import Harness


async def test_token_is_shown_once_and_stored_only_as_a_hash(service: Harness) -> None:
    created = await service.http.post(
        "/api/v1/clients", json={"name": "carol"}, headers=service.admin
    )
    assert created.status_code == 201
    token = created.json()["token"]
    assert len(token) >= 43  # 32 random bytes
    async with service.container.session_factory() as session:
        stored = (await session.scalars(select(Client))).one()
    assert token not in stored.api_token
    assert stored.api_token.startswith("sha256$")
    listed = await service.http.get("/api/v1/clients", headers=service.admin)
    assert listed.json()[0]["name"] == "carol"
    assert "token" not in listed.text
    assert token not in listed.text


async def test_rotate_replaces_the_token_and_revoke_disables_it(service: Harness) -> None:
    # the first request caches the token: rotate and revoke must still take effect at once
    client_id, old = await service.new_client()
    assert (await service.http.get("/ordens", headers=old)).status_code == 200
    rotated = await service.http.post(f"/api/v1/clients/{client_id}/rotate", headers=service.admin)
    new = {"Authorization": f"Bearer {rotated.json()['token']}"}
    assert (await service.http.get("/ordens", headers=old)).status_code == 401
    assert (await service.http.get("/ordens", headers=new)).status_code == 200
    revoked = await service.http.post(f"/api/v1/clients/{client_id}/revoke", headers=service.admin)
    assert revoked.json()["active"] is False
    assert (await service.http.get("/ordens", headers=new)).status_code == 401


async def test_admin_endpoints_refuse_client_tokens(service: Harness) -> None:
    _, auth = await service.new_client()
    response = await service.http.post("/api/v1/clients", json={"name": "x"}, headers=auth)
    assert response.status_code == 403
    assert (await service.http.get("/api/v1/clients")).status_code == 401
    missing = await service.http.post("/api/v1/clients/999/rotate", headers=service.admin)
    assert missing.status_code == 404


async def test_rotating_a_revoked_client_keeps_it_revoked(service: Harness) -> None:
    client_id, _ = await service.new_client()
    await service.http.post(f"/api/v1/clients/{client_id}/revoke", headers=service.admin)
    rotated = await service.http.post(f"/api/v1/clients/{client_id}/rotate", headers=service.admin)
    assert rotated.status_code == 200
    token = {"Authorization": f"Bearer {rotated.json()['token']}"}
    assert (await service.http.get("/ordens", headers=token)).status_code == 401
    listed = (await service.http.get("/api/v1/clients", headers=service.admin)).json()
    assert listed[0]["active"] is False
    reactivated = await service.http.post(
        f"/api/v1/clients/{client_id}/rotate",
        params={"reactivate": "true"},
        headers=service.admin,
    )
    token = {"Authorization": f"Bearer {reactivated.json()['token']}"}
    assert (await service.http.get("/ordens", headers=token)).status_code == 200


async def test_a_cached_token_is_refused_as_soon_as_it_is_revoked(service: Harness) -> None:
    client_id, token = await service.new_client()
    for _ in range(3):  # authenticated (and cached) several times
        assert (await service.http.get("/ordens", headers=token)).status_code == 200
    await service.http.post(f"/api/v1/clients/{client_id}/revoke", headers=service.admin)
    refused = await service.http.get("/ordens", headers=token)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"


async def test_a_revoke_outside_a_request_is_seen_at_once(service: Harness) -> None:
    # as `criptoren clients revoke` does: the service in a plain transaction, no request
    client_id, token = await service.new_client()
    assert (await service.http.get("/ordens", headers=token)).status_code == 200
    async with service.container.session_factory() as session, session.begin():
        await service.container.clients.revoke(session, client_id)
    assert (await service.http.get("/ordens", headers=token)).status_code == 401
