"""Debian's chromium driven by Playwright (never a downloaded browser), axe-core, screenshots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"  # `make panel-assets`
SCREENSHOTS_ENV = "CRIPTOREN_SCREENSHOTS"
"""Where the tests save each view's screenshot (``docs/img`` refreshes the README's)."""


async def launch(playwright: Playwright) -> Browser:
    """The system's chromium, headless, with nothing reaching for the internet."""
    if not CHROMIUM.exists():  # noqa: ASYNC240 (one stat, before anything runs)
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    return await playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it is now."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=AXE)
    results = await page.evaluate("axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


async def screenshot(page: Page, folder: Path, name: str, *, full_page: bool = False) -> Path:
    """Save the view as ``<name>.png`` (in ``$CRIPTOREN_SCREENSHOTS`` when it is set)."""
    target = Path(os.environ.get(SCREENSHOTS_ENV) or folder) / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(target), full_page=full_page, animations="disabled")
    return target
