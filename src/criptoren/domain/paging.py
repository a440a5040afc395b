"""A page of a listing: what a client asks for when it does not want every row at once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Page:
    """A slice of a listing, newest first: ids below ``before``, at most ``limit`` of them
    (``None``: no bound)."""

    before: int | None = None
    limit: int | None = None


EVERYTHING = Page()
"""Every row (a listing asked for without ``before`` or ``limit``)."""
