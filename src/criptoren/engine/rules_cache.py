"""Symbol rules for the execution hot path, re-read at most every ``ttl`` seconds."""

from __future__ import annotations

import time

from sqlalchemy.engine import Connection

from criptoren.db import ledger
from criptoren.domain.filters import SymbolRules


class RulesCache:
    """Rules by symbol, read by the execution transactions (on the SQLite writer thread too)."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._rules: dict[str, tuple[float, SymbolRules]] = {}

    def _fresh(self, symbol: str) -> SymbolRules | None:
        cached = self._rules.get(symbol)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        return None

    def _keep(self, symbol: str, rules: SymbolRules | None) -> SymbolRules | None:
        if rules is not None:
            self._rules[symbol] = (time.monotonic(), rules)
        return rules

    def get_sync(self, connection: Connection, symbol: str) -> SymbolRules | None:
        """The rules of ``symbol`` (``None`` if unknown)."""
        cached = self._fresh(symbol)
        if cached is not None:
            return cached
        return self._keep(symbol, ledger.symbol_rules(connection, symbol))
