"""Notification channels: bad input is refused with 422 and nothing stored; e-mail through
a real SMTP server (aiosmtpd) and apprise through ``json://`` to a loopback receiver."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.integration.test_notifications_webhook import FAST, fire_buy
from tests.support.events import AttemptRecorder
from tests.support.harness import Harness, running_service
from tests.support.live import free_port
from tests.support.receiver import WebhookReceiver

CHANNELS = "/api/v1/notification-channels"


class Inbox:
    """An aiosmtpd handler: each message lands here, awaitable from the test's loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.arrived = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        sender, recipients = envelope.mail_from, list(envelope.rcpt_tos)

        def store() -> None:
            self.messages.append(message)
            self.envelopes.append((sender, recipients))
            self.arrived.set()

        self.loop.call_soon_threadsafe(store)
        return "250 OK"


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[Inbox, int]]:
    """A real SMTP server on loopback (aiosmtpd, in its own thread)."""
    inbox = Inbox(asyncio.get_running_loop())
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
async def strict(database_url: str) -> AsyncIterator[Harness]:
    """The service with the defaults: private addresses refused; SMTP configured."""
    smtp_url = "smtp://127.0.0.1:1?from=alertas@criptoren.test"
    async with running_service(database_url, smtp_url=smtp_url) as harness:
        yield harness


async def _channels(service: Harness, auth: dict[str, str]) -> list[Any]:
    response = await service.http.get(CHANNELS, headers=auth)
    assert response.status_code == 200
    rows: list[Any] = response.json()
    return rows


BAD_CHANNELS = [
    {"kind": "webhook", "url": "ftp://example.com/hook"},
    {"kind": "webhook", "url": "not a url"},
    {"kind": "webhook", "url": "http://"},
    {"kind": "webhook", "url": "http://127.0.0.1:9/hook"},
    {"kind": "webhook", "url": "http://localhost/hook"},
    {"kind": "webhook", "url": "http://10.1.2.3/hook"},
    {"kind": "webhook", "url": "https://192.168.0.10/hook"},
    {"kind": "webhook", "url": "http://169.254.169.254/latest/meta-data"},
    {"kind": "webhook", "url": "http://[::1]:8080/hook"},
    {"kind": "webhook", "url": "http://user:pw@93.184.216.34/hook"},
    {"kind": "webhook"},
    {"kind": "webhook", "url": "https://93.184.216.34/x", "address": "a@b.co"},
    {"kind": "email", "address": "not-an-address"},
    {"kind": "email", "address": "a@b"},
    {"kind": "email", "url": "https://93.184.216.34/"},
    {"kind": "apprise", "url": "nonsense://whatever"},
    {"kind": "apprise", "url": "json://127.0.0.1:9/hook"},
    {"kind": "sms", "url": "https://93.184.216.34/"},
]


async def test_bad_channels_are_refused_and_nothing_is_stored(strict: Harness) -> None:
    _, auth = await strict.new_client()
    for body in BAD_CHANNELS:
        response = await strict.http.post(CHANNELS, json=body, headers=auth)
        assert response.status_code == 422, (body, response.text)
        assert "error" in response.json(), body
    assert await _channels(strict, auth) == []


async def test_public_channels_are_kept_and_secrets_never_shown_again(strict: Harness) -> None:
    _, auth = await strict.new_client()
    hook = await strict.http.post(
        CHANNELS, json={"kind": "webhook", "url": "https://93.184.216.34/hook"}, headers=auth
    )
    assert hook.status_code == 201, hook.text
    assert len(hook.json()["secret"]) == 64
    telegram = await strict.http.post(
        "/canais-notificacao",
        json={"tipo": "apprise", "url": "tgram://123456:ABCDEF-token/987654"},
        headers=auth,
    )
    assert telegram.status_code == 201, telegram.text
    assert telegram.json()["url"] == "tgram://***"
    assert telegram.json()["segredo"] is None
    mail = await strict.http.post(
        CHANNELS, json={"kind": "email", "address": "Ana@Example.com"}, headers=auth
    )
    assert mail.status_code == 201, mail.text
    listed = await _channels(strict, auth)
    assert [(c["kind"], c["url"], c["address"], c["secret"]) for c in listed] == [
        ("webhook", "https://93.184.216.34/hook", None, None),
        ("apprise", "tgram://***", None, None),
        ("email", None, "Ana@Example.com", None),
    ]
    _, bob = await strict.new_client("bob")
    assert await _channels(strict, bob) == []
    not_his = await strict.http.delete(f"{CHANNELS}/{hook.json()['id']}", headers=bob)
    assert not_his.status_code == 404
    assert (await strict.http.delete(f"{CHANNELS}/999999", headers=auth)).status_code == 404
    removed = await strict.http.delete(f"{CHANNELS}/{hook.json()['id']}", headers=auth)
    assert removed.status_code == 204
    assert [c["kind"] for c in await _channels(strict, auth)] == ["apprise", "email"]
    again = await strict.http.delete(f"{CHANNELS}/{hook.json()['id']}", headers=auth)
    assert again.status_code == 404


async def test_email_needs_smtp_configured(service: Harness) -> None:
    _, auth = await service.new_client()
    response = await service.http.post(
        CHANNELS, json={"kind": "email", "address": "ana@example.com"}, headers=auth
    )
    assert response.status_code == 422
    assert "not configured" in response.json()["error"]["message"]


async def test_email_in_portuguese_through_a_real_smtp_server(
    database_url: str, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    smtp_url = f"smtp://127.0.0.1:{port}?from=alertas@criptoren.test"
    async with running_service(database_url, smtp_url=smtp_url, **FAST) as service:
        _, auth = await service.new_client()
        response = await service.http.post(
            CHANNELS, json={"kind": "email", "address": "ana@example.com"}, headers=auth
        )
        assert response.status_code == 201, response.text
        order_id = await fire_buy(service, auth)
        async with asyncio.timeout(15):
            await inbox.arrived.wait()
    [message] = inbox.messages
    assert inbox.envelopes == [("alertas@criptoren.test", ["ana@example.com"])]
    assert message["Subject"] == f"Criptoren: Ordem {order_id} executada"
    assert message["X-Criptoren-Event-Id"]
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    plain, rich = text.get_content(), html.get_content()
    assert "Sua ordem de compra de BTCUSDT foi executada." in plain
    assert "Preço: 60900.00000000" in plain
    assert "<h1" in rich
    assert "Sua ordem de compra de BTCUSDT foi executada." in rich
    assert message["X-Criptoren-Event-Id"] in plain


async def test_apprise_json_to_a_loopback_receiver(database_url: str) -> None:
    receiver = await WebhookReceiver().start()
    try:
        async with running_service(database_url, **FAST) as service:
            attempts = AttemptRecorder(service.container.notifier)
            _, auth = await service.new_client()
            url = f"json://127.0.0.1:{receiver.port}/apprise?token=s3cret"
            response = await service.http.post(
                CHANNELS, json={"kind": "apprise", "url": url}, headers=auth
            )
            assert response.status_code == 201, response.text
            assert response.json()["url"] == f"json://127.0.0.1:{receiver.port}/***"
            order_id = await fire_buy(service, auth)
            await receiver.wait_for(lambda got: len(got) >= 1)
            await attempts.wait_for(lambda: len(attempts.delivered()) == 1)
        [request] = receiver.received
        assert request.path.startswith("/apprise")
        body = request.json
        assert body["title"] == f"Criptoren: Ordem {order_id} executada"
        assert "Sua ordem de compra de BTCUSDT foi executada." in body["message"]
    finally:
        await receiver.stop()
