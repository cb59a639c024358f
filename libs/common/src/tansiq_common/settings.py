"""Settings base: one pydantic-settings class per service, each with its own env prefix.

Infrastructure shared by every service (Kafka, topic prefix, identity provider) is read from
unprefixed variables, as docs/operations.md lists them; what is the service's own (its database, its
port) carries the service prefix, e.g. ``REGISTRY_DATABASE_URL``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]

# Credentials and keys that exist only for a developer's machine; never acceptable in production.
DEVELOPMENT_DATABASE_PASSWORDS = frozenset({"tansiq", "postgres", "password", ""})


def _shared(name: str) -> AliasChoices:
    return AliasChoices(name)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    environment: Environment = Field("development", validation_alias=_shared("TANSIQ_ENV"))
    log_level: str = Field("INFO", validation_alias=_shared("LOG_LEVEL"))

    database_url: str = "postgresql+asyncpg://tansiq:tansiq@127.0.0.1:55432/tansiq"
    database_pool_size: int = 10
    database_max_overflow: int = 10
    database_statement_timeout_ms: int = 30_000

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=_shared("KAFKA_BOOTSTRAP_SERVERS")
    )
    topic_prefix: str = Field("", validation_alias=_shared("TOPIC_PREFIX"))
    # The relay and the consumers run inside the service process; a replica can opt out.
    run_relay: bool = True
    run_consumers: bool = True

    auth_jwks_url: str | None = Field(None, validation_alias=_shared("AUTH_JWKS_URL"))
    auth_jwks_file: Path | None = Field(None, validation_alias=_shared("AUTH_JWKS_FILE"))
    auth_issuer: str = Field("tansiq-dev", validation_alias=_shared("AUTH_ISSUER"))
    auth_audience: str = Field("tansiq", validation_alias=_shared("AUTH_AUDIENCE"))

    max_body_bytes: int = 1_048_576
    idempotency_ttl_hours: int = 24

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        # Operators hand us the plain URI their platform gives (CloudNativePG's `uri`).
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+asyncpg://" + url.removeprefix(plain)
        return url

    @model_validator(mode="after")
    def _refuse_development_secrets_outside_development(self) -> ServiceSettings:
        if self.environment != "production":
            return self
        problems = []
        if self.auth_jwks_file is not None:
            problems.append("AUTH_JWKS_FILE (the development key) is not allowed in production")
        if not self.auth_jwks_url:
            problems.append("AUTH_JWKS_URL is required in production")
        password = _password_of(self.database_url)
        if password in DEVELOPMENT_DATABASE_PASSWORDS:
            problems.append("the database password is a development default")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


def _password_of(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).password or ""
