import pytest
from pydantic import SecretStr, ValidationError

from criptoren.config import Mode, Settings, settings_problems


def test_defaults_are_zero_setup_paper_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CRIPTOREN_DATABASE_URL", "CRIPTOREN_MODE", "BINANCE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.mode is Mode.PAPER
    assert settings.binance_rest_url == "https://api.binance.com"


def test_prefixed_and_original_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRIPTOREN_MODE", "live")
    monkeypatch.setenv("CRIPTOREN_BINANCE_WS_URL", "ws://127.0.0.1:9")
    monkeypatch.setenv("BINANCE_API_KEY", "key-from-the-original-env")
    monkeypatch.setenv("BINANCE_API_SECRET", "secret-from-the-original-env")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.mode is Mode.LIVE
    assert settings.binance_ws_url == "ws://127.0.0.1:9"
    assert settings.binance_api_key == SecretStr("key-from-the-original-env")
    assert "secret-from-the-original-env" not in repr(settings)
    assert "secret-from-the-original-env" not in str(settings.model_dump())


@pytest.mark.parametrize("token", ["changeme", "admin", "short"])
def test_placeholder_admin_token_is_refused(token: str) -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(admin_token=SecretStr(token), _env_file=None)  # type: ignore[call-arg]


def test_live_mode_refuses_to_start_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BINANCE_API_KEY", raising=False)
    monkeypatch.delenv("BINANCE_API_SECRET", raising=False)
    with pytest.raises(ValidationError, match="needs BINANCE_API_KEY"):
        Settings(mode=Mode.LIVE, _env_file=None)  # type: ignore[call-arg]
    live = Settings(
        mode=Mode.LIVE,
        binance_api_key=SecretStr("k" * 64),
        binance_api_secret=SecretStr("s" * 64),
        _env_file=None,  # type: ignore[call-arg]
    )
    assert live.venue == "binance"


def test_testnet_switch_moves_only_unset_urls() -> None:
    testnet = Settings(testnet=True, _env_file=None)  # type: ignore[call-arg]
    assert testnet.binance_rest_url == "https://testnet.binance.vision"
    assert testnet.binance_ws_url == "wss://stream.testnet.binance.vision"
    assert testnet.venue == "binance-testnet"
    local = Settings(
        testnet=True,
        binance_rest_url="http://127.0.0.1:9",
        _env_file=None,  # type: ignore[call-arg]
    )
    assert local.binance_rest_url == "http://127.0.0.1:9"
    assert local.venue == "custom (http://127.0.0.1:9)"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u:p@db:5432/c", "postgresql+asyncpg://u:p@db:5432/c"),
        ("postgres://u:p@db/c", "postgresql+asyncpg://u:p@db/c"),
        ("postgresql+asyncpg://u@db/c", "postgresql+asyncpg://u@db/c"),
        ("sqlite:///./c.db", "sqlite+aiosqlite:///./c.db"),
        ("sqlite+aiosqlite:////data/c.db", "sqlite+aiosqlite:////data/c.db"),
    ],
)
def test_database_urls_go_to_the_drivers_the_service_uses(given: str, used: str) -> None:
    assert Settings(database_url=given, _env_file=None).database_url == used  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "url", ["mysql://root:hunter2@db/c", "postgresql+psycopg2://u:hunter2@db/c", "criptoren.db"]
)
def test_other_databases_are_refused_without_echoing_the_url(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    problems = settings_problems(caught.value)
    assert len(problems) == 1
    assert problems[0].startswith("CRIPTOREN_DATABASE_URL must be a PostgreSQL URL")
    assert "hunter2" not in problems[0]


def test_each_problem_names_its_variable_and_never_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CRIPTOREN_DB_POOL_SIZE", "0")
    monkeypatch.setenv("CRIPTOREN_ADMIN_TOKEN", "short-secret")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)  # type: ignore[call-arg]
    problems = settings_problems(caught.value)
    assert sorted(problems) == [
        "CRIPTOREN_ADMIN_TOKEN is a placeholder or shorter than 16 characters; generate one "
        "with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`",
        "CRIPTOREN_DB_POOL_SIZE: Input should be greater than or equal to 1",
    ]
    assert not any("short-secret" in problem for problem in problems)
