"""Settings read from the environment (prefix ``CRIPTOREN_``) and an optional ``.env``."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

PRODUCTION_REST_URL = "https://api.binance.com"
PRODUCTION_WS_URL = "wss://stream.binance.com:9443"
TESTNET_REST_URL = "https://testnet.binance.vision"
TESTNET_WS_URL = "wss://stream.testnet.binance.vision"
# hosts that serve one and the same exchange (so the same aggregate-trade ids)
PRODUCTION_REST_HOSTS = frozenset(
    {"api.binance.com", "api-gcp.binance.com", "data-api.binance.vision"}
    | {f"api{n}.binance.com" for n in range(1, 5)}
)
PLACEHOLDER_TOKENS = frozenset({"", "changeme", "changethis", "admin", "secret", "token"})
MIN_ADMIN_TOKEN_LENGTH = 16
# the URL schemes people write, and the driver the service talks through for each
DATABASE_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


class Mode(StrEnum):
    """How positioned orders are executed."""

    PAPER = "paper"
    LIVE = "live"


class Role(StrEnum):
    """What a process runs: everything (``serve``), HTTP and streams only, or the engine."""

    ALL = "all"
    API = "api"
    ENGINE = "engine"


class Settings(BaseSettings):
    """Everything the service can be told from outside."""

    model_config = SettingsConfigDict(
        env_prefix="CRIPTOREN_", env_file=".env", extra="ignore", populate_by_name=True
    )

    database_url: str = "sqlite+aiosqlite:///./criptoren.db"
    mode: Mode = Mode.PAPER
    binance_rest_url: str = PRODUCTION_REST_URL
    binance_ws_url: str = PRODUCTION_WS_URL
    testnet: bool = False
    admin_token: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    sync_symbols_on_start: bool = True
    paper_fee_rate: Annotated[Decimal, Field(ge=0, lt=1)] = Decimal("0.001")
    paper_slippage_bps: Annotated[Decimal, Field(ge=0, lt=10000)] = Decimal("0")
    binance_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("CRIPTOREN_BINANCE_API_KEY", "BINANCE_API_KEY"),
    )
    binance_api_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("CRIPTOREN_BINANCE_API_SECRET", "BINANCE_API_SECRET"),
    )
    http_timeout_seconds: float = 10.0
    feed_stale_after_seconds: Annotated[float, Field(gt=0)] = 30.0
    gap_fill_lookback_seconds: Annotated[float, Field(gt=0)] = 24 * 3600.0
    cursor_flush_seconds: Annotated[float, Field(gt=0)] = 1.0
    # the most fired orders one execution transaction takes (see docs/performance.md, Burst)
    engine_batch_size: Annotated[int, Field(ge=1, le=10_000)] = 1000
    max_body_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024
    # PostgreSQL connections per process and pool (the request path's and the ORM's): one
    # worker's event loop never has more queries in flight than it can use; keep
    # (API workers + engines) x 2 x this + a few listeners under max_connections
    db_pool_size: Annotated[int, Field(ge=1, le=200)] = 10
    # a token revoked by another process (CLI, another worker) stops working within this
    auth_cache_seconds: Annotated[float, Field(ge=0, le=60)] = 2.0
    client_order_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,20}$")] = "crpt-"
    feed_release_after_seconds: Annotated[float, Field(ge=0)] = 30.0
    stream_buffer_messages: Annotated[int, Field(gt=0)] = 256
    stream_auth_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    stream_coalesce_seconds: Annotated[float, Field(gt=0)] = 0.25
    stream_auth_recheck_seconds: Annotated[float, Field(gt=0)] = 2.0
    stream_ping_interval_seconds: Annotated[float, Field(gt=0)] = 20.0
    stream_ping_timeout_seconds: Annotated[float, Field(gt=0)] = 60.0
    # notifications (README "Notifications"): SMTP for e-mail channels, e.g.
    # smtp://user:pass@host:587?from=alerts@example.com (smtps:// for implicit TLS)
    smtp_url: SecretStr | None = None
    # lets webhook and apprise URLs point at loopback, link-local and private addresses
    webhook_allow_private: bool = False
    # retries wait base × 2^(n-1) × [1, 1.25]: 30 s and 8 attempts span at least 63 min
    notify_backoff_base_seconds: Annotated[float, Field(gt=0)] = 30.0
    notify_max_attempts: Annotated[int, Field(ge=1, le=50)] = 8
    notify_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    # a claimed delivery is due again after this (the process died while delivering)
    notify_lease_seconds: Annotated[float, Field(gt=0)] = 30.0
    notify_poll_seconds: Annotated[float, Field(gt=0)] = 5.0
    notify_concurrency: Annotated[int, Field(ge=1, le=1000)] = 64
    # per client token (admin exempt): requests a second and burst; 0 in either = no limit
    rate_limit_per_second: Annotated[float, Field(ge=0)] = 20.0
    rate_limit_burst: Annotated[int, Field(ge=0)] = 40
    # auto: buckets in PostgreSQL (shared by every API worker), in memory on SQLite
    rate_limit_store: Literal["auto", "memory"] = "auto"
    # scale-out (``criptoren api`` / ``criptoren engine``, PostgreSQL only)
    role: Role = Role.ALL
    engine_port: int = 8001
    leader_poll_seconds: Annotated[float, Field(gt=0, le=1)] = 0.5
    notify_catch_up_seconds: Annotated[float, Field(gt=0)] = 2.0
    price_announce_seconds: Annotated[float, Field(ge=0, le=0.1)] = 0.02

    @field_validator("database_url")
    @classmethod
    def _our_driver(cls, value: str) -> str:
        # postgresql:// (or postgres://, as hosting platforms write it) would otherwise load
        # psycopg2, which is not installed: each scheme goes to the driver the service uses
        scheme, separator, rest = value.partition("://")
        driver = DATABASE_DRIVERS.get(scheme.lower()) if separator else None
        if driver is None:  # the URL itself is not repeated: it may hold a password
            raise ValueError(
                "CRIPTOREN_DATABASE_URL must be a PostgreSQL URL "
                "(postgresql://user@host:5432/name) or a SQLite one (sqlite:///./criptoren.db)"
            )
        return f"{driver}://{rest}"

    @field_validator("admin_token")
    @classmethod
    def _refuse_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value()
        if secret.strip().lower() in PLACEHOLDER_TOKENS or len(secret) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(
                "CRIPTOREN_ADMIN_TOKEN is a placeholder or shorter than "
                f"{MIN_ADMIN_TOKEN_LENGTH} characters; generate one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return value

    @model_validator(mode="after")
    def _venue_and_keys(self) -> Settings:
        if self.testnet:
            # the testnet switch moves only the URLs nobody set explicitly
            if "binance_rest_url" not in self.model_fields_set:
                self.binance_rest_url = TESTNET_REST_URL
            if "binance_ws_url" not in self.model_fields_set:
                self.binance_ws_url = TESTNET_WS_URL
        if self.notify_lease_seconds <= self.notify_timeout_seconds:
            raise ValueError(
                "CRIPTOREN_NOTIFY_LEASE_SECONDS must exceed CRIPTOREN_NOTIFY_TIMEOUT_SECONDS"
            )
        if self.mode is Mode.LIVE and not (self.binance_api_key and self.binance_api_secret):
            raise ValueError(
                "CRIPTOREN_MODE=live needs BINANCE_API_KEY and BINANCE_API_SECRET; "
                "refusing to start"
            )
        return self

    @property
    def venue(self) -> str:
        """Which exchange the service talks to (logs, ``/healthz``, feed cursors; no secret)."""
        url = self.binance_rest_url.rstrip("/")
        host = urlsplit(url).hostname or ""
        if urlsplit(url).scheme == "https" and host in PRODUCTION_REST_HOSTS:
            return "binance"
        if url == TESTNET_REST_URL:
            return "binance-testnet"
        return f"custom ({url})"


def settings_problems(exc: ValidationError) -> list[str]:
    """One sentence per setting that did not validate: its variable and why (never its value,
    which may be a secret)."""
    problems = []
    for error in exc.errors():
        why = str(error.get("ctx", {}).get("error", error["msg"]))
        names = [str(part) for part in error["loc"]]
        if not names or why.startswith("CRIPTOREN_"):  # the sentence names its variables
            problems.append(why)
            continue
        variable = names[0] if names[0].isupper() else f"CRIPTOREN_{names[0].upper()}"
        problems.append(f"{variable}: {why}")
    return problems


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
