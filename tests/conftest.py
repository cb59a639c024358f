"""Cross-service test helpers: build any of the four apps against its migrated test database."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from tansiq_common.auth import install_auth
from tansiq_common.settings import ServiceSettings

SERVICES = ("registry", "agreements", "engagements", "reporting")

BuildApp = Callable[..., Awaitable[tuple[FastAPI, ServiceSettings]]]


def settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"tansiq_{service}.settings")
    return getattr(module, f"{service.capitalize()}Settings")  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def build_service_app(
    service_database, test_jwks_file: Path, topic_prefix: str, kafka_bootstrap: str
) -> BuildApp:
    """`app, settings = await build_service_app("agreements", **overrides)`.

    The app trusts the test JWKS, uses its own migrated test database and runs no relay or
    consumers unless overridden. If the service does not install the access model itself yet,
    it is installed here, so tests exercise what the service will run with.
    """

    async def build(service: str, **overrides: Any) -> tuple[FastAPI, ServiceSettings]:
        package = importlib.import_module(f"tansiq_{service}")
        url = await service_database(service, Path(package.MIGRATIONS_DIR))
        values: dict[str, Any] = {
            "database_url": url,
            "auth_jwks_file": test_jwks_file,
            "auth_jwks_url": None,
            "environment": "test",
            "run_relay": False,
            "run_consumers": False,
            "topic_prefix": topic_prefix,
            "kafka_bootstrap_servers": kafka_bootstrap,
        }
        values.update(overrides)
        settings = settings_class(service)(**values)
        app = importlib.import_module(f"tansiq_{service}.app").create_app(settings)
        if getattr(app.state, "authenticator", None) is None:
            install_auth(app, settings)
        return app, settings

    return build
