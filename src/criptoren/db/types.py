"""Column types that keep money exact and time zone-aware on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import DateTime, Dialect, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine

from criptoren.domain.money import QUANTUM

E = TypeVar("E", bound=StrEnum)


class Money(TypeDecorator[Decimal]):
    """``DECIMAL(18,8)``; on SQLite kept as canonical text, since its NUMERIC affinity rounds."""

    impl = Numeric(18, 8, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Text on SQLite (exact), ``NUMERIC(18,8)`` elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(Numeric(18, 8, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """Quantise to 8 places; text on SQLite."""
        if value is None:
            return None
        exact = as_stored(value)
        return str(exact) if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Always a ``Decimal`` with 8 places."""
        if value is None:
            return None
        exact = value if type(value) is Decimal else Decimal(str(value))  # asyncpg: a Decimal
        return exact.quantize(QUANTUM)


def as_stored(value: Decimal) -> Decimal:
    """An amount as a ``Money`` column stores it (and reads it back): 8 places."""
    return Decimal(value).quantize(QUANTUM)


class FilterValue(Money):
    """An exchange filter bound: like money, but wider (some ``maxQty`` exceed 10^10)."""

    impl = Numeric(36, 18, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Text on SQLite, ``NUMERIC(36,18)`` elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(48))
        return dialect.type_descriptor(Numeric(36, 18, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        """Keep every digit."""
        if value is None:
            return None
        return str(value) if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """A ``Decimal`` without trailing zeros."""
        return None if value is None else Decimal(str(value)).normalize()


class EnumText(TypeDecorator[E]):
    """A ``VARCHAR`` holding a ``StrEnum``'s value (the table's CHECK lists the values)."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum
        self._members = {member.value: member for member in enum}  # faster than enum(value)

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        """The value's text; a string that is no member is refused before the database."""
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        """The enum member."""
        if value is None:
            return None
        member = self._members.get(value)
        return self.enum(value) if member is None else member  # an unknown value raises


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back time zone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; convert to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """SQLite returns naive values: they are UTC."""
        if value is None or value.tzinfo is UTC:  # asyncpg reads UTC already
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)
