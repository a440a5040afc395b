"""Tables: the seed's four (every seed column and reference kept) plus what the design needs.

The seed's ``CREATE TABLE`` statements (as reconstructed) are in ``docs/seed-schema.sql``;
``positioned_orders.symbol`` and ``trades.symbol`` are copies of ``symbols.symbol`` kept
beside the seed's ``symbol_id`` for the engine's hot path, written from the same row.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    func,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from criptoren.config import Mode
from criptoren.db.types import EnumText, FilterValue, Money, UTCDateTime, utcnow
from criptoren.domain.orders import Condition, OrderOrigin, OrderStatus, Side, TradeSource

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ORDER_STATUSES = "'waiting','triggered','executed','failed','cancelled','expired'"


class Base(DeclarativeBase):
    """Declarative base with deterministic constraint names (for migrations)."""

    metadata = MetaData(naming_convention=NAMING)


class Client(Base):
    """A client of the service; ``api_token`` holds only the hash of its token."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    api_token: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.current_timestamp()
    )
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )


class Symbol(Base):
    """A Binance spot symbol and its trading rules, refreshed from ``exchangeInfo``."""

    __tablename__ = "symbols"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(20), nullable=False, unique=True)
    base_asset: Mapped[str] = mapped_column(String(20), nullable=False)
    quote_asset: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    is_active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default=true()
    )
    min_price: Mapped[Decimal] = mapped_column(FilterValue(), nullable=False, default=0)
    max_price: Mapped[Decimal] = mapped_column(FilterValue(), nullable=False, default=0)
    tick_size: Mapped[Decimal] = mapped_column(FilterValue(), nullable=False, default=0)
    min_qty: Mapped[Decimal] = mapped_column(FilterValue(), nullable=False, default=0)
    max_qty: Mapped[Decimal] = mapped_column(FilterValue(), nullable=False, default=0)
    step_size: Mapped[Decimal] = mapped_column(FilterValue(), nullable=False, default=0)
    market_min_qty: Mapped[Decimal] = mapped_column(FilterValue(), nullable=False, default=0)
    market_max_qty: Mapped[Decimal] = mapped_column(FilterValue(), nullable=False, default=0)
    market_step_size: Mapped[Decimal] = mapped_column(FilterValue(), nullable=False, default=0)
    min_notional: Mapped[Decimal] = mapped_column(FilterValue(), nullable=False, default=0)
    max_notional: Mapped[Decimal] = mapped_column(FilterValue(), nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.current_timestamp()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )


class PositionedOrder(Base):
    """A client's intent to buy or sell when the market reaches ``target_price``."""

    __tablename__ = "positioned_orders"
    __table_args__ = (
        CheckConstraint("type IN ('buy','sell')", name="type"),
        CheckConstraint(f"status IN ({ORDER_STATUSES})", name="status"),
        CheckConstraint("condition IN ('lte','gte')", name="condition"),
        CheckConstraint("origin IN ('manual','strategy')", name="origin"),
        Index("ix_positioned_orders_client_status", "client_id", "status"),
        Index("ix_positioned_orders_symbol_status", "symbol", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), nullable=False)
    symbol_id: Mapped[int] = mapped_column(ForeignKey("symbols.id"), nullable=False)
    symbol: Mapped[str] = mapped_column(String(20), nullable=False)
    type: Mapped[Side] = mapped_column(EnumText(Side, 4), nullable=False)
    target_price: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    status: Mapped[OrderStatus] = mapped_column(
        EnumText(OrderStatus, 20),
        nullable=False,
        default=OrderStatus.WAITING,
        server_default=OrderStatus.WAITING.value,
    )
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.current_timestamp()
    )
    condition: Mapped[Condition] = mapped_column(EnumText(Condition, 3), nullable=False)
    reference_price: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    client_order_id: Mapped[str | None] = mapped_column(String(36), nullable=True, unique=True)
    triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # orders and trades reference each other: this key is added after both tables exist
    executed_trade_id: Mapped[int | None] = mapped_column(
        ForeignKey("trades.id", use_alter=True), nullable=True
    )
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )
    origin: Mapped[OrderOrigin] = mapped_column(
        EnumText(OrderOrigin, 8),
        nullable=False,
        default=OrderOrigin.MANUAL,
        server_default=OrderOrigin.MANUAL.value,
    )
    strategy_id: Mapped[int | None] = mapped_column(
        ForeignKey("strategies.id"), nullable=True, index=True
    )


class Trade(Base):
    """An executed trade: by the engine, recorded by hand, or by a strategy."""

    __tablename__ = "trades"
    __table_args__ = (
        CheckConstraint("type IN ('buy','sell')", name="type"),
        CheckConstraint("source IN ('engine','manual','strategy')", name="source"),
        CheckConstraint("mode IN ('paper','live')", name="mode"),
        Index("ix_trades_client_symbol_id", "client_id", "symbol_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), nullable=False)
    symbol_id: Mapped[int] = mapped_column(ForeignKey("symbols.id"), nullable=False)
    symbol: Mapped[str] = mapped_column(String(20), nullable=False)
    type: Mapped[Side] = mapped_column(EnumText(Side, 4), nullable=False)
    price: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    quantity: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    fee: Mapped[Decimal] = mapped_column(Money(), nullable=False, default=0, server_default="0")
    executed_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.current_timestamp()
    )
    order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    positioned_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("positioned_orders.id"), nullable=True, unique=True
    )
    fee_asset: Mapped[str | None] = mapped_column(String(20), nullable=True)
    source: Mapped[TradeSource] = mapped_column(
        EnumText(TradeSource, 10), nullable=False, default=TradeSource.MANUAL
    )
    mode: Mapped[Mode] = mapped_column(EnumText(Mode, 5), nullable=False, default=Mode.PAPER)


class StrategyRow(Base):
    """A client's channel strategy (``domain.strategies``) and where its runner got to."""

    __tablename__ = "strategies"
    __table_args__ = (
        CheckConstraint("status IN ('active','paused','deleted')", name="status"),
        CheckConstraint("kind IN ('channel-breakout','channel-reversion')", name="kind"),
        Index("ix_strategies_client_status", "client_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), nullable=False)
    symbol_id: Mapped[int] = mapped_column(ForeignKey("symbols.id"), nullable=False)
    symbol: Mapped[str] = mapped_column(String(20), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    interval: Mapped[str] = mapped_column(String(4), nullable=False)
    window: Mapped[int] = mapped_column(Integer, nullable=False)
    exit_window: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quantity: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    quote_amount: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    stop_loss_pct: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    take_profit_pct: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="active")
    # open time of the last closed candle the runner acted on (None: not started yet)
    last_close_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.current_timestamp()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )


class AlertRow(Base):
    """A client's price alert (``domain.alerts``): its rule and how often it fired."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("status IN ('active','triggered','deleted')", name="status"),
        CheckConstraint("condition IN ('gte','lte','cross','move_pct')", name="condition"),
        Index("ix_alerts_client_status", "client_id", "status"),
        Index("ix_alerts_status_symbol", "status", "symbol"),
        Index("ix_alerts_updated_at", "updated_at"),  # the cluster catch-up (0010)
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), nullable=False)
    symbol_id: Mapped[int] = mapped_column(ForeignKey("symbols.id"), nullable=False)
    symbol: Mapped[str] = mapped_column(String(20), nullable=False)
    condition: Mapped[str] = mapped_column(String(10), nullable=False)
    price: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    percent: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    window_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    repeat: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    cooldown_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="active")
    fire_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # exchange time (ms) of the trade that fired it last: a repeating alert's cooldown
    last_fired_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.current_timestamp()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, onupdate=utcnow
    )


class AlertEvent(Base):
    """One firing of an alert: the trade that fired it (written with the alert's update)."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_client_id", "client_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), nullable=False, index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), nullable=False)
    symbol: Mapped[str] = mapped_column(String(20), nullable=False)
    trade_price: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    agg_trade_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    trade_time_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.current_timestamp()
    )


class MonitoredSymbol(Base):
    """A symbol on the operator's (admin token's) watchlist; was the global list."""

    __tablename__ = "monitored_symbols"

    symbol: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class ClientWatchlistEntry(Base):
    """A symbol on one client's watchlist."""

    __tablename__ = "client_watchlists"

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class FeedCursor(Base):
    """Last aggregate trade processed per symbol, so downtime can be filled after a restart."""

    __tablename__ = "feed_cursors"

    symbol: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_agg_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_trade_time_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # whose ids these are (``Settings.venue``); "" = written before venues were recorded
    venue: Mapped[str] = mapped_column(String(255), nullable=False, default="", server_default="")


class AuditRowColumns:
    """What an audit row says, staged or linked into the chain."""

    at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    actor: Mapped[str] = mapped_column(String(40), nullable=False)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    entity: Mapped[str] = mapped_column(String(40), nullable=False)
    entity_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the client the change is about (no foreign key: the trail outlives what it records)
    client_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    data: Mapped[str] = mapped_column(Text, nullable=False)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AuditLog(AuditRowColumns, Base):
    """The append-only audit trail: one row per state change, hash-chained (``db.audit``)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_client_id_id", "client_id", "id"),)

    # SQLite: INTEGER, so the id is the rowid (no second index to maintain on each append)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)


class AuditStaged(AuditRowColumns, Base):
    """Audit rows PostgreSQL transactions have staged, committed with their changes, until
    ``audit_log_seal_staged()`` links them into ``audit_log`` (migration 0013); unused on
    SQLite."""

    __tablename__ = "audit_log_staged"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    # the row's canonical bytes before and after its id (domain.audit.row_parts)
    row_before: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    row_after: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class NotificationChannel(Base):
    """Where a client's notifications go; a webhook keeps its signing secret (never shown
    again after creation, so it can sign); a removed channel keeps its deliveries' history."""

    __tablename__ = "notification_channels"
    __table_args__ = (
        CheckConstraint("kind IN ('webhook','email','apprise')", name="kind"),
        Index("ix_notification_channels_client_id", "client_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    target: Mapped[str] = mapped_column(Text, nullable=False)
    secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class NotificationPreference(Base):
    """Which order events notify a client (no row: ``executed`` and ``failed``)."""

    __tablename__ = "notification_preferences"

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    order_events: Mapped[str] = mapped_column(String(100), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class Notification(Base):
    """The outbox: one delivery of one logical event (``event_id``) to one channel."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("status IN ('pending','delivered','dead')", name="status"),
        Index("ix_notifications_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_notifications_client_id_id", "client_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), nullable=False, index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), nullable=False)
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channels.id"), nullable=False)
    event_type: Mapped[str] = mapped_column(String(40), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class RateLimitBucket(Base):
    """A client's token bucket, shared by API workers; each takes tokens in small leases."""

    __tablename__ = "rate_limit_buckets"

    client_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tokens: Mapped[float] = mapped_column(Float, nullable=False)  # left after the last lease
    refilled_at: Mapped[float] = mapped_column(Float, nullable=False)  # epoch seconds
    granted: Mapped[int] = mapped_column(Integer, nullable=False)  # the last lease's size
