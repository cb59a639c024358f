"""CloudEvents 1.0 in Kafka binary mode: headers the relay writes, the envelope consumers read.

The value is the JSON payload (the aggregate's full state with its ``version``); the CloudEvents
attributes travel as ``ce_*`` headers (docs/api.md, Events).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
REQUIRED_HEADERS = ("ce_specversion", "ce_id", "ce_source", "ce_type")


class InvalidEvent(ValueError):
    """A message that can never be applied as it is: it goes to the dead-letter topic at once."""


class KafkaRecord(Protocol):
    """What we read from aiokafka's ConsumerRecord."""

    topic: str
    partition: int
    offset: int
    timestamp: int  # milliseconds since the epoch
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


def source_of(service: str) -> str:
    return f"/tansiq/{service}"


def cloudevent_headers(
    *,
    event_id: str,
    service: str,
    event_type: str,
    time: datetime,
    subject: str,
    traceparent: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> list[tuple[str, bytes]]:
    headers = {
        "ce_specversion": SPEC_VERSION,
        "ce_id": event_id,
        "ce_source": source_of(service),
        "ce_type": event_type,
        "ce_time": time.isoformat(),
        "ce_subject": subject,
        "content-type": CONTENT_TYPE,
    }
    if traceparent:
        headers["traceparent"] = traceparent
    for name, value in (extra or {}).items():
        headers.setdefault(name, value)
    return [(name, value.encode()) for name, value in headers.items()]


@dataclass(frozen=True)
class Envelope:
    """A decoded CloudEvent as a consumer sees it. ``topic`` is the topic as named on the broker."""

    id: str
    type: str
    source: str
    subject: str
    time: datetime
    topic: str
    partition: int
    offset: int
    data: dict[str, Any]
    headers: dict[str, str]

    @property
    def version(self) -> int | None:
        version = self.data.get("version")
        return version if isinstance(version, int) else None

    @classmethod
    def from_record(cls, record: KafkaRecord) -> Envelope:
        """Decode or raise InvalidEvent; nothing a retry could fix is let through."""
        try:
            headers = {name: value.decode() for name, value in record.headers or ()}
        except UnicodeDecodeError as exc:
            raise InvalidEvent(f"a header is not UTF-8: {exc}") from exc
        missing = [name for name in REQUIRED_HEADERS if not headers.get(name)]
        if missing:
            raise InvalidEvent(f"missing CloudEvents headers: {', '.join(missing)}")
        if headers["ce_specversion"] != SPEC_VERSION:
            raise InvalidEvent(f"unsupported ce_specversion {headers['ce_specversion']!r}")
        content_type = headers.get("content-type", CONTENT_TYPE)
        if not content_type.startswith(CONTENT_TYPE):
            raise InvalidEvent(f"unsupported content-type {content_type!r}")
        try:
            time = datetime.fromisoformat(headers["ce_time"]) if "ce_time" in headers else None
        except ValueError as exc:
            raise InvalidEvent(f"ce_time is not ISO 8601: {headers['ce_time']!r}") from exc
        if record.value is None:
            raise InvalidEvent("the message has no value")
        try:
            data = json.loads(record.value)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidEvent(f"the value is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidEvent("the value is not a JSON object")
        subject = headers.get("ce_subject") or (record.key or b"").decode(errors="replace")
        return cls(
            id=headers["ce_id"],
            type=headers["ce_type"],
            source=headers["ce_source"],
            subject=subject,
            time=time or datetime.fromtimestamp(record.timestamp / 1000, UTC),
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            data=data,
            headers=headers,
        )
