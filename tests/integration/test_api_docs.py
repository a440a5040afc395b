"""/docs and /redoc work offline: their pages reference only assets the service serves."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from criptoren.api.app import create_app
from criptoren.config import Settings


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The application over ASGI (the docs need neither database nor exchange)."""
    app = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {"swagger-ui-bundle.js": "javascript", "swagger-ui.css": "text/css"}),
        ("/redoc", {"redoc.standalone.js": "javascript"}),
    ],
)
async def test_docs_pages_load_only_local_assets(
    http: httpx.AsyncClient, page: str, expected: dict[str, str]
) -> None:
    response = await http.get(page)
    assert response.status_code == 200
    html = response.text
    urls = re.findall(r"""(?:src|href|spec-url)=["']([^"']+)["']""", html)
    urls += re.findall(r"""url: ?['"]([^'"]+)['"]""", html)
    assert urls, html
    remote = [u for u in urls if re.match(r"(https?:)?//", u)]
    assert remote == [], remote
    assert not re.search(r"https?://", html), "an absolute URL would need the internet"
    served = {}
    for url in urls:
        asset = await http.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
        served[url.rsplit("/", 1)[-1]] = asset.headers["content-type"]
    for name, kind in expected.items():
        assert kind in served[name], (name, served)


async def test_vendored_assets_ship_with_their_licences(http: httpx.AsyncClient) -> None:
    for path in (
        "/docs-assets/swagger-ui/LICENSE",
        "/docs-assets/swagger-ui/NOTICE",
        "/docs-assets/redoc/LICENSE",
    ):
        response = await http.get(path)
        assert response.status_code == 200, path
        assert "Copyright" in response.text or "License" in response.text
