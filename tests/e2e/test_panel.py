"""The web panel in a real chromium: live desk, order form, reconnects, admin, accessibility.

One service, one browser for the module; each test has its own client and browser context.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Request,
    async_playwright,
    expect,
)

from tests.support.browser import launch, screenshot, serious_violations
from tests.support.databases import sqlite_copy
from tests.support.harness import ADMIN_TOKEN, Harness, running_service
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.asyncio(loop_scope="module")
expect.set_options(timeout=15_000)


class Panel:
    """The served service, a cuttable proxy in front of it, and the browser."""

    def __init__(self, service: Harness, proxy: TcpProxy, browser: Browser, shots: Path) -> None:
        self.service = service
        self.proxy = proxy
        self.browser = browser
        self.shots = shots
        self.url = f"http://127.0.0.1:{proxy.port}/painel"

    async def page(self, **options: Any) -> tuple[BrowserContext, Page]:
        context = await self.browser.new_context(
            locale="pt-BR", viewport={"width": 1280, "height": 900}, **options
        )
        page = await context.new_page()
        # shown by pytest when a test fails: what the page itself complained about
        page.on("console", lambda m: print(f"console {m.type}: {m.text}"))
        page.on("pageerror", lambda e: print(f"page error: {e}"))
        await page.goto(self.url)
        return context, page

    async def client(self, name: str) -> tuple[int, str]:
        client_id, headers = await self.service.new_client(name)
        return client_id, headers["Authorization"].removeprefix("Bearer ")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def panel(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Panel]:
    folder = tmp_path_factory.mktemp("panel")
    url = sqlite_copy(sqlite_template, folder / "criptoren.db")
    async with running_service(url, served=True) as service, async_playwright() as playwright:
        assert service.ws_url is not None
        port = int(service.ws_url.rsplit(":", 1)[1])
        proxy = await TcpProxy("127.0.0.1", port).start()
        browser = await launch(playwright)
        try:
            yield Panel(service, proxy, browser, folder / "screenshots")
        finally:
            await browser.close()
            await proxy.aclose()


async def log_in(page: Page, token: str) -> None:
    await page.get_by_test_id("login-token").fill(token)
    await page.get_by_test_id("login-submit").click()


async def orders_of(service: Harness, token: str) -> list[dict[str, Any]]:
    response = await service.http.get(
        "/api/v1/orders", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


async def test_a_wrong_token_stays_on_the_login_screen(panel: Panel) -> None:
    context, page = await panel.page()
    await log_in(page, "not-a-token")
    await expect(page.locator("#login-message")).to_have_text("Token inválido ou revogado.")
    await expect(page.get_by_test_id("login-token")).to_be_visible()
    await expect(page.locator("#desk")).to_be_hidden()
    assert await page.evaluate("sessionStorage.length") == 0
    assert await page.evaluate("localStorage.getItem('criptoren.token')") is None
    assert await serious_violations(page) == []
    await screenshot(page, panel.shots, "panel-login")
    await context.close()


async def test_a_client_trades_live_without_reloading(panel: Panel) -> None:
    service = panel.service
    _, token = await panel.client("alice")
    auth = {"Authorization": f"Bearer {token}"}
    context, page = await panel.page(accept_downloads=True)
    await log_in(page, token)
    status = page.get_by_test_id("stream-status")
    await expect(status).to_have_attribute("data-state", "connected")
    await expect(status).to_have_text("Ao vivo")
    assert await page.evaluate("sessionStorage.getItem('criptoren.token')") == token

    # watch: the price moves on screen when the exchange trades
    await page.get_by_test_id("watch-input").fill("btcusdt")
    await page.get_by_test_id("watch-submit").click()
    await expect(page.get_by_test_id("watch-remove-BTCUSDT")).to_be_visible()  # stream follows
    await service.exchange.wait_subscribed("btcusdt@aggTrade")
    service.exchange.emit_prices("BTCUSDT", ["61900.10"])
    await expect(page.get_by_test_id("price-BTCUSDT")).to_have_text("61.900,10")
    await expect(page.get_by_test_id("chart").locator("canvas").first).to_be_visible()

    # a buy through the form (typed the Brazilian way), then one more to cancel
    await expect(page.get_by_test_id("order-symbol")).to_have_value("BTCUSDT")
    await page.get_by_test_id("order-side").select_option("buy")
    await page.get_by_test_id("order-price").fill("61.000,00")
    await page.get_by_test_id("order-quantity").fill("0,01")
    await page.get_by_test_id("order-submit").click()
    await expect(page.locator("#order-notice")).to_contain_text("posicionada")
    [bought] = await orders_of(service, token)
    assert (bought["target_price"], bought["quantity"]) == ("61000.00000000", "0.01000000")
    row = page.get_by_test_id(f"order-{bought['id']}")
    await expect(row).to_have_attribute("data-status", "waiting")
    await expect(row).to_contain_text("−900,10 (−1,45 %)")  # distance to the target, live
    other = await service.http.post(
        "/api/v1/orders",
        json={"symbol": "BTCUSDT", "side": "buy", "target_price": "50000", "quantity": "0.01"},
        headers=auth,
    )
    other_row = page.get_by_test_id(f"order-{other.json()['id']}")
    await expect(other_row).to_have_attribute("data-status", "waiting")

    # the exchange crosses the first: executed, position and trade appear, no reload
    service.exchange.emit_prices("BTCUSDT", ["60900.5"])
    await expect(row).to_have_attribute("data-status", "executed")
    executed = next(o for o in await orders_of(service, token) if o["id"] == bought["id"])
    trade = page.get_by_test_id(f"trade-{executed['executed_trade_id']}")
    await expect(trade).to_contain_text("60.900,50")
    position = page.get_by_test_id("position-BTCUSDT")
    await expect(position).to_contain_text("0,01")
    await expect(position).to_contain_text("60.961,40")  # average cost with the fee
    await expect(page.get_by_test_id("price-BTCUSDT")).to_have_text("60.900,50")

    # cancel the other one
    await page.get_by_test_id(f"order-cancel-{other.json()['id']}").click()
    await expect(other_row).to_have_attribute("data-status", "cancelled")

    # a bad quantity: the API's refusal next to the field, nothing stored
    await page.get_by_test_id("order-price").fill("59000")
    await page.get_by_test_id("order-quantity").fill("abc")
    await page.get_by_test_id("order-submit").click()
    await expect(page.get_by_test_id("order-error")).to_be_visible()
    await expect(page.locator("#err-quantity")).to_contain_text("Informe um número positivo")
    await expect(page.get_by_test_id("order-quantity")).to_have_attribute("aria-invalid", "true")
    # a price under the symbol's minimum: the refusal in Portuguese, next to the price
    await page.get_by_test_id("order-price").fill("0,001")
    await page.get_by_test_id("order-quantity").fill("0,01")
    await page.get_by_test_id("order-submit").click()
    await expect(page.locator("#err-target_price")).to_contain_text("Preço abaixo do mínimo")
    refusal = page.get_by_test_id("order-error")
    await expect(refusal).to_have_text("A ordem não foi aceita. Preço abaixo do mínimo do símbolo.")
    await expect(page.get_by_test_id("order-price")).to_have_attribute("aria-invalid", "true")
    assert len(await orders_of(service, token)) == 2

    # trades as CSV: the ledger's exact figures
    async with page.expect_download() as download_info:
        await page.locator("#trades-csv").click()
    csv = await (await download_info.value).path()
    csv = await asyncio.to_thread(csv.read_text)
    assert csv.splitlines()[0].startswith("id,executed_at,symbol,side,price,quantity,fee")
    assert f"{executed['executed_trade_id']}," in csv
    assert "BTCUSDT,buy,60900.50000000,0.01000000,0.60900500" in csv

    # the stream dies: reconnecting, then connected with a fresh snapshot
    await panel.proxy.cut()
    await expect(status).to_have_attribute("data-state", "connecting")
    await expect(status).to_have_text("Reconectando…")
    missed = await service.http.post(
        "/api/v1/orders",
        json={"symbol": "ETHUSDT", "side": "buy", "target_price": "2000", "quantity": "0.5"},
        headers=auth,
    )
    assert missed.status_code == 201, missed.text
    await panel.proxy.restore()
    await expect(status).to_have_attribute("data-state", "connected")
    missed_row = page.get_by_test_id(f"order-{missed.json()['id']}")
    await expect(missed_row).to_have_attribute("data-status", "waiting")
    await service.exchange.wait_subscribed("ethusdt@aggTrade")
    service.exchange.emit_prices("ETHUSDT", ["2650.00"])
    await expect(missed_row).to_contain_text("−650,00 (−24,53 %)")
    assert await serious_violations(page) == []
    await screenshot(page, panel.shots, "panel-desk", full_page=True)

    # English, with English number formats
    await page.get_by_test_id("lang-toggle").click()
    await expect(page.get_by_role("heading", name="Waiting orders")).to_be_visible()
    await expect(page.get_by_test_id("price-BTCUSDT")).to_have_text("60,900.50")
    await expect(status).to_have_text("Live")
    await expect(row).to_contain_text("executed")
    await page.set_viewport_size({"width": 390, "height": 844})
    await screenshot(page, panel.shots, "panel-phone")
    await context.close()


async def test_the_operator_manages_clients_and_a_revoked_desk_logs_out(panel: Panel) -> None:
    admin_context, admin = await panel.page()
    await log_in(admin, ADMIN_TOKEN)
    await expect(admin.get_by_test_id("health")).to_contain_text("conectado")
    await admin.get_by_test_id("client-name").fill("carol")
    await admin.get_by_test_id("client-create").click()
    issued = admin.get_by_test_id("client-token")
    await expect(issued).to_contain_text("carol")
    token = await admin.locator("#client-token-value").text_content()
    assert token
    clients = await panel.service.http.get("/api/v1/clients", headers=panel.service.admin)
    carol = next(c for c in clients.json() if c["name"] == "carol")

    desk_context, desk = await panel.page()
    await log_in(desk, token)
    await expect(desk.get_by_test_id("stream-status")).to_have_attribute("data-state", "connected")

    await admin.get_by_test_id(f"client-revoke-{carol['id']}").click()
    await expect(admin.get_by_test_id(f"client-{carol['id']}")).to_contain_text("revogado")
    await expect(desk.get_by_test_id("login-token")).to_be_visible()
    await expect(desk.locator("#login-message")).to_contain_text("token foi revogado")

    await admin.get_by_test_id(f"client-rotate-{carol['id']}").click()  # reactivates
    await expect(admin.get_by_test_id(f"client-{carol['id']}")).to_contain_text("ativo")
    await expect(admin.locator("#client-token-value")).not_to_have_text(token)
    fresh = await admin.locator("#client-token-value").text_content()
    answer = await panel.service.http.get(
        "/api/v1/orders", headers={"Authorization": f"Bearer {fresh}"}
    )
    assert answer.status_code == 200
    assert await serious_violations(admin) == []
    await screenshot(admin, panel.shots, "panel-admin")
    await desk_context.close()
    await admin_context.close()


async def test_the_first_load_is_local_and_under_300_kb_compressed(panel: Panel) -> None:
    """Everything the desk loads comes from the app itself (no CDN), ≤ 300 KB on the wire."""
    _, token = await panel.client("dave")
    context = await panel.browser.new_context(locale="pt-BR")
    page = await context.new_page()
    requests: list[Request] = []
    page.on("requestfinished", lambda request: requests.append(request))
    await page.goto(panel.url)
    await log_in(page, token)
    await expect(page.get_by_test_id("stream-status")).to_have_attribute("data-state", "connected")
    await expect(page.get_by_test_id("chart").locator("canvas").first).to_be_attached()
    origin = f"http://127.0.0.1:{panel.proxy.port}/"
    assert [r.url for r in requests if not r.url.startswith(origin)] == []
    sizes = [await r.sizes() for r in requests]
    wire = sum(s["responseBodySize"] + s["responseHeadersSize"] for s in sizes)
    assert wire <= 300_000, wire
    await context.close()
