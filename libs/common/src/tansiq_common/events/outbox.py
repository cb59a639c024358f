"""Outbox messages: what a unit of work writes next to the change, for the relay to publish."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tansiq_common.context import current_request_id, current_traceparent

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
    # The request and trace the message belongs to (request_id, traceparent), when they are not
    # the current ones: a consumer applying a batch of events writes what each one caused.
    headers: Mapping[str, str] | None = None

    @classmethod
    def from_event(cls, event: DomainEvent) -> OutboxMessage:
        return cls(
            topic=event.topic,
            aggregate_type=event.aggregate_type,
            aggregate_id=str(event.aggregate_id),
            event_type=event.event_type,
            payload=dict(event.payload()),
        )


def insert_from_json(parameter: str = "messages", where: str = "", states: str = "") -> str:
    """SQL inserting the outbox rows of `outbox_rows` sent as one JSON array in the bind
    parameter `parameter`, in the array's order (so `seq` keeps the order the change made them
    in). A row without an `id` gets one drawn by the database. `where` filters them (on `m`,
    one row as JSON). `states` names a relation of (id, state): a row without a `payload`
    takes its aggregate's state from it, so a bulk writer need not send a state its rows
    already hold. A bulk writer may embed it in a larger statement; the caller NOTIFYs."""
    condition = f"WHERE {where} " if where else ""
    source = f"jsonb_array_elements(CAST(:{parameter} AS jsonb)) WITH ORDINALITY AS t(m, n)"
    payload = "m->'payload'"
    if states:
        payload = "COALESCE(m->'payload', s.state)"
        source += f" LEFT JOIN {states} AS s ON s.id = (m->>'aggregateid')::uuid"
    values = (
        "COALESCE((m->>'id')::uuid, gen_random_uuid()), m->>'aggregatetype', m->>'aggregateid', "
        f"m->>'type', {payload}"
    )
    return (
        f"{_COLUMNS} SELECT {values}, m->>'topic', m->'headers' FROM {source} {condition}ORDER BY n"  # noqa: S608 - no input: our SQL
    )


_COLUMNS = "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, headers)"


NOTIFY = f"NOTIFY {NOTIFY_CHANNEL}"  # SQL text; delivered to the relay at commit


def outbox_rows(messages: Iterable[OutboxMessage]) -> list[dict[str, Any]]:
    """The messages as the rows `insert_from_json` reads; those without headers of their own
    carry the current request and trace."""
    current: dict[str, str] = {}
    if (request_id := current_request_id()) is not None:
        current["request_id"] = request_id
    if (traceparent := current_traceparent()) is not None:
        current["traceparent"] = traceparent
    return [
        {
            "id": str(m.id),
            "aggregatetype": m.aggregate_type,
            "aggregateid": m.aggregate_id,
            "type": m.event_type,
            "payload": m.payload,
            "topic": m.topic,
            "headers": current if m.headers is None else m.headers,
        }
        for m in messages
    ]
