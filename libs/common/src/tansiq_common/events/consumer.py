"""The consumer runner: a consumer-group loop that applies each event's effect exactly once.

For each message, in partition order:
1. decode the CloudEvent (undecodable or invalid: straight to ``<topic>.dlq``);
2. check it is authentic: its ``ce_source`` is the topic's one producer and its ``ce_type`` one
   the catalogue lists for the topic (``events.contracts``); if not, straight to the DLQ with
   ``dlq_reason`` ``wrong-source`` or ``unknown-type``, so a forged or misrouted event never
   reaches a read model, live or on replay; a message re-driven from the DLQ more than
   ``CONSUMER_MAX_REDRIVES`` times goes straight back there too (``redrive-limit``);
3. in one transaction, record the event id in ``processed_events`` and run the handler; an id
   already recorded means a redelivery, and nothing is run;
4. only after that transaction committed is the offset committed (auto commit is off).
A crash between 3 and 4 redelivers the message, which step 3 makes a no-op.

Handlers take ``(session, envelope)``; a spec with ``uses_uow=True`` gets ``(uow, envelope)``
instead: a unit of work inside the consumer's transaction (actor ``consumer:<spec name>``, the
event id as request id), so a consumer can publish events and write audit rows that commit with
its read-model change.

Batches: the records of one partition fetched together are applied in one transaction. A spec
may also give a ``batch_handler``, taking ``(session or uow, envelopes)``: the new events of a
whole fetch (every partition's records, each partition's in order) at once, their ids recorded
in ``processed_events`` in one statement first. It returns the events it refuses (id →
InvalidEvent), which must have written nothing: their ids are forgotten and they go to the DLQ
(``invalid``, with the reason) once the rest has committed, together with the batch's
undecodable or unauthentic messages. Anything else going wrong rolls
the batch back and its records go one at a time through the per-event handlers, so a poison
message is isolated without losing the rest. A batch handler sets the request id and trace of
what each event causes itself (several events share the transaction).

Errors: an outage (database or broker unreachable) is retried with backoff for as long as it lasts,
since the event is fine and dead-lettering it would lose it; any other handler error is retried
``max_attempts`` times, then the message goes to the DLQ with headers naming the error and its
origin, and the consumer moves on. It never stalls on a poison message.

Group id: ``f"{TOPIC_PREFIX}{service}.{spec.name}"``; ``processed_events.consumer``: ``spec.name``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Literal

import pydantic
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from fastapi import FastAPI
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tansiq_common.app import Component
from tansiq_common.background import Stopped, running_in_background, sleep_unless, unless_stopped
from tansiq_common.context import request_id_var, traceparent_var
from tansiq_common.events import metrics
from tansiq_common.events.contracts import TopicContract, contract_for
from tansiq_common.events.envelope import Envelope, InvalidEvent, KafkaRecord
from tansiq_common.events.kafka import (
    Backoff,
    KafkaSecurity,
    add_kafka_check,
    group_consumer,
    idempotent_producer,
)
from tansiq_common.events.redrive import DEFAULT_MAX_REDRIVES, redrive_count
from tansiq_common.events.topics import dlq_name
from tansiq_common.schema import processed_events
from tansiq_common.tracing import consumer_span, tracer_for
from tansiq_common.uow import SystemActor, UnitOfWork

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
UowHandler = Callable[[UnitOfWork, Envelope], Awaitable[None]]
# What a spec's handlers map holds: Handlers, or UowHandlers when the spec says uses_uow.
AnyHandler = Callable[[Any, Envelope], Awaitable[None]]
# (session or uow, the batch's new events) → the events refused, by id, each having written
# nothing.
BatchHandler = Callable[[Any, Sequence[Envelope]], Awaitable[Mapping[str, InvalidEvent]]]
Outcome = Literal["applied", "duplicate", "ignored", "dead-lettered"]


class Refused(InvalidEvent):
    """An event this consumer must not apply; ``reason`` becomes the DLQ's ``dlq_reason``."""

    def __init__(self, reason: str, explanation: str) -> None:
        super().__init__(explanation)
        self.reason = reason


class Unauthentic(Refused):
    """The event does not come from its topic's producer, or is of a type it does not emit."""


# Errors that say the event itself is wrong: retrying cannot help.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (InvalidEvent, pydantic.ValidationError)


@dataclass(frozen=True)
class ConsumerSpec:
    name: str  # e.g. "agreements.organizations"
    topics: Sequence[str]  # logical names; TOPIC_PREFIX is added from the settings
    # By ce_type; "*" handles any type the topic's contract lists. (session, envelope), or
    # (uow, envelope) with uses_uow=True.
    handlers: Mapping[str, AnyHandler]
    tables: Sequence[str] = ()  # the read-model tables `tansiq replay` empties
    uses_uow: bool = False
    # The new events of a fetched batch at once (see the module's docstring); `handlers` still
    # serve when a batch falls back to one event at a time, and name the types handled.
    batch_handler: BatchHandler | None = None
    # How many records a fetch may bring, when not CONSUMER_MAX_RECORDS: a batch handler applies
    # a fetch in one transaction, whose fixed costs (commit, offsets, lookups) larger ones share.
    max_records: int | None = None
    # Contracts of topics that tansiq_common.events.contracts does not list (tests, benchmarks).
    contracts: Mapping[str, TopicContract] = field(default_factory=dict)

    def contract(self, topic: str) -> TopicContract:
        return contract_for(topic, self.contracts)


# A batch's event ids recorded in one statement, the values as arrays (four parameters whatever
# the batch's size); the ids recorded now are returned.
_RECORD_MANY = sa.text(
    'INSERT INTO processed_events (consumer, event_id, topic, partition, "offset") '
    "SELECT :consumer, * FROM unnest(:event_ids, :topics, :partitions, :offsets) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
).bindparams(
    sa.bindparam("event_ids", type_=ARRAY(sa.Text)),
    sa.bindparam("topics", type_=ARRAY(sa.Text)),
    sa.bindparam("partitions", type_=ARRAY(sa.Integer)),
    sa.bindparam("offsets", type_=ARRAY(sa.BigInteger)),
)


class ConsumerSettings(BaseSettings):
    """Tuning, from CONSUMER_* variables."""

    model_config = SettingsConfigDict(env_prefix="CONSUMER_", extra="ignore")

    max_attempts: int = 5
    initial_backoff_s: float = 0.2
    max_backoff_s: float = 10.0
    max_records: int = 500
    fetch_timeout_ms: int = 1000
    fetch_max_wait_ms: int = 100  # how long the broker holds an empty fetch: bounds latency
    session_timeout_ms: int = 30_000
    # Times a dead letter may be sent back to its topic (`tansiq events redrive`); a message
    # re-driven more often is dead-lettered at once (dlq_reason redrive-limit).
    max_redrives: int = DEFAULT_MAX_REDRIVES


# Every spec a process built a component for, so `tansiq replay <name>` can find it.
CONSUMERS: dict[str, ConsumerSpec] = {}


def group_id(topic_prefix: str, service: str, spec: ConsumerSpec) -> str:
    return f"{topic_prefix}{service}.{spec.name}"


@dataclass
class ConsumerRunner:
    spec: ConsumerSpec
    service: str
    sessionmaker: async_sessionmaker[AsyncSession]
    bootstrap: str
    topic_prefix: str = ""
    settings: ConsumerSettings = field(default_factory=ConsumerSettings)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    security: KafkaSecurity = field(default_factory=KafkaSecurity.from_env)
    _dlq: AIOKafkaProducer | None = None

    def __post_init__(self) -> None:
        # Fail at start, not per message: a consumer of a topic without a known producer could
        # only dead-letter everything.
        self._contracts = {
            f"{self.topic_prefix}{topic}": self.spec.contract(topic) for topic in self.spec.topics
        }
        self._tracer = tracer_for(self.service)  # None when tracing is off

    @property
    def topics(self) -> list[str]:
        return [f"{self.topic_prefix}{topic}" for topic in self.spec.topics]

    @property
    def group_id(self) -> str:
        return group_id(self.topic_prefix, self.service, self.spec)

    # -- one message ------------------------------------------------------------------------

    async def process(self, record: KafkaRecord) -> Outcome:
        """Apply one message exactly once, or dead-letter it; raise only when stopping."""
        try:
            envelope = self._authentic(record)
        except Refused as exc:
            await self._dead_letter(record, exc, exc.reason, attempts=0)
            return "dead-lettered"
        except InvalidEvent as exc:
            await self._dead_letter(record, exc, "invalid", attempts=0)
            return "dead-lettered"
        handler = self._handler_for(envelope)
        if handler is None:
            return "ignored"
        backoff = Backoff(self.settings.initial_backoff_s, self.settings.max_backoff_s)
        attempts = 0
        while True:
            try:
                applied = await self._apply(envelope, handler)
            except PERMANENT_ERRORS as exc:
                await self._dead_letter(record, exc, "invalid", attempts=attempts + 1)
                return "dead-lettered"
            except Exception as exc:
                if is_outage(exc):
                    log.warning("consumer %s waits out an outage: %r", self.spec.name, exc)
                else:
                    attempts += 1
                    metrics.CONSUMER_RETRIES.labels(self.service, self.spec.name).inc()
                    log.warning(
                        "consumer %s failed on %s (attempt %d): %r",
                        self.spec.name,
                        envelope.id,
                        attempts,
                        exc,
                    )
                    if attempts >= self.settings.max_attempts:
                        await self._dead_letter(record, exc, "failed", attempts=attempts)
                        return "dead-lettered"
                if await sleep_unless(self.stop, backoff.next()):
                    raise Stopped from exc
                continue
            outcome: Outcome = "applied" if applied else "duplicate"
            self._count(record, outcome)
            return outcome

    async def process_batch(self, records: Sequence[KafkaRecord]) -> list[Outcome]:
        """Apply one partition's fetched records in one transaction: one commit, not one per
        event. Anything unusual in the batch (a failing handler, an outage; without a batch
        handler, an invalid message too) rolls it all back and the records go one at a time
        through `process`, which retries, dead-letters and deduplicates each on its own.
        Returns each record's outcome, in order."""
        if self.spec.batch_handler is not None:
            try:
                outcomes, refused = await self._apply_batch(records)
            except Exception as exc:
                log.info("consumer %s applies a batch one by one: %r", self.spec.name, exc)
            else:
                # After the commit, before the offsets move past them.
                for record, error, reason, attempts in refused:
                    await self._dead_letter(record, error, reason, attempts=attempts)
                return outcomes
        elif len(records) > 1:
            try:
                outcomes = await self._apply_together(records)
            except Exception as exc:
                log.info("consumer %s applies a batch one by one: %r", self.spec.name, exc)
            else:
                for record, outcome in zip(records, outcomes, strict=True):
                    self._count(record, outcome)
                return outcomes
        return [await self.process(record) for record in records]

    async def _apply_together(self, records: Sequence[KafkaRecord]) -> list[Outcome]:
        envelopes = [self._authentic(record) for record in records]
        handled = [(p, e, h) for p, e in enumerate(envelopes) if (h := self._handler_for(e))]
        outcomes: list[Outcome] = ["ignored"] * len(records)
        async with self.sessionmaker() as session, session.begin():
            # Every id recorded in one statement, not one round trip per event.
            new_ids = await self._record_many(session, [e for _, e, _ in handled])
            for position, envelope, handler in handled:
                new = envelope.id in new_ids
                new_ids.discard(envelope.id)  # a second copy in the batch is a duplicate
                applied = await self._apply_in(session, envelope, handler, new=new)
                outcomes[position] = "applied" if applied else "duplicate"
        return outcomes

    async def _apply_batch(
        self, records: Sequence[KafkaRecord]
    ) -> tuple[list[Outcome], list[tuple[KafkaRecord, BaseException, str, int]]]:
        """The batch handler's way: the batch's new events applied at once in one transaction.
        Returns each record's outcome, and the messages to dead-letter, in partition order:
        (record, error, reason, attempts)."""
        assert self.spec.batch_handler is not None
        refused: dict[int, tuple[BaseException, str, int]] = {}  # by position in `records`
        handled: list[tuple[int, Envelope]] = []
        for position, record in enumerate(records):
            try:
                envelope = self._authentic(record)
            except Refused as exc:
                refused[position] = (exc, exc.reason, 0)
                continue
            except InvalidEvent as exc:
                refused[position] = (exc, "invalid", 0)
                continue
            if self._handler_for(envelope) is not None:
                handled.append((position, envelope))
        fresh: dict[str, tuple[int, Envelope]] = {}
        rejected: Mapping[str, InvalidEvent] = {}
        async with self.sessionmaker() as session, session.begin():
            new_ids = await self._record_many(session, [e for _, e in handled])
            for position, envelope in handled:
                if envelope.id in new_ids and envelope.id not in fresh:
                    fresh[envelope.id] = (position, envelope)
            if fresh:
                envelopes = [e for _, e in fresh.values()]
                if self.spec.uses_uow:
                    uow = UnitOfWork.within(session, SystemActor(sub=f"consumer:{self.spec.name}"))
                    rejected = await self.spec.batch_handler(uow, envelopes)
                    await uow.flush_side_effects()
                else:
                    rejected = await self.spec.batch_handler(session, envelopes)
                if rejected:
                    # Refused events wrote nothing; once fixed and re-driven, they apply.
                    await session.execute(
                        sa.delete(processed_events).where(
                            processed_events.c.consumer == self.spec.name,
                            processed_events.c.event_id.in_(list(rejected)),
                        )
                    )
        for event_id, error in rejected.items():
            refused[fresh[event_id][0]] = (error, "invalid", 1)
        outcomes: list[Outcome] = ["ignored"] * len(records)
        for position, envelope in handled:
            if position in refused:
                continue
            if fresh.get(envelope.id, (None,))[0] == position:
                outcomes[position] = "applied"
                self._trace_applied(envelope)
            else:
                outcomes[position] = "duplicate"
            self._count(records[position], outcomes[position])
        for position in refused:
            outcomes[position] = "dead-lettered"
        return outcomes, [(records[p], *refused[p]) for p in sorted(refused)]

    async def _record_many(self, session: AsyncSession, envelopes: Sequence[Envelope]) -> set[str]:
        """Record the events' ids as processed in one statement; the ids recorded now (those
        not applied before)."""
        if not envelopes:
            return set()
        result = await session.execute(
            _RECORD_MANY,
            {
                "consumer": self.spec.name,
                "event_ids": [e.id for e in envelopes],
                "topics": [e.topic for e in envelopes],
                "partitions": [e.partition for e in envelopes],
                "offsets": [e.offset for e in envelopes],
            },
        )
        return set(result.scalars())

    def _trace_applied(self, envelope: Envelope) -> None:
        """With tracing on, a span per event applied in a batch, in the producer's trace."""
        if self._tracer is None:
            return
        attributes = {**self._span_attributes(envelope), "tansiq.outcome": "applied"}
        with consumer_span(
            self._tracer, topic=envelope.topic, headers=envelope.headers, attributes=attributes
        ):
            pass

    def _span_attributes(self, envelope: Envelope) -> dict[str, Any]:
        return {
            "messaging.consumer.group.name": self.group_id,
            "messaging.destination.partition.id": str(envelope.partition),
            "messaging.kafka.offset": envelope.offset,
            "messaging.message.id": envelope.id,
            "cloudevents.event_type": envelope.type,
            "cloudevents.event_source": envelope.source,
            "tansiq.consumer": self.spec.name,
        }

    def _authentic(self, record: KafkaRecord) -> Envelope:
        """The decoded event, if its topic's producer sent it and the type is the topic's;
        raises InvalidEvent (Unauthentic) otherwise."""
        envelope = Envelope.from_record(record)
        contract = self._contracts.get(record.topic)
        if contract is None:  # a topic the spec does not name: nothing vouches for it
            raise Unauthentic("wrong-source", f"{record.topic} is not a topic of this consumer")
        violation = contract.violation(envelope.source, envelope.type)
        if violation is not None:
            raise Unauthentic(*violation)
        # A re-driven message that keeps failing goes back to the DLQ and, past the bound,
        # stays there: no loop between a topic and its DLQ (events.redrive).
        try:
            redrives = redrive_count(envelope.headers)
        except ValueError as exc:
            raise Refused("invalid", str(exc)) from exc
        if redrives > self.settings.max_redrives:
            raise Refused(
                "redrive-limit",
                f"re-driven {redrives} times, more than CONSUMER_MAX_REDRIVES="
                f"{self.settings.max_redrives}",
            )
        return envelope

    def _handler_for(self, envelope: Envelope) -> AnyHandler | None:
        return self.spec.handlers.get(envelope.type) or self.spec.handlers.get("*")

    def _count(self, record: KafkaRecord, outcome: Outcome) -> None:
        labels = (self.service, self.spec.name, record.topic)
        if outcome == "applied":
            metrics.CONSUMER_APPLIED.labels(*labels).inc()
        elif outcome == "duplicate":
            metrics.CONSUMER_DUPLICATES.labels(*labels).inc()

    async def _apply(self, envelope: Envelope, handler: AnyHandler) -> bool:
        async with self.sessionmaker() as session, session.begin():
            new = envelope.id in await self._record_many(session, [envelope])
            return await self._apply_in(session, envelope, handler, new=new)

    async def _apply_in(
        self, session: AsyncSession, envelope: Envelope, handler: AnyHandler, *, new: bool
    ) -> bool:
        """Run the handler in `session`'s transaction if the event is `new` (its id recorded
        now, not by an earlier delivery); returns `new`. With tracing on, in a span that
        continues the producer's trace."""
        if self._tracer is None:  # off: not even the span's attributes are built
            if new:
                await self._handle(session, envelope, handler)
            return new
        with consumer_span(
            self._tracer,
            topic=envelope.topic,
            headers=envelope.headers,
            attributes=self._span_attributes(envelope),
        ) as span:
            if new:
                await self._handle(session, envelope, handler)
            if span is not None:
                span.set_attribute("tansiq.outcome", "applied" if new else "duplicate")
            return new

    async def _handle(self, session: AsyncSession, envelope: Envelope, handler: AnyHandler) -> None:
        # Audit rows and events the handler causes carry the event as their request.
        request_id = request_id_var.set(envelope.id)
        traceparent = traceparent_var.set(envelope.headers.get("traceparent"))
        try:
            if self.spec.uses_uow:
                uow = UnitOfWork.within(session, SystemActor(sub=f"consumer:{self.spec.name}"))
                await handler(uow, envelope)
                await uow.flush_side_effects()
            else:
                await handler(session, envelope)
        finally:
            traceparent_var.reset(traceparent)
            request_id_var.reset(request_id)

    async def _dead_letter(
        self, record: KafkaRecord, error: BaseException, reason: str, *, attempts: int
    ) -> None:
        headers = [(k, v) for k, v in record.headers or () if not k.startswith("dlq_")]
        headers += [
            (name, value.encode())
            for name, value in {
                "dlq_reason": reason,
                "dlq_error_type": type(error).__name__,
                "dlq_error": str(error)[:2000],
                "dlq_source_topic": record.topic,
                "dlq_source_partition": str(record.partition),
                "dlq_source_offset": str(record.offset),
                "dlq_consumer": self.spec.name,
                "dlq_attempts": str(attempts),
            }.items()
        ]
        backoff = Backoff(self.settings.initial_backoff_s, self.settings.max_backoff_s)
        while True:  # the DLQ write must succeed before the offset moves past the message
            try:
                if self._dlq is None:
                    self._dlq = idempotent_producer(
                        self.bootstrap, f"tansiq-dlq-{self.service}", security=self.security
                    )
                    await self._dlq.start()
                await self._dlq.send_and_wait(
                    dlq_name(record.topic), value=record.value, key=record.key, headers=headers
                )
                break
            except (KafkaError, TimeoutError) as exc:
                log.warning("cannot write to %s: %r", dlq_name(record.topic), exc)
                await self._close_dlq()
                if await sleep_unless(self.stop, backoff.next()):
                    raise Stopped from exc
        metrics.CONSUMER_DLQ.labels(self.service, self.spec.name, record.topic, reason).inc()
        self._trace_dead_letter(record, error, reason)
        log.error(
            "dead-lettered %s[%d]@%d: %s",
            record.topic,
            record.partition,
            record.offset,
            error,
            extra={"consumer": self.spec.name, "reason": reason},
        )

    def _trace_dead_letter(self, record: KafkaRecord, error: BaseException, reason: str) -> None:
        """A failed span in the producer's trace, so the trace shows where the event stopped."""
        if self._tracer is None:
            return
        from opentelemetry.trace import Status, StatusCode

        headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
        with consumer_span(
            self._tracer,
            topic=record.topic,
            headers=headers,
            attributes={
                "messaging.consumer.group.name": self.group_id,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
                "tansiq.consumer": self.spec.name,
                "tansiq.outcome": "dead-lettered",
                "tansiq.dlq_reason": reason,
            },
        ) as span:
            if span is not None:
                span.set_status(Status(StatusCode.ERROR, f"{reason}: {type(error).__name__}"))

    async def _close_dlq(self) -> None:
        producer, self._dlq = self._dlq, None
        if producer is not None:
            with suppress(Exception):
                await asyncio.wait_for(producer.stop(), 10)

    # -- the group loop -----------------------------------------------------------------------

    async def run(self) -> None:
        """Consume until ``self.stop`` is set; reconnect with backoff when Kafka fails."""
        backoff = Backoff(self.settings.initial_backoff_s, self.settings.max_backoff_s)
        try:
            while not self.stop.is_set():
                try:
                    await self._consume()
                    backoff.reset()
                except Stopped:
                    break
                except KafkaError as exc:
                    log.warning("consumer %s reconnects: %r", self.spec.name, exc)
                    await sleep_unless(self.stop, backoff.next())
        finally:
            await self._close_dlq()

    async def _consume(self) -> None:
        state = _GroupState()
        positions: dict[TopicPartition, int] = {}
        consumer = group_consumer(
            self.bootstrap,
            security=self.security,
            group_id=self.group_id,
            client_id=f"tansiq-{self.service}-{self.spec.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            session_timeout_ms=self.settings.session_timeout_ms,
            fetch_max_wait_ms=self.settings.fetch_max_wait_ms,
        )
        consumer.subscribe(self.topics, listener=_CommitOnRevoke(consumer, state))
        try:
            # Both calls can outlast their own timeouts (start() waits for a missing topic to be
            # created, getmany() for a rebalance to end); a stop must not wait for them.
            await unless_stopped(self.stop, consumer.start())
            while not self.stop.is_set():
                batch = await unless_stopped(
                    self.stop,
                    consumer.getmany(
                        timeout_ms=self.settings.fetch_timeout_ms,
                        max_records=self.spec.max_records or self.settings.max_records,
                    ),
                )
                async with state.lock:  # a rebalance waits for the in-flight batch
                    assigned = consumer.assignment()
                    owned = {
                        tp: records
                        for tp, records in batch.items()
                        if tp in assigned and tp not in state.revoked
                    }  # a partition revoked meanwhile is read by its new owner
                    if self.spec.batch_handler is not None and owned:
                        # Every partition's records in one batch: each partition's keep
                        # their order, and the handler applies a key's events in order.
                        await self.process_batch([r for rs in owned.values() for r in rs])
                    else:
                        for records in owned.values():
                            await self.process_batch(records)
                    for tp, records in owned.items():
                        state.pending[tp] = positions[tp] = records[-1].offset + 1
                await _commit(consumer, state)
                self._report_lag(consumer, positions)
        finally:
            try:
                await _commit(consumer, state)
            except KafkaError as exc:  # the consumer must still be closed
                log.warning("consumer %s could not commit on stop: %r", self.spec.name, exc)
            # Bounded: leaving the group can hang (e.g. on a topic that does not exist) and
            # shutdown must fit in the pod's grace period; the offsets are committed already.
            with suppress(Exception):
                await asyncio.wait_for(consumer.stop(), 5)

    def _report_lag(self, consumer: AIOKafkaConsumer, positions: dict[TopicPartition, int]) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)  # known once a fetch for tp returned
            if highwater is None or tp not in positions:
                continue
            metrics.CONSUMER_LAG.labels(
                self.service, self.spec.name, tp.topic, str(tp.partition)
            ).set(max(0, highwater - positions[tp]))


@dataclass
class _GroupState:
    """What the fetch loop and the rebalance listener share.

    ``pending``: offsets of applied messages not yet committed. ``revoked``: partitions given up
    in a rebalance that has not assigned anew; their offsets were committed on revoke, so the
    loop must not apply more of them. ``lock``: held while a batch is applied and while offsets
    are committed, so a revoke sees every applied offset and commits it.
    """

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: dict[TopicPartition, int] = field(default_factory=dict)
    revoked: set[TopicPartition] = field(default_factory=set)


async def _commit(consumer: AIOKafkaConsumer, state: _GroupState, only: Any = None) -> None:
    """Commit the pending offsets (only those of ``only``, if given); takes the lock itself."""
    async with state.lock:
        tps = [tp for tp in state.pending if only is None or tp in only]
        offsets = {tp: state.pending.pop(tp) for tp in tps}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The partitions moved to another member; it re-reads from the last commit and the
            # processed-events table turns those redeliveries into no-ops.
            log.info("offset commit skipped after a rebalance: %r", exc)


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: AIOKafkaConsumer, state: _GroupState) -> None:
        self.consumer, self.state = consumer, state

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # Waits for the in-flight batch and any commit under way, then commits what is left
        # while this member still belongs to the generation that owns the partitions.
        self.state.revoked |= set(revoked)
        await _commit(self.consumer, self.state, only=revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.state.revoked.clear()


def is_outage(exc: BaseException) -> bool:
    """True when the database or the network is down rather than the event being bad."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError | TimeoutError | sa_exc.InterfaceError):
            return True
        if isinstance(seen, sa_exc.DBAPIError) and seen.connection_invalidated:
            return True
        if type(seen).__name__ in {"CannotConnectNowError", "TooManyConnectionsError"}:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def apply_if_newer(
    session: AsyncSession,
    table: sa.Table,
    key: Mapping[str, Any],
    version: int,
    values: Mapping[str, Any],
) -> bool:
    """Upsert a state-transfer event's state unless the stored version is as new or newer.

    ``table`` needs a ``version`` column and a unique constraint on the ``key`` columns.
    Returns True when the row was inserted or updated.
    """
    row = {**values, **key, "version": version}
    stmt = pg_insert(table).values(row)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[name] for name in key],
        set_={name: stmt.excluded[name] for name in row if name not in key},
        where=table.c.version < stmt.excluded.version,
    )
    result = await session.execute(stmt.returning(sa.literal(1)))
    return result.first() is not None


@asynccontextmanager
async def running_consumer(
    runner: ConsumerRunner, grace_s: float = 10
) -> AsyncIterator[ConsumerRunner]:
    """The runner as a background task; on exit it finishes the batch and commits."""
    async with running_in_background(
        runner.run(), runner.stop, name=f"consumer-{runner.spec.name}", grace_s=grace_s
    ):
        yield runner


def consumer_component(spec: ConsumerSpec) -> Component:
    """For ``create_service_app(components=[...])``; honours ``settings.run_consumers``."""
    CONSUMERS[spec.name] = spec

    @asynccontextmanager
    async def component(app: FastAPI) -> AsyncIterator[None]:
        settings = app.state.settings
        bootstrap = settings.kafka_bootstrap_servers
        add_kafka_check(app, bootstrap)
        if not settings.run_consumers:
            yield
            return
        runner = ConsumerRunner(
            spec=spec,
            service=app.state.service,
            sessionmaker=app.state.db.sessionmaker,
            bootstrap=bootstrap,
            topic_prefix=settings.topic_prefix,
            security=settings.kafka_security(),
        )
        async with running_consumer(runner):
            yield

    return component
