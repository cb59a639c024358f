"""Send dead letters back to their topic once the cause is fixed (`tansiq events redrive`).

A dead letter (``<topic>.dlq``) is the original message plus ``dlq_*`` headers saying why and
where it failed. Re-driving sends the original key, value and headers (without the ``dlq_*``
ones) back to ``<topic>``, where every consumer group reads it again: a consumer that had applied
the event skips it (same ``ce_id``, ``processed_events``), the one that failed applies it, and
version checks keep an older state from overwriting a newer one. Each re-driven message records
what was done, in headers that stay on the topic for good (domain topics are never pruned):

- ``redrive_count``: how often this event was re-driven, this time included;
- ``redriven_at``: when (UTC, ISO 8601); ``redriven_by``: who (the operator's name);
- ``redriven_from``: ``<dlq topic>[<partition>]@<offset>``, the dead letter it came from.

A poison message cannot loop: one that fails again goes back to the DLQ with its
``redrive_count``; redrive refuses a dead letter already re-driven ``max_redrives`` times
(``CONSUMER_MAX_REDRIVES``), and a consumer dead-letters at once, with ``dlq_reason``
``redrive-limit``, a message whose count exceeds it. One run reads the DLQ only up to the end it
saw at the start, so what fails again meanwhile waits for the next run, and it re-drives each
event once even when several consumers dead-lettered it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, TopicPartition

from tansiq_common.events.kafka import KafkaSecurity, group_consumer, idempotent_producer

log = logging.getLogger(__name__)

DLQ_SUFFIX = ".dlq"
REDRIVE_COUNT = "redrive_count"
REDRIVEN_AT = "redriven_at"
REDRIVEN_BY = "redriven_by"
REDRIVEN_FROM = "redriven_from"
REDRIVE_HEADERS = (REDRIVE_COUNT, REDRIVEN_AT, REDRIVEN_BY, REDRIVEN_FROM)
DEFAULT_MAX_REDRIVES = 3

Action = Literal["redriven", "would-redrive", "refused", "skipped"]


class RedriveError(ValueError):
    """The command cannot run as asked (not a DLQ, a missing topic, a bad --since)."""


def redrive_count(headers: Sequence[tuple[str, bytes]] | dict[str, str]) -> int:
    """The message's ``redrive_count`` (0 when absent); ValueError when it is not a count."""
    items = headers.items() if isinstance(headers, dict) else headers
    for name, value in items:
        if name == REDRIVE_COUNT:
            text = value.decode() if isinstance(value, bytes) else value
            if not re.fullmatch(r"[0-9]{1,6}", text):
                raise ValueError(f"{REDRIVE_COUNT} is not a count: {text[:40]!r}")
            return int(text)
    return 0


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``2026-11-20``, ``2026-11-20T08:00:00+03:00`` (UTC when no offset is given), or a span
    back from now: ``90m``, ``6h``, ``2d``."""
    now = now or datetime.now(UTC)
    relative = re.fullmatch(r"\s*([0-9]{1,6})\s*([smhd])\s*", text)
    if relative:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[relative.group(2)]
        return now - timedelta(**{unit: int(relative.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise RedriveError(
            f"--since {text!r}: expected an ISO 8601 date or time, or 90m, 6h, 2d"
        ) from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class DeadLetter:
    topic: str  # the DLQ, as named on the broker
    partition: int
    offset: int
    timestamp: datetime  # when it was dead-lettered
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode(errors="replace")
        return None

    @property
    def event_id(self) -> str | None:
        return self.header("ce_id")

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"

    @classmethod
    def from_record(cls, record: Any) -> DeadLetter:
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC),
            key=record.key,
            value=record.value,
            headers=tuple(record.headers or ()),
        )


@dataclass(frozen=True)
class Outcome:
    dead_letter: DeadLetter
    action: Action
    detail: str
    redrive_count: int | None = None  # the count the re-driven copy carries

    def line(self) -> str:
        """One line per dead letter, for the operator's terminal and the log."""
        letter = self.dead_letter
        parts = [
            f"{self.action:13}",
            letter.where,
            f"ce_id={letter.event_id or '-'}",
            f"reason={letter.header('dlq_reason') or '-'}",
            f"consumer={letter.header('dlq_consumer') or '-'}",
        ]
        if self.redrive_count is not None:
            parts.append(f"redrive_count={self.redrive_count}")
        return " ".join(parts) + f": {self.detail}"


def redriven_headers(
    letter: DeadLetter, *, count: int, operator: str, now: datetime
) -> list[tuple[str, bytes]]:
    """The original headers, without what the DLQ and earlier re-drives added, plus this
    re-drive's record."""
    kept = [
        (name, value)
        for name, value in letter.headers
        if not name.startswith("dlq_") and name not in REDRIVE_HEADERS
    ]
    return [
        *kept,
        (REDRIVE_COUNT, str(count).encode()),
        (REDRIVEN_AT, now.isoformat(timespec="seconds").encode()),
        (REDRIVEN_BY, operator.encode()),
        (REDRIVEN_FROM, letter.where.encode()),
    ]


def source_topic(dlq: str) -> str:
    if not dlq.endswith(DLQ_SUFFIX) or dlq == DLQ_SUFFIX:
        raise RedriveError(f"{dlq!r} is not a dead-letter topic (<topic>{DLQ_SUFFIX})")
    return dlq.removesuffix(DLQ_SUFFIX)


def decide(
    letter: DeadLetter,
    *,
    target: str,
    max_redrives: int,
) -> tuple[Action, str, int | None]:
    """Whether a selected dead letter may go back to ``target``, and with which count."""
    origin = letter.header("dlq_source_topic")
    if origin != target:
        return "refused", f"it was dead-lettered from {origin!r}, not from {target}", None
    try:
        count = redrive_count(letter.headers)
    except ValueError as exc:
        return "refused", str(exc), None
    if count >= max_redrives:
        return (
            "refused",
            f"already re-driven {count} times (limit {max_redrives}): fix the cause or drop it",
            None,
        )
    return "redriven", f"sent back to {target}", count + 1


async def read_dead_letters(
    consumer: AIOKafkaConsumer, dlq: str, since: datetime | None
) -> list[DeadLetter]:
    """Every dead letter of ``dlq`` (from ``since`` on), up to the end offsets seen now."""
    await consumer._client.force_metadata_update()
    found = consumer.partitions_for_topic(dlq)
    if not found:
        raise RedriveError(f"topic {dlq} does not exist")
    partitions = [TopicPartition(dlq, p) for p in sorted(found)]
    consumer.assign(partitions)
    ends = await consumer.end_offsets(partitions)
    starts: dict[TopicPartition, int] = dict.fromkeys(partitions, 0)
    if since is not None:
        at = await consumer.offsets_for_times(
            dict.fromkeys(partitions, int(since.timestamp() * 1000))
        )
        starts = {tp: (found_at.offset if found_at else ends[tp]) for tp, found_at in at.items()}
    for tp in partitions:
        consumer.seek(tp, starts[tp])
    letters: list[DeadLetter] = []
    remaining = {tp for tp in partitions if starts[tp] < ends[tp]}
    while remaining:
        batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=500)
        for tp, records in batch.items():
            letters += [DeadLetter.from_record(r) for r in records if r.offset < ends[tp]]
        for tp in list(remaining):
            if await consumer.position(tp) >= ends[tp]:
                remaining.discard(tp)
    return letters


def superseded(letters: Sequence[DeadLetter]) -> set[tuple[int, int]]:
    """(partition, offset) of every copy but the latest of each event: several consumers may
    have dead-lettered it, or an earlier re-drive failed again. One re-drive reaches them all."""
    latest: dict[str, DeadLetter] = {}
    for letter in sorted(letters, key=lambda x: (x.timestamp, x.partition, x.offset)):
        latest[letter.event_id or letter.where] = letter  # undecodable: each is its own
    kept = {(x.partition, x.offset) for x in latest.values()}
    return {(x.partition, x.offset) for x in letters} - kept


async def redrive(
    dlq: str,
    *,
    bootstrap: str,
    operator: str,
    ids: Collection[str] = (),
    since: datetime | None = None,
    dry_run: bool = False,
    max_redrives: int = DEFAULT_MAX_REDRIVES,
    security: KafkaSecurity | None = None,
    report: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Re-drive the dead letters of ``dlq`` (the name on the broker, prefix included) that match
    ``ids`` (ce_id; all when empty) and ``since``; ``report`` is called once per dead letter."""
    target = source_topic(dlq)
    if not operator.strip():
        raise RedriveError("say who re-drives (--by): it is recorded on every message")
    security = security if security is not None else KafkaSecurity.from_env()
    consumer = group_consumer(
        bootstrap,
        security=security,
        group_id=None,  # no group: nothing to commit, no group ACL needed
        enable_auto_commit=False,
        isolation_level="read_committed",
        client_id="tansiq-redrive",
    )
    await consumer.start()
    try:
        letters = await read_dead_letters(consumer, dlq, since)
    finally:
        await consumer.stop()
    wanted = set(ids)
    selected = [x for x in letters if not wanted or x.event_id in wanted]
    older = superseded(selected)
    outcomes: list[Outcome] = []
    plan: list[tuple[DeadLetter, int]] = []
    for letter in selected:
        if (letter.partition, letter.offset) in older:
            outcomes.append(Outcome(letter, "skipped", "a later copy of this event is re-driven"))
            continue
        action, detail, count = decide(letter, target=target, max_redrives=max_redrives)
        if action == "redriven" and count is not None:
            if dry_run:
                action, detail = "would-redrive", f"would be sent back to {target}"
            else:
                plan.append((letter, count))
        outcomes.append(Outcome(letter, action, detail, count))
    if plan:
        await _send(plan, target, bootstrap, security, operator)
    for outcome in outcomes:
        log.info(
            "redrive %s",
            outcome.line(),
            extra={
                "dlq": dlq,
                "action": outcome.action,
                "event_id": outcome.dead_letter.event_id,
                "redriven_by": operator,
            },
        )
        if report is not None:
            report(outcome)
    missing = wanted - {x.event_id for x in letters}
    if missing:
        log.warning("redrive: no dead letter in %s for %s", dlq, ", ".join(sorted(missing)))
    return outcomes


async def _send(
    plan: Sequence[tuple[DeadLetter, int]],
    target: str,
    bootstrap: str,
    security: KafkaSecurity,
    operator: str,
) -> None:
    producer = idempotent_producer(bootstrap, "tansiq-redrive", security=security)
    await producer.start()
    try:
        now = datetime.now(UTC)
        futures = [
            await producer.send(
                target,
                key=letter.key,
                value=letter.value,
                headers=redriven_headers(letter, count=count, operator=operator, now=now),
            )
            for letter, count in plan
        ]
        for future in futures:
            await future  # every send acked (acks=all) before the command says "redriven"
    finally:
        await producer.stop()
