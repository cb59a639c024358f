"""Small Kafka helpers shared by the relay and the consumer runner."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer

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


def idempotent_producer(bootstrap: str, client_id: str, **options: Any) -> AIOKafkaProducer:
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
        bootstrap_servers=bootstrap, client_id=client_id, **{**defaults, **options}
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
