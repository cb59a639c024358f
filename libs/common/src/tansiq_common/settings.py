"""Settings base: one pydantic-settings class per service, each with its own env prefix.

Infrastructure shared by every service (Kafka, topic prefix, identity provider) is read from
unprefixed variables, as docs/operations.md lists them; what is the service's own (its database, its
port) carries the service prefix, e.g. ``REGISTRY_DATABASE_URL``.

Failing closed: TANSIQ_ENV defaults to ``development`` so that a developer's `make up` needs no
setting, but a process that shows it is deployed (it runs on Kubernetes, or it is given a real
identity provider's AUTH_JWKS_URL) refuses to start until TANSIQ_ENV names the environment;
``production`` then refuses every development shortcut (see ``_production_fails_closed``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tansiq_common.events.kafka import KafkaSecurity, SaslMechanism, SecurityProtocol

Environment = Literal["development", "test", "production"]
DEFAULT_RUNTIME_ROLE = "tansiq_app"
# Variables whose presence says the process is deployed, not on a developer's machine.
DEPLOYMENT_SIGNALS = ("KUBERNETES_SERVICE_HOST",)

# Credentials and keys that exist only for a developer's machine; never acceptable in production.
DEVELOPMENT_DATABASE_PASSWORDS = frozenset({"tansiq", "postgres", "password", ""})


def _shared(name: str) -> AliasChoices:
    return AliasChoices(name)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    environment: Environment = Field("development", validation_alias=_shared("TANSIQ_ENV"))
    log_level: str = Field("INFO", validation_alias=_shared("LOG_LEVEL"))

    database_url: str = "postgresql+asyncpg://tansiq:tansiq@127.0.0.1:55432/tansiq"
    # The owner role `tansiq migrate` connects as (<SERVICE>_MIGRATION_DATABASE_URL); unset: the
    # runtime URL above. The running service should not own its tables (see migrations.py).
    migration_database_url: str | None = None
    # The role the running service connects as; migrations grant it DML on the service's tables
    # and only SELECT/INSERT on the audit log (<SERVICE>_DATABASE_RUNTIME_ROLE).
    database_runtime_role: str = DEFAULT_RUNTIME_ROLE
    database_pool_size: int = 10
    database_max_overflow: int = 10
    # Connections of the reads on the driver (tansiq_common.pool.DriverPool), besides the
    # engine's pool_size + max_overflow; opened as needed.
    database_read_pool_size: int = Field(10, ge=1)
    # Connections of the requests' units of work (their writes), likewise.
    database_write_pool_size: int = Field(10, ge=1)
    database_statement_timeout_ms: int = 30_000
    # How long a request waits for a free connection before answering 503 with Retry-After.
    database_pool_timeout_s: float = Field(5.0, gt=0)

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=_shared("KAFKA_BOOTSTRAP_SERVERS")
    )
    kafka_security_protocol: SecurityProtocol = Field(
        "PLAINTEXT", validation_alias=_shared("KAFKA_SECURITY_PROTOCOL")
    )
    kafka_sasl_mechanism: SaslMechanism = Field(
        "SCRAM-SHA-512", validation_alias=_shared("KAFKA_SASL_MECHANISM")
    )
    kafka_sasl_username: str | None = Field(None, validation_alias=_shared("KAFKA_SASL_USERNAME"))
    kafka_sasl_password: SecretStr | None = Field(
        None, validation_alias=_shared("KAFKA_SASL_PASSWORD")
    )
    kafka_ssl_cafile: Path | None = Field(None, validation_alias=_shared("KAFKA_SSL_CAFILE"))
    topic_prefix: str = Field("", validation_alias=_shared("TOPIC_PREFIX"))
    # The relay and the consumers run inside the service process; a replica can opt out.
    run_relay: bool = True
    run_consumers: bool = True

    auth_jwks_url: str | None = Field(None, validation_alias=_shared("AUTH_JWKS_URL"))
    auth_jwks_file: Path | None = Field(None, validation_alias=_shared("AUTH_JWKS_FILE"))
    auth_issuer: str = Field("tansiq-dev", validation_alias=_shared("AUTH_ISSUER"))
    auth_audience: str = Field("tansiq", validation_alias=_shared("AUTH_AUDIENCE"))
    # JWKS from a URL: refetched this often, so a key the identity provider removed stops being
    # trusted within this time; while the provider cannot be reached, cached keys are trusted
    # at most auth_jwks_max_stale_s after the last successful fetch, then every token is refused.
    auth_jwks_refresh_s: float = Field(300.0, gt=0, validation_alias=_shared("AUTH_JWKS_REFRESH_S"))
    auth_jwks_max_stale_s: float = Field(
        3600.0, gt=0, validation_alias=_shared("AUTH_JWKS_MAX_STALE_S")
    )

    max_body_bytes: int = 1_048_576
    idempotency_ttl_hours: int = 24

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _async_driver(cls, url: str | None) -> str | None:
        # Operators hand us the plain URI their platform gives (CloudNativePG's `uri`).
        if url is None:
            return None
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+asyncpg://" + url.removeprefix(plain)
        return url

    @field_validator("database_runtime_role")
    @classmethod
    def _plain_role_name(cls, role: str) -> str:
        # It is written into GRANT statements: a plain lower-case identifier only.
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
            raise ValueError("the runtime role must be a plain lower-case PostgreSQL identifier")
        return role

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> ServiceSettings:
        self.kafka_security()  # raises on SASL without credentials
        return self

    @model_validator(mode="after")
    def _deployed_processes_name_their_environment(self) -> ServiceSettings:
        if "environment" in self.model_fields_set:
            return self
        signals = [name for name in DEPLOYMENT_SIGNALS if os.environ.get(name)]
        if self.auth_jwks_url:
            signals.append("AUTH_JWKS_URL")
        if signals:
            raise ValueError(
                f"TANSIQ_ENV is not set but {', '.join(signals)} says this process is deployed: "
                "set TANSIQ_ENV=production (or development/test for a cluster of that kind)"
            )
        return self

    @model_validator(mode="after")
    def _production_fails_closed(self) -> ServiceSettings:
        if self.environment != "production":
            return self
        problems = []
        if self.auth_jwks_file is not None:
            problems.append("AUTH_JWKS_FILE (the development key) is not allowed in production")
        if not self.auth_jwks_url:
            problems.append("AUTH_JWKS_URL is required in production")
        elif urlsplit(self.auth_jwks_url).scheme != "https":
            problems.append("AUTH_JWKS_URL must be an https URL in production")
        if _password_of(self.database_url) in DEVELOPMENT_DATABASE_PASSWORDS:
            problems.append("the database password is a development default")
        if (
            self.migration_database_url is not None
            and _password_of(self.migration_database_url) in DEVELOPMENT_DATABASE_PASSWORDS
        ):
            problems.append("the migration database password is a development default")
        if not self.kafka_security().uses_tls:
            problems.append("KAFKA_SECURITY_PROTOCOL must be SSL or SASL_SSL in production")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def migration_url(self) -> str:
        """The URL migrations run with: the owner role, when it is set apart."""
        return self.migration_database_url or self.database_url

    def kafka_security(self) -> KafkaSecurity:
        """What every Kafka client of the service authenticates with."""
        return KafkaSecurity.from_settings(self)

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"


def _password_of(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).password or ""
