"""The README's error table names every error code the API layers can answer."""

from __future__ import annotations

import re

from criptoren.api.errors import DATABASE_UNAVAILABLE, HTTP_CODES
from tests.support.paths import REPO_ROOT

LAYERS = ("api", "services", "domain")  # what a request reaches (binance/ codes stay internal)


def _codes_in_source() -> set[str]:
    root = REPO_ROOT / "src" / "criptoren"
    files = [root / "errors.py", *(p for layer in LAYERS for p in (root / layer).rglob("*.py"))]
    found: set[str] = set()
    for path in files:
        text = path.read_text()
        found |= set(re.findall(r'code ?= ?"([a-z_]+)"', text))
        found |= set(re.findall(r'error_response\(\s*\d+,\s*"([a-z_]+)"', text))
    return found | set(HTTP_CODES.values()) | {DATABASE_UNAVAILABLE}


def test_every_error_code_is_in_the_readme_table() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme.split("### Errors", 1)[1].split("\n\n", 2)[1]
    documented = set(re.findall(r"`([a-z_]+)`", table))
    codes = _codes_in_source()
    assert {"validation_error", "internal_error", "unknown_symbol"} <= codes
    assert codes - documented == set()
