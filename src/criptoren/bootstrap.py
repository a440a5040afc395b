"""Composition root: the one place where adapters are chosen and services wired."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from criptoren import metrics
from criptoren.binance.live_broker import LiveBroker
from criptoren.binance.rest import BinancePublicRest
from criptoren.binance.signed import BinanceSignedRest
from criptoren.binance.transport import BinanceHttp
from criptoren.config import Mode, Role, Settings
from criptoren.db.audit_sealer import AuditSealer
from criptoren.db.notify import CHANGES, ENGINE, PRICES, Listener, Notifier, asyncpg_dsn
from criptoren.db.rate_buckets import DatabaseBuckets
from criptoren.db.session import (
    Database,
    TransactionRunner,
    create_engine,
    create_session_factory,
    is_sqlite,
)
from criptoren.engine.alert_engine import AlertEngine
from criptoren.engine.broker import Broker, PaperBroker
from criptoren.engine.events import EventBus
from criptoren.engine.executor import Executor
from criptoren.engine.follower import EngineFollower
from criptoren.engine.pg_follower import EngineInbox
from criptoren.engine.reconciler import Reconciler
from criptoren.engine.trigger_engine import TriggerEngine
from criptoren.market.announced import AnnouncedMarket, PricePublisher
from criptoren.market.config import FeedConfig
from criptoren.market.feed import BinanceFeed
from criptoren.market.pricebook import PriceBook
from criptoren.market.prices import BookThenTickerPrices
from criptoren.metrics import Sampler
from criptoren.notify.wiring import build_notifications
from criptoren.notify.worker import NotificationWorker
from criptoren.ports import (
    AlertFollower,
    ExchangeInfoSource,
    Lifecycle,
    MarketWatch,
    OrderFollower,
    PriceSource,
    StrategyFollower,
)
from criptoren.services.alerts import AlertService
from criptoren.services.audit import AuditService
from criptoren.services.auth import TokenCache
from criptoren.services.clients import ClientService
from criptoren.services.feed_demand import FeedDemand
from criptoren.services.health import HealthService
from criptoren.services.klines import KlineService
from criptoren.services.notifications import NotificationService
from criptoren.services.orders import OrderService
from criptoren.services.positions import PositionService
from criptoren.services.rate_limit import MemoryBuckets, RateLimiter
from criptoren.services.strategies import StrategyService
from criptoren.services.strategy_runner import StrategyRunner
from criptoren.services.symbols import SymbolService
from criptoren.services.trades import TradeService
from criptoren.services.watchlists import WatchlistService
from criptoren.stream.events import ChangePort, InProcessChanges
from criptoren.stream.hub import StreamHub
from criptoren.stream.pg_changes import PgChanges
from criptoren.stream.render import StreamRenderer

log = logging.getLogger(__name__)


@dataclass
class Container:
    """Everything a running service holds."""

    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    database: Database
    http: BinanceHttp
    rest: BinancePublicRest
    signed: BinanceSignedRest | None
    feed: BinanceFeed
    bus: EventBus
    trigger_engine: TriggerEngine
    reconciler: Reconciler
    broker: Broker
    symbols: SymbolService
    clients: ClientService
    orders: OrderService
    trades: TradeService
    positions: PositionService
    health: HealthService
    tokens: TokenCache
    prices: PriceSource
    demand: FeedDemand
    watchlists: WatchlistService
    streams: StreamHub
    klines: KlineService
    strategies: StrategyService
    strategy_runner: StrategyRunner
    alerts: AlertService
    alert_engine: AlertEngine
    notifications: NotificationService
    notifier: NotificationWorker
    audit: AuditService = field(default_factory=AuditService)
    sealer: AuditSealer | None = None
    """Links staged audit rows into the chain (PostgreSQL; ``None`` on SQLite)."""
    sampler: Sampler = field(default_factory=Sampler)
    rate_limiter: RateLimiter | None = None
    role: Role = Role.ALL
    cluster: list[Lifecycle] = field(default_factory=list)
    """NOTIFY senders and listeners (scaled-out roles): started first, stopped last."""
    started: bool = field(default=False)
    _reconciling: asyncio.Task[None] | None = field(default=None, repr=False)

    async def start(self) -> None:
        """Start what this process's role runs (the all-in-one process: everything)."""
        log.info(
            "criptoren starting: role=%s mode=%s venue=%s rest=%s ws=%s",
            self.role.value,
            self.settings.mode.value,
            self.settings.venue,
            self.settings.binance_rest_url,
            self.settings.binance_ws_url,
        )
        self.started = True
        if self.sealer is not None:
            self.sealer.start()
        for part in self.cluster:
            await part.start()
        if self.role is not Role.API:
            await self._start_engine()
        if self.role is not Role.ENGINE:
            self.streams.start()
        if self.role is Role.ALL:
            metrics.ENGINE_LEADER.set(1)  # the all-in-one process always runs the engine
        self.sampler.start()

    async def _start_engine(self) -> None:
        """Sync symbols, reconcile, rebuild the index, resume the feed from the cursors, run."""
        if self.settings.sync_symbols_on_start:
            async with self.session_factory() as session, session.begin():
                await self.symbols.sync_or_keep(session)
        if self.broker.atomic:
            rearmed = await self.reconciler.rearm_atomic()
            if rearmed:
                log.warning("%d triggered paper orders re-armed as waiting", rearmed)
        resume = await self.trigger_engine.rebuild()
        await self.alert_engine.rebuild()
        for symbol, last_agg_id in resume.after_ids.items():
            self.feed.set_resume_point(symbol, last_agg_id)
        for symbol, start_ms in resume.since_ms.items():
            self.feed.set_resume_time(symbol, start_ms)
        self.feed.book.add_listener(self.trigger_engine.on_trade)
        self.feed.book.add_reset_listener(self.trigger_engine.on_feed_reset)
        self.feed.book.add_listener(self.alert_engine.on_trade)
        if self.role is Role.ALL:
            self.feed.book.add_listener(self.streams.on_trade)
        await self.demand.resume()
        await self.feed.start()
        self.trigger_engine.start()
        self.alert_engine.start()
        self.demand.start()
        await self.strategy_runner.start()
        self.notifier.start()
        if not self.broker.atomic:
            self._reconciling = asyncio.create_task(self.reconciler.run(), name="reconciler")

    async def aclose(self) -> None:
        """Stop the feed, let the engine save its cursors, release connections."""
        await self._stop(save_cursors=True)

    async def halt(self) -> None:
        """Stop executing at once (the trigger engine and the feed before anything else),
        without saving cursors, then release everything (a leader that lost its lock)."""
        await self._stop(save_cursors=False)

    async def _stop(self, *, save_cursors: bool) -> None:
        if self.started:
            await self.sampler.stop()
        if self.started and self.role is not Role.API:
            await self.trigger_engine.halt()
            await self.feed.stop()
            await self.notifier.stop()
            await self.alert_engine.stop()
            await self.strategy_runner.stop()
            await self.demand.stop()
            if self._reconciling is not None:
                self._reconciling.cancel()
                await asyncio.gather(self._reconciling, return_exceptions=True)
            if save_cursors:
                await self.trigger_engine.stop()
            if self.role is Role.ALL:
                metrics.ENGINE_LEADER.set(0)
        if self.started and self.role is not Role.ENGINE:
            await self.streams.stop()
        if self.started:
            for part in reversed(self.cluster):
                await part.stop()
        if self.rate_limiter is not None:
            await self.rate_limiter.aclose()
        if self.sealer is not None:
            await self.sealer.stop()
        await self.http.aclose()
        await self.notifier.aclose()
        await self.database.aclose()
        await self.database.runner.aclose()
        await self.engine.dispose()


def feed_config(settings: Settings) -> FeedConfig:
    """Feed tunables from the settings."""
    return FeedConfig(
        ws_url=settings.binance_ws_url,
        rest_url=settings.binance_rest_url,
        stale_after=settings.feed_stale_after_seconds,
        gap_fill_lookback=settings.gap_fill_lookback_seconds,
        rest_timeout=settings.http_timeout_seconds,
    )


def signed_client(settings: Settings, http: BinanceHttp) -> BinanceSignedRest | None:
    """The signed REST client live mode needs (``None`` in paper mode)."""
    if settings.mode is not Mode.LIVE:
        return None
    key, secret = settings.binance_api_key, settings.binance_api_secret
    if key is None or secret is None:  # Settings already refuses this; keeps mypy honest
        raise ValueError("live mode needs BINANCE_API_KEY and BINANCE_API_SECRET")
    return BinanceSignedRest(http, key, secret)


def build_engine(
    settings: Settings,
    runner: TransactionRunner,
    sessions: async_sessionmaker[AsyncSession],
    broker: Broker,
    bus: EventBus,
) -> tuple[TriggerEngine, Reconciler]:
    """The trigger engine, its executor and the reconciler of unknown outcomes."""
    executor = Executor(broker, runner, bus)
    reconciler = Reconciler(sessions, executor)
    executor.on_unknown = reconciler.wake.set
    trigger_engine = TriggerEngine(
        sessions,
        executor,
        runner,
        cursor_flush_seconds=settings.cursor_flush_seconds,
        batch_size=settings.engine_batch_size,
        before_work=None if broker.atomic else reconciler.settle_until_known,
        venue=settings.venue,
    )
    return trigger_engine, reconciler


@dataclass
class Parts:
    """What differs between the all-in-one process and the scaled-out roles."""

    changes: InProcessChanges | PgChanges
    market: MarketWatch
    prices: PriceSource
    health_source: MarketWatch
    order_followers: list[OrderFollower]
    strategy_followers: list[StrategyFollower]
    cluster: list[Lifecycle] = field(default_factory=list)
    pg: PgChanges | None = None
    announced: PriceBook | None = None
    """The API role's book of the engine's announced prices (its streams' price source)."""


@dataclass(frozen=True)
class Core:
    """The market and engine pieces every role is built around."""

    feed: BinanceFeed
    rest: BinancePublicRest
    trigger_engine: TriggerEngine
    demand: FeedDemand
    bus: EventBus


def in_process_parts(core: Core) -> Parts:
    """``serve``: the event port and the engine's index are in this process."""
    changes = InProcessChanges(core.bus)
    return Parts(
        changes,
        core.demand,
        BookThenTickerPrices(core.feed.book, core.rest),
        core.feed,
        [EngineFollower(core.trigger_engine, core.demand, core.bus)],
        [changes],
    )


def cluster_parts(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], core: Core
) -> Parts:
    """``api`` and ``engine``: changes, orders and prices travel over NOTIFY."""
    notifier = Notifier(asyncpg_dsn(settings.database_url))
    origin = uuid.uuid4().hex[:12]
    pg = PgChanges(notifier, sessions, origin, settings.notify_catch_up_seconds)
    if settings.role is Role.ENGINE:
        core.bus.subscribe(pg.on_order_event)
        publisher = PricePublisher(notifier, core.feed.book, settings.price_announce_seconds)
        core.feed.book.add_listener(publisher.on_trade)
        parts = in_process_parts(core)
        parts.changes, parts.strategy_followers = pg, [pg]
        parts.cluster, parts.pg = [notifier, publisher], pg
        return parts
    market = AnnouncedMarket(notifier)
    listener = Listener(
        asyncpg_dsn(settings.database_url), {CHANGES: pg.on_payload, PRICES: market.on_payload}
    )
    prices = BookThenTickerPrices(market.book, core.rest)
    return Parts(pg, market, prices, market, [pg], [pg], [notifier, pg, listener], pg, market.book)


def engine_inbox(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    database: Database,
    parts: Parts,
    core: Core,
    runner: StrategyRunner,
    alerts: AlertEngine,
) -> None:
    """The engine role's listener: orders, strategies, alerts and watch requests from API
    workers."""
    assert parts.pg is not None
    inbox = EngineInbox(
        sessions,
        database,
        core.trigger_engine,
        core.demand,
        runner,
        alerts,
        parts.pg.origin,
        settings.notify_catch_up_seconds,
    )
    listener = Listener(
        asyncpg_dsn(settings.database_url), {CHANGES: inbox.on_change, ENGINE: inbox.on_request}
    )
    parts.cluster[1:1] = [inbox, listener]  # listening before the index is rebuilt


def alert_followers(settings: Settings, parts: Parts, engine: AlertEngine) -> list[AlertFollower]:
    """Who keeps the alert index: this process's engine, or (an API worker) the engine
    leader, told over NOTIFY."""
    if settings.role is Role.API and parts.pg is not None:
        return [parts.pg]
    return [engine]


def build_container(
    settings: Settings,
    *,
    exchange_info: ExchangeInfoSource | None = None,
    broker: Broker | None = None,
) -> Container:
    """Wire the service from settings; tests may hand in their own adapters."""
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    sessions = create_session_factory(engine)
    # one transport per host: Binance limits are per IP, so every call shares its gate
    http = BinanceHttp(settings.binance_rest_url, timeout=settings.http_timeout_seconds)
    rest = BinancePublicRest(http)
    feed = BinanceFeed(feed_config(settings), rest)
    bus = EventBus()
    signed = signed_client(settings, http)
    chosen_broker = broker or (
        LiveBroker(signed)
        if signed is not None
        else PaperBroker(settings.paper_fee_rate, settings.paper_slippage_bps)
    )
    # one runner: on SQLite the engine and the request path share the single writer thread
    runner = TransactionRunner(settings.database_url, engine)
    database = Database(settings.database_url, engine, runner, settings.db_pool_size)
    trigger_engine, reconciler = build_engine(
        settings, database.runner, sessions, chosen_broker, bus
    )
    symbols = SymbolService(exchange_info or rest)
    tokens = TokenCache(settings.auth_cache_seconds)
    demand = FeedDemand(sessions, feed, settings.feed_release_after_seconds)
    bus.subscribe(demand.on_order_event)
    core = Core(feed, rest, trigger_engine, demand, bus)
    parts = (
        in_process_parts(core)
        if settings.role is Role.ALL
        else cluster_parts(settings, sessions, core)
    )
    positions = PositionService(parts.prices)
    orders = OrderService(
        symbols, parts.prices, settings.client_order_prefix, parts.order_followers
    )
    strategies = StrategyService(symbols, orders, parts.strategy_followers)
    strategy_runner = StrategyRunner(sessions, strategies, feed, rest, bus)
    if settings.role is not Role.API:
        strategies.followers.append(strategy_runner)
    streams = build_stream_hub(
        settings, sessions, parts.changes, positions, parts.prices, parts.market
    )
    if parts.announced is not None:
        parts.announced.add_listener(streams.on_trade)
    notifications, notifier = build_notifications(settings, database)
    alert_engine = AlertEngine(database, demand, [parts.changes, notifier])
    if settings.role is Role.ENGINE:
        engine_inbox(settings, sessions, database, parts, core, strategy_runner, alert_engine)
    bus.subscribe(notifier.on_committed)  # order events are published after their commit
    sealer = None if is_sqlite(settings.database_url) else AuditSealer(database)
    container = Container(
        settings=settings,
        engine=engine,
        session_factory=sessions,
        database=database,
        http=http,
        rest=rest,
        signed=signed,
        feed=feed,
        bus=bus,
        trigger_engine=trigger_engine,
        reconciler=reconciler,
        broker=chosen_broker,
        symbols=symbols,
        clients=ClientService(tokens),
        orders=orders,
        trades=TradeService(symbols, settings.mode, [parts.changes]),
        positions=positions,
        health=HealthService(sessions, parts.health_source),
        tokens=tokens,
        prices=parts.prices,
        demand=demand,
        watchlists=WatchlistService(symbols, parts.market, parts.prices, [parts.changes]),
        streams=streams,
        klines=KlineService(rest, symbols),
        strategies=strategies,
        strategy_runner=strategy_runner,
        alerts=AlertService(symbols, alert_followers(settings, parts, alert_engine)),
        alert_engine=alert_engine,
        notifications=notifications,
        notifier=notifier,
        rate_limiter=build_rate_limiter(settings, database),
        audit=AuditService(sealer),
        sealer=sealer,
        role=settings.role,
        cluster=parts.cluster,
    )
    sample_into_metrics(container)
    return container


def build_rate_limiter(settings: Settings, database: Database) -> RateLimiter | None:
    """The per-client limit (``None`` when off): shared through PostgreSQL by every worker."""
    rate, burst = settings.rate_limit_per_second, settings.rate_limit_burst
    if rate <= 0 or burst <= 0:
        return None
    if settings.rate_limit_store == "auto" and not is_sqlite(settings.database_url):
        return RateLimiter(DatabaseBuckets(database.engine), rate, burst)
    return RateLimiter(MemoryBuckets(), rate, burst)


def sample_into_metrics(c: Container) -> None:
    """Register the running totals and levels the metrics are sampled from."""
    sampler, feed = c.sampler, c.feed
    sampler.add_counter(metrics.TRADES_INGESTED, feed.book.trades_total)
    sampler.add_counter(metrics.ORDERS_FIRED, lambda: c.trigger_engine.fired_total)
    sampler.add_counter(metrics.FEED_RECONNECTS, lambda: feed.reconnects)
    sampler.add_counter(metrics.GAP_FILLS.labels("done"), lambda: feed.sequencer.fills_done)
    sampler.add_counter(metrics.GAP_FILLS.labels("failed"), lambda: feed.sequencer.fills_failed)
    sampler.add_counter(metrics.GAP_FILLED_TRADES, lambda: feed.sequencer.trades_filled)
    sampler.add_counter(metrics.STREAM_DROPPED, lambda: c.streams.dropped)
    sampler.add_gauge(metrics.STALE_SYMBOLS, lambda: len(feed.book.stale_symbols()))
    sampler.add_gauge(metrics.STREAM_CONNECTIONS, lambda: len(c.streams.connections()))
    sampler.add_gauge(metrics.ENGINE_PAUSED, lambda: c.trigger_engine.paused_since is not None)
    sampler.add_gauge(metrics.ALERTS_INDEXED, lambda: len(c.alert_engine.index))
    sampler.add_gauge(metrics.OUTBOX_BACKLOG, lambda: c.notifier.backlog)


def build_stream_hub(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    changes: ChangePort,
    positions: PositionService,
    prices: PriceSource,
    market: MarketWatch,
) -> StreamHub:
    """The push stream's hub, fed by the event port (in process, or over NOTIFY)."""
    return StreamHub(
        changes,
        StreamRenderer(sessions, positions, prices, market),
        coalesce_seconds=settings.stream_coalesce_seconds,
        buffer_limit=settings.stream_buffer_messages,
        auth_recheck_seconds=settings.stream_auth_recheck_seconds,
    )
