"""The ``--workers N`` supervisor does not kill workers that start slowly."""

from __future__ import annotations

from criptoren.api.serving import APP_FACTORY, server_config
from criptoren.config import Settings

# a worker spawned on a loaded 2-core host took longer than uvicorn's default 5 s to import
# the application and answer the supervisor's first ping (bench/api.py --workers 1,2)
SLOWEST_START_SEEN_SECONDS = 10


def test_the_worker_healthcheck_outwaits_a_slow_start() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    config = server_config(APP_FACTORY, settings, "127.0.0.1", 0, workers=2)
    assert config.timeout_worker_healthcheck > SLOWEST_START_SEEN_SECONDS
