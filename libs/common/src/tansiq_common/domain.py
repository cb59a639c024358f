"""What a domain model raises when one of its rules is broken: pure Python, no web framework.

Each error class carries the HTTP status and problem slug clients see; one handler
(`tansiq_common.problems`) turns any of them into problem+json, so no service translates
domain errors by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar


class DomainError(Exception):
    """A broken rule of the domain. Subclass it per rule with `status`, `slug` and `title`."""

    status: int = 422
    slug: str = "validation-error"
    title: str = "Unprocessable entity"

    def __init__(
        self,
        message: str,
        errors: Sequence[Mapping[str, Any]] = (),
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = [dict(e) for e in errors]
        self.extra = dict(extra or {})


class InvalidField(DomainError):
    """One field has a value the domain refuses (422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, [{"field": field, "message": message}])
        self.field = field


class RuleConflict(DomainError):
    """The change contradicts the record's current state (409)."""

    status, slug, title = 409, "conflict", "Conflict"


class NotFoundError(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class NotAllowed(DomainError):
    """The caller's organization or position does not permit the change (403)."""

    status, slug, title = 403, "forbidden", "Not allowed"


class Unavailable(DomainError):
    """A dependency the rule needs cannot be reached; retry later (503)."""

    status, slug, title = 503, "service-unavailable", "Service unavailable"
    retry_after: int = 5


# --- aggregates and their events ---------------------------------------------------------------


@dataclass
class StateEvent:
    """A past-tense fact about an aggregate, carrying its full state after the change.

    One class for every event of every aggregate: the `name` says what happened (`created`,
    `signed`, ...); the CloudEvents type is derived from the topic's service, the aggregate type
    and the name, e.g. ``tansiq.agreements.agreement.signed.v1``.
    """

    topic: str
    aggregate_type: str
    aggregate_id: str
    name: str
    state: Mapping[str, Any]
    changed_fields: tuple[str, ...] = ()

    @property
    def event_type(self) -> str:
        return event_type(self.topic, self.aggregate_type, self.name)

    def payload(self) -> Mapping[str, Any]:
        return self.state


def event_type(topic: str, aggregate_type: str, name: str) -> str:
    """``registry.organization.v1`` + ``organization`` + ``moved`` → the CloudEvents type."""
    service = topic.split(".", 1)[0]
    return f"tansiq.{service}.{aggregate_type}.{name}.v1"


class VersionedAggregate:
    """Base of an aggregate with an optimistic-concurrency `version` and pending `events`.

    Subclasses are dataclasses declaring `id`, `version` and `updated_at`, and set `TOPIC` and
    `AGGREGATE_TYPE`. `record(name, changed)` bumps the version and appends a StateEvent with the
    state after the change; the unit of work writes the events to the outbox at commit.
    """

    TOPIC: ClassVar[str]
    AGGREGATE_TYPE: ClassVar[str]

    id: str
    version: int
    updated_at: datetime
    events: list[StateEvent]

    def snapshot(self) -> dict[str, Any]:
        """The full state as events and responses carry it (JSON-ready): `to_json(self)`, by
        an encoder built once per class (it runs for every change)."""
        from tansiq_common.codec import typed_encoder

        state: dict[str, Any] = typed_encoder(type(self))(self)
        return state

    def record(
        self, name: str, changed: Sequence[str], now: datetime, *, bump: bool = True
    ) -> None:
        if bump:
            self.version += 1
            self.updated_at = now
        self.events.append(
            StateEvent(
                topic=self.TOPIC,
                aggregate_type=self.AGGREGATE_TYPE,
                aggregate_id=self.id,
                name=name,
                state=self.snapshot(),
                changed_fields=tuple(changed),
            )
        )
