"""Every string the panel shows exists in Portuguese and in English."""

from __future__ import annotations

import re

from criptoren.web.panel import HERE, dictionaries

# t('key') / t(`status_${...}`) in the modules, data-i18n="key" and t.key / t[...] in the page
KEYS_IN_JS = re.compile(r"\bt\('(\w+)'")
KEYS_IN_PAGE = re.compile(r'data-i18n(?:-title)?="(\w+)"|\{\{ t\.(\w+) \}\}')


def test_both_languages_have_the_same_strings() -> None:
    portuguese, english = dictionaries().values()
    assert set(portuguese) == set(english)
    assert all(portuguese.values())
    assert all(english.values())


def test_every_string_the_panel_uses_is_translated() -> None:
    known = set(dictionaries()["pt-BR"])
    used: set[str] = set()
    for module in (HERE / "static" / "js").glob("*.js"):
        used |= set(KEYS_IN_JS.findall(module.read_text(encoding="utf-8")))
    page = (HERE / "templates" / "panel.html").read_text(encoding="utf-8")
    used |= {a or b for a, b in KEYS_IN_PAGE.findall(page)}
    assert len(used) > 40
    assert used - known == set()
