"""Outbox messages: what a unit of work writes next to the change, for the relay to publish."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from tansiq_common.context import current_request_id, current_traceparent
from tansiq_common.schema import outbox

NOTIFY_CHANNEL = "tansiq_outbox"


@runtime_checkable
class DomainEvent(Protocol):
    """What a domain event tells the outbox; domain code implements it with plain dataclasses."""

    topic: str  # logical name, e.g. "registry.organization.v1"; the relay adds TOPIC_PREFIX
    aggregate_type: str
    aggregate_id: str
    event_type: str  # the CloudEvents type, e.g. "tansiq.registry.organization.created.v1"

    def payload(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class OutboxMessage:
    topic: str
    aggregate_type: str
    aggregate_id: str
    event_type: str
    payload: Mapping[str, Any]
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    @classmethod
    def from_event(cls, event: DomainEvent) -> OutboxMessage:
        return cls(
            topic=event.topic,
            aggregate_type=event.aggregate_type,
            aggregate_id=str(event.aggregate_id),
            event_type=event.event_type,
            payload=dict(event.payload()),
        )


async def write_outbox(session: AsyncSession, messages: Iterable[OutboxMessage]) -> int:
    """Insert the messages in the session's transaction; NOTIFY wakes the relay on commit."""
    headers: dict[str, str] = {}
    if (request_id := current_request_id()) is not None:
        headers["request_id"] = request_id
    if (traceparent := current_traceparent()) is not None:
        headers["traceparent"] = traceparent
    rows = [
        {
            "id": m.id,
            "aggregatetype": m.aggregate_type,
            "aggregateid": m.aggregate_id,
            "type": m.event_type,
            "payload": m.payload,
            "topic": m.topic,
            "headers": headers,
        }
        for m in messages
    ]
    if not rows:
        return 0
    await session.execute(sa.insert(outbox), rows)
    await session.execute(sa.text(f"NOTIFY {NOTIFY_CHANNEL}"))
    return len(rows)
