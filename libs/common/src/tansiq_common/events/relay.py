"""The outbox relay: publishes committed outbox rows to Kafka in commit order, then marks them sent.

- One active relay per service: the one holding a PostgreSQL session advisory lock. The lock lives
  on the relay's own connection, so a relay that dies (even by SIGKILL) releases it when its
  connection closes and a standby, which retries the lock every second, takes over.
- The cursor is ``sent_at IS NULL ORDER BY seq``, never "seq greater than the last one sent":
  sequence values are taken at insert and can commit out of order, so a row with a lower seq may
  become visible after a higher one was sent; it is still unsent and is picked up next time.
- Delivery is at least once: a relay killed after Kafka acked but before it marked the rows sends
  them again. Consumers deduplicate by ce_id (the row's id), so the effect is exactly once.
- Kafka down: the batch fails, the relay backs off and retries with a fresh producer; writes only
  insert rows, so the API never waits for Kafka.

Run in the app process with ``relay_component(service)``, or alone:
``python -m tansiq_common.events.relay --service registry [--database-url URL]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import FastAPI
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from tansiq_common.app import Component
from tansiq_common.background import running_in_background, sleep_unless
from tansiq_common.events import metrics
from tansiq_common.events.envelope import cloudevent_headers
from tansiq_common.events.kafka import (
    Backoff,
    KafkaSecurity,
    add_kafka_check,
    idempotent_producer,
)
from tansiq_common.events.outbox import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

PRUNE_CHUNK = 10_000


class RelaySettings(BaseSettings):
    """Tuning, from RELAY_* variables; the defaults suit every service."""

    model_config = SettingsConfigDict(env_prefix="RELAY_", extra="ignore")

    batch_size: int = 500
    poll_interval_s: float = 1.0  # fallback when a NOTIFY is missed
    standby_interval_s: float = 1.0  # how often a standby tries the lock: the takeover delay
    retention_days: float = 7.0  # sent rows are deleted after this
    prune_interval_s: float = 300.0
    metrics_interval_s: float = 5.0
    request_timeout_ms: int = 15_000
    max_backoff_s: float = 10.0


def lock_key(service: str) -> int:
    """A stable signed 64-bit advisory lock key per service."""
    digest = hashlib.sha256(f"tansiq.relay.{service}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PublishFailed(Exception):
    pass


@dataclass
class Relay:
    service: str
    database_url: str
    bootstrap: str
    topic_prefix: str = ""
    settings: RelaySettings = field(default_factory=RelaySettings)
    producer_options: dict[str, Any] = field(default_factory=dict)
    security: KafkaSecurity = field(default_factory=KafkaSecurity.from_env)
    # Test hook: called after Kafka acked a batch and before the rows are marked sent.
    after_ack: Any = None

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: stand by for the lock, then publish while holding it."""
        backoff = Backoff(maximum=self.settings.max_backoff_s)
        key = lock_key(self.service)
        while not stop.is_set():
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    asyncpg_dsn(self.database_url),
                    server_settings={"application_name": f"tansiq-relay-{self.service}"},
                )
                while not stop.is_set():
                    locked = await conn.fetchval("select pg_try_advisory_lock($1)", key)
                    if locked:
                        log.info("relay active", extra={"service": self.service})
                        metrics.RELAY_ACTIVE.labels(self.service).set(1)
                        await self._lead(conn, stop)
                        backoff.reset()
                    elif await sleep_unless(stop, self.settings.standby_interval_s):
                        break
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("relay lost its database connection: %s", exc)
                await sleep_unless(stop, backoff.next())
            finally:
                metrics.RELAY_ACTIVE.labels(self.service).set(0)
                if conn is not None:
                    # Closing the session releases the advisory lock for a standby.
                    with suppress(Exception):
                        await asyncio.wait_for(conn.close(), 5)

    async def _lead(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        wake = asyncio.Event()

        def notified(*_: object) -> None:
            wake.set()

        await conn.add_listener(NOTIFY_CHANNEL, notified)
        producer: AIOKafkaProducer | None = None
        backoff = Backoff(maximum=self.settings.max_backoff_s)
        loop = asyncio.get_running_loop()
        next_metrics = next_prune = loop.time()
        try:
            while not stop.is_set():
                if loop.time() >= next_metrics:
                    await self._update_metrics(conn)
                    next_metrics = loop.time() + self.settings.metrics_interval_s
                if loop.time() >= next_prune:
                    await self.prune(conn)
                    next_prune = loop.time() + self.settings.prune_interval_s
                wake.clear()
                try:
                    if producer is None:
                        producer = await self._start_producer()
                    sent = await self.publish_batch(conn, producer)
                    backoff.reset()
                except (KafkaError, PublishFailed, TimeoutError) as exc:
                    metrics.OUTBOX_PUBLISH_ERRORS.labels(self.service).inc()
                    log.warning("relay cannot publish, retrying: %r", exc)
                    # A failed idempotent producer may hold stale sequence state; start afresh.
                    await _stop_producer(producer)
                    producer = None
                    await sleep_unless(stop, backoff.next())
                    continue
                if sent < self.settings.batch_size:
                    await _wait_any(stop, wake, self.settings.poll_interval_s)
        finally:
            await _stop_producer(producer)
            with suppress(Exception):
                await conn.remove_listener(NOTIFY_CHANNEL, notified)

    async def _start_producer(self) -> AIOKafkaProducer:
        producer = idempotent_producer(
            self.bootstrap,
            f"tansiq-relay-{self.service}",
            security=self.security,
            request_timeout_ms=self.settings.request_timeout_ms,
            **self.producer_options,
        )
        try:
            await producer.start()
        except BaseException:
            await _stop_producer(producer)
            raise
        return producer

    async def publish_batch(self, conn: asyncpg.Connection, producer: AIOKafkaProducer) -> int:
        """Send the oldest pending rows, wait for every ack, mark the acked ones sent."""
        rows = await conn.fetch(
            "select id, aggregateid, type, payload::text as payload, topic, headers::text as"
            " headers, created_at from outbox where sent_at is null order by seq limit $1",
            self.settings.batch_size,
        )
        if not rows:
            return 0
        pending: list[tuple[Any, asyncio.Future[Any]]] = []
        failure: BaseException | None = None
        try:
            for row in rows:
                future = await producer.send(
                    f"{self.topic_prefix}{row['topic']}",
                    value=row["payload"].encode(),
                    key=row["aggregateid"].encode(),
                    headers=self._headers(row["id"], row, json.loads(row["headers"] or "{}")),
                )
                pending.append((row["id"], future))
        except (KafkaError, TimeoutError) as exc:
            failure = exc  # rows not handed to the producer stay pending
        results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        acked = [row_id for (row_id, _), r in zip(pending, results, strict=True) if not _failed(r)]
        errors = [r for r in results if _failed(r)]
        if self.after_ack is not None:
            await self.after_ack(acked)
        if acked:
            await conn.execute(
                "update outbox set sent_at = now() where id = any($1::uuid[])", acked
            )
            metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(acked))
        if errors or failure is not None:
            reason = repr(failure or errors[0])
            failed = [row_id for (row_id, _), r in zip(pending, results, strict=True) if _failed(r)]
            if failed:
                await conn.execute(
                    "update outbox set attempts = attempts + 1, last_error = $2"
                    " where id = any($1::uuid[])",
                    failed,
                    reason[:1000],
                )
            raise PublishFailed(reason)
        return len(rows)

    def _headers(
        self, row_id: Any, row: asyncpg.Record, stored: dict[str, Any]
    ) -> list[tuple[str, bytes]]:
        created_at: datetime = row["created_at"]
        extra = {k: str(v) for k, v in stored.items() if k != "traceparent"}
        return cloudevent_headers(
            event_id=str(row_id),
            service=self.service,
            event_type=row["type"],
            time=created_at,
            subject=row["aggregateid"],
            traceparent=stored.get("traceparent"),
            extra=extra,
        )

    async def prune(self, conn: asyncpg.Connection) -> int:
        """Delete sent rows past the retention, in chunks so no lock is held long."""
        total = 0
        while True:
            status = await conn.execute(
                "delete from outbox where id in (select id from outbox where sent_at is not null"
                " and sent_at < now() - make_interval(secs => $1) limit $2)",
                self.settings.retention_days * 86400,
                PRUNE_CHUNK,
            )
            deleted = int(status.split()[-1])
            total += deleted
            if deleted < PRUNE_CHUNK:
                break
        if total:
            metrics.OUTBOX_PRUNED.labels(self.service).inc(total)
        return total

    async def _update_metrics(self, conn: asyncpg.Connection) -> None:
        row = await conn.fetchrow(
            "select count(*) as depth, coalesce(extract(epoch from now() - min(created_at)), 0)"
            " as age from outbox where sent_at is null"
        )
        if row is not None:
            metrics.OUTBOX_DEPTH.labels(self.service).set(row["depth"])
            metrics.OUTBOX_OLDEST_UNSENT_AGE.labels(self.service).set(float(row["age"]))


def _failed(result: object) -> bool:
    return isinstance(result, BaseException)


async def _stop_producer(producer: AIOKafkaProducer | None) -> None:
    if producer is not None:
        with suppress(Exception):
            await asyncio.wait_for(producer.stop(), 10)


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, wait_s: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


@asynccontextmanager
async def running_relay(relay: Relay, grace_s: float = 20) -> AsyncIterator[Relay]:
    """The relay as a background task; on exit it finishes its batch and releases the lock."""
    stop = asyncio.Event()
    async with running_in_background(
        relay.run(stop), stop, name=f"relay-{relay.service}", grace_s=grace_s
    ):
        yield relay


def relay_component(service: str) -> Component:
    """For ``create_service_app(components=[...])``: the relay runs as a background task."""

    @asynccontextmanager
    async def component(app: FastAPI) -> AsyncIterator[None]:
        settings = app.state.settings
        bootstrap = settings.kafka_bootstrap_servers
        add_kafka_check(app, bootstrap)
        if not settings.run_relay:
            yield
            return
        relay = Relay(
            service=service,
            database_url=app.state.db.url,
            bootstrap=bootstrap,
            topic_prefix=settings.topic_prefix,
            security=settings.kafka_security(),
        )
        async with running_relay(relay):
            yield

    return component


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a service's outbox relay alone.")
    parser.add_argument("--service", required=True)
    parser.add_argument(
        "--database-url", help="default: <SERVICE>_DATABASE_URL from the environment"
    )
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    parser.add_argument("--topic-prefix", default=os.environ.get("TOPIC_PREFIX", ""))
    args = parser.parse_args(argv)
    url = args.database_url or os.environ.get(f"{args.service.upper()}_DATABASE_URL")
    if not url:
        parser.error(f"--database-url or {args.service.upper()}_DATABASE_URL is required")
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
    relay = Relay(
        service=args.service,
        database_url=url,
        bootstrap=args.bootstrap or "127.0.0.1:9092",
        topic_prefix=args.topic_prefix,
    )
    asyncio.run(_run_until_signalled(relay))


async def _run_until_signalled(relay: Relay) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await relay.run(stop)


if __name__ == "__main__":
    main()
