"""Small Kafka helpers shared by the relay and the consumer runner."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast, get_args

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.helpers import create_ssl_context

from tansiq_common.health import add_advisory_check

log = logging.getLogger(__name__)

T = TypeVar("T")


def bootstrap_hosts(bootstrap: str) -> list[tuple[str, int]]:
    hosts = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        hosts.append((host.strip("[]") or "127.0.0.1", int(port or 9092)))
    return hosts


async def kafka_reachable(bootstrap: str, wait_s: float = 1.5) -> None:
    """Readiness check: some bootstrap broker accepts a TCP connection (raises if none does)."""
    errors: list[str] = []
    for host, port in bootstrap_hosts(bootstrap):
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), wait_s)
        except (OSError, TimeoutError) as exc:
            errors.append(f"{host}:{port}: {exc}")
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
    raise ConnectionError("no Kafka broker reachable: " + "; ".join(errors))


SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
SECURITY_PROTOCOLS: tuple[str, ...] = get_args(SecurityProtocol)
SASL_MECHANISMS: tuple[str, ...] = get_args(SaslMechanism)


@dataclass(frozen=True)
class KafkaSecurity:
    """How every Kafka client of a process authenticates: plaintext on a developer's loopback,
    TLS + SCRAM-SHA-512 on Kubernetes (Strimzi listener, one KafkaUser per service).

    The fields are the KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME,
    KAFKA_SASL_PASSWORD and KAFKA_SSL_CAFILE settings (see ``ServiceSettings``).
    """

    protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = None
    cafile: str | None = None  # the cluster CA (PEM); None: the system's trust store

    def __post_init__(self) -> None:
        if self.protocol not in SECURITY_PROTOCOLS:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL must be one of {SECURITY_PROTOCOLS}")
        if self.sasl_mechanism not in SASL_MECHANISMS:
            raise ValueError(f"KAFKA_SASL_MECHANISM must be one of {SASL_MECHANISMS}")
        if self.uses_sasl and not (self.username and self.password):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.protocol} needs KAFKA_SASL_USERNAME and "
                "KAFKA_SASL_PASSWORD"
            )

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KafkaSecurity:
        """From the environment: what a CLI command or a relay run alone uses."""
        env = os.environ if environ is None else environ
        return cls(
            # Checked by __post_init__: a value outside the Literal is refused there.
            protocol=cast(
                SecurityProtocol, env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper()
            ),
            sasl_mechanism=cast(
                SaslMechanism, env.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512").upper()
            ),
            username=env.get("KAFKA_SASL_USERNAME") or None,
            password=env.get("KAFKA_SASL_PASSWORD") or None,
            cafile=env.get("KAFKA_SSL_CAFILE") or None,
        )

    @classmethod
    def from_settings(cls, settings: Any) -> KafkaSecurity:
        """From a ``ServiceSettings`` (read by attribute, so this module needs no settings)."""
        password = settings.kafka_sasl_password
        return cls(
            protocol=settings.kafka_security_protocol,
            sasl_mechanism=settings.kafka_sasl_mechanism,
            username=settings.kafka_sasl_username,
            password=password.get_secret_value() if password is not None else None,
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
        )

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for any aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_tls:
            options["ssl_context"] = create_ssl_context(cafile=self.cafile)
        if self.uses_sasl:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.password
        return options

    def __repr__(self) -> str:  # never the password in a log line
        return (
            f"KafkaSecurity(protocol={self.protocol!r}, sasl_mechanism={self.sasl_mechanism!r}, "
            f"username={self.username!r}, cafile={self.cafile!r})"
        )


def kafka_client_options(security: KafkaSecurity | None = None) -> dict[str, Any]:
    """The security options every aiokafka client takes; from the environment by default."""
    return (security if security is not None else KafkaSecurity.from_env()).client_options()


def idempotent_producer(
    bootstrap: str,
    client_id: str,
    *,
    security: KafkaSecurity | None = None,
    **options: Any,
) -> AIOKafkaProducer:
    """acks=all + idempotence: an acked event is on every in-sync replica, once, in order."""
    defaults: dict[str, Any] = {
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "request_timeout_ms": 15_000,
        "retry_backoff_ms": 200,
    }
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        **kafka_client_options(security),
        **{**defaults, **options},
    )


def group_consumer(
    bootstrap: str, *, security: KafkaSecurity | None = None, **options: Any
) -> AIOKafkaConsumer:
    """A consumer with the process's Kafka security (the group or assignment is the caller's)."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap, **kafka_client_options(security), **options
    )


def admin_client(
    bootstrap: str, client_id: str, *, security: KafkaSecurity | None = None
) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id=client_id, **kafka_client_options(security)
    )


class Backoff:
    """Exponential backoff with jitter, reset after a success."""

    def __init__(self, initial: float = 0.2, maximum: float = 30.0) -> None:
        self.initial, self.maximum, self.attempt = initial, maximum, 0

    def next(self) -> float:
        delay = min(self.maximum, self.initial * 2**self.attempt)
        self.attempt += 1
        return float(delay * random.uniform(0.75, 1.25))  # noqa: S311 - jitter, not crypto

    def reset(self) -> None:
        self.attempt = 0


def add_kafka_check(app: Any, bootstrap: str) -> None:
    """Report the broker in /health/ready without failing it (see tansiq_common.health)."""

    async def kafka() -> None:
        await kafka_reachable(bootstrap)

    add_advisory_check(app, "kafka", kafka)
