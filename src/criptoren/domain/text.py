"""Free text a user may store (names, exchange ids, asset codes): printable characters only."""

from __future__ import annotations

import unicodedata

# Cc: control characters (NUL, newlines, escapes); Cs: lone surrogates, which no database
# can store as UTF-8.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})


class TextError(ValueError):
    """Text that contains characters nothing downstream should store or echo."""


def check_plain_text(value: str, field: str = "text") -> str:
    """Return ``value`` unchanged, or raise when it holds a control character."""
    for position, char in enumerate(value):
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise TextError(
                f"{field} contains a control character (U+{ord(char):04X} at position {position})"
            )
    return value
