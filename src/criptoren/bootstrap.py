"""Composition root: the one place where adapters are chosen and services wired."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from criptoren.binance.rest import BinancePublicRest, TickerPriceSource
from criptoren.config import Settings
from criptoren.db.session import create_engine, create_session_factory
from criptoren.ports import ExchangeInfoSource, MarketWatch, PriceSource
from criptoren.services.clients import ClientService
from criptoren.services.monitoring import IdleMarketWatch, MonitoringService
from criptoren.services.orders import OrderService
from criptoren.services.positions import PositionService
from criptoren.services.symbols import SymbolService
from criptoren.services.trades import TradeService

log = logging.getLogger(__name__)


@dataclass
class Container:
    """Everything a running service holds."""

    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    rest: BinancePublicRest
    prices: PriceSource
    market: MarketWatch
    symbols: SymbolService
    clients: ClientService
    orders: OrderService
    trades: TradeService
    positions: PositionService
    monitoring: MonitoringService
    started: bool = field(default=False)

    async def start(self) -> None:
        """Sync symbols (keeping the table if the exchange is down) and resume monitoring."""
        log.info(
            "criptoren starting: mode=%s rest=%s ws=%s",
            self.settings.mode.value,
            self.settings.binance_rest_url,
            self.settings.binance_ws_url,
        )
        async with self.session_factory() as session, session.begin():
            if self.settings.sync_symbols_on_start:
                await self.symbols.sync_or_keep(session)
            await self.monitoring.resume(session)
        self.started = True

    async def aclose(self) -> None:
        """Release connections."""
        await self.rest.aclose()
        await self.engine.dispose()


def build_container(
    settings: Settings,
    *,
    exchange_info: ExchangeInfoSource | None = None,
    prices: PriceSource | None = None,
    market: MarketWatch | None = None,
) -> Container:
    """Wire the service from settings; tests may hand in their own adapters."""
    engine = create_engine(settings.database_url)
    rest = BinancePublicRest(settings.binance_rest_url, timeout=settings.http_timeout_seconds)
    price_source = prices or TickerPriceSource(rest)
    watch = market or IdleMarketWatch()
    symbols = SymbolService(exchange_info or rest)
    return Container(
        settings=settings,
        engine=engine,
        session_factory=create_session_factory(engine),
        rest=rest,
        prices=price_source,
        market=watch,
        symbols=symbols,
        clients=ClientService(),
        orders=OrderService(symbols, price_source),
        trades=TradeService(symbols, settings.mode),
        positions=PositionService(price_source),
        monitoring=MonitoringService(symbols, watch, price_source),
    )
