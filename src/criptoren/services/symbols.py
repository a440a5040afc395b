"""Symbols: sync their rules from the exchange and look them up for validation."""

from __future__ import annotations

import logging
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from criptoren.db.audit import stage
from criptoren.db.ledger import symbol_rules
from criptoren.db.repositories import SymbolRepository, symbol_count
from criptoren.db.session import Reader
from criptoren.domain.audit import SYSTEM, AuditEntry
from criptoren.domain.filters import SymbolRules, parse_exchange_info
from criptoren.errors import ExchangeError, ExchangeUnavailable, InvalidInput, Unavailable
from criptoren.ports import ExchangeInfoSource
from criptoren.services.memo import Memo
from criptoren.services.unit_of_work import now_and_after_commit

log = logging.getLogger(__name__)
MAX_SYMBOL_LENGTH = 20
RULES_TTL_SECONDS = 60.0  # rules change rarely; a sync by another process is seen within this


def normalise_symbol(symbol: str) -> str:
    """Upper-case, trimmed symbol; refuses what cannot be a Binance symbol."""
    clean = symbol.strip().upper()
    if not clean or len(clean) > MAX_SYMBOL_LENGTH or not clean.isalnum() or not clean.isascii():
        raise InvalidInput(f"unknown symbol {symbol[:40]!r}", code="unknown_symbol")
    return clean


class SymbolService:
    """Keeps the ``symbols`` table in step with the exchange."""

    def __init__(self, source: ExchangeInfoSource, ttl: float = RULES_TTL_SECONDS) -> None:
        self.source = source
        self.known: Memo[str, SymbolRules] = Memo(ttl)

    async def sync(self, session: AsyncSession, actor: str = SYSTEM) -> int:
        """Refresh every symbol from ``exchangeInfo``; returns how many were written."""
        rules = parse_exchange_info(await self.source.exchange_info())
        count = await SymbolRepository(session).upsert_many(rules)
        trading = sum(1 for rule in rules if rule.is_trading)
        data = {"symbols": count, "trading": trading}
        stage(session, [AuditEntry(actor, "symbols.synced", "symbols", None, data)])
        now_and_after_commit(session, self.known.forget)
        return count

    async def sync_or_keep(self, session: AsyncSession) -> int | None:
        """Like :meth:`sync`, but keeps the table and logs a warning if the exchange is down."""
        try:
            return await self.sync(session)
        except (ExchangeUnavailable, ExchangeError) as exc:
            log.warning("symbols not refreshed, keeping the stored ones: %s", exc.message)
            return None

    async def rules(self, read: Reader, symbol: str) -> SymbolRules:
        """The rules of a known symbol (422 when unknown)."""
        clean = normalise_symbol(symbol)
        cached = self.known.get(clean)
        if cached is not None:
            return cached
        generation = self.known.generation
        rules = await read(partial(symbol_rules, symbol=clean))
        if rules is None:
            if await read(symbol_count) == 0:
                raise Unavailable(
                    "no symbols are known yet: the exchange could not be reached at start-up; "
                    "restart once it is reachable, or run `make demo` to try Criptoren "
                    "offline against its fake exchange",
                    code="symbols_unavailable",
                )
            raise InvalidInput(f"unknown symbol {clean}", code="unknown_symbol")
        self.known.put(clean, rules, generation)
        return rules

    async def trading_rules(self, read: Reader, symbol: str) -> SymbolRules:
        """The rules of a symbol that is trading now (422 otherwise)."""
        rules = await self.rules(read, symbol)
        if not rules.is_trading:
            raise InvalidInput(
                f"{rules.symbol} is not trading now (status {rules.status})",
                code="symbol_not_trading",
            )
        return rules

    async def list(self, session: AsyncSession, *, trading_only: bool) -> list[SymbolRules]:
        """Known symbols."""
        return await SymbolRepository(session).list(trading_only=trading_only)
