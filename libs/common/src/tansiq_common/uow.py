"""The unit of work owns the transaction: the change, its events and its audit rows commit together.

Services open one with ``async with uow:``; leaving the block normally commits, an exception rolls
back. Services never call commit themselves, so no half of a change can be written.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tansiq_common.context import current_request_id
from tansiq_common.events.outbox import (
    NOTIFY_CHANNEL,
    DomainEvent,
    OutboxMessage,
    insert_from_json,
    outbox_rows,
)


class Actor(Protocol):
    """Who makes the change; the authenticated principal satisfies it."""

    @property
    def sub(self) -> str: ...
    @property
    def org(self) -> str | None: ...
    @property
    def roles(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class SystemActor:
    """For changes made by the system itself (seeding, consumers, imports run by operators)."""

    sub: str = "system"
    org: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)


class Aggregate(Protocol):
    events: list[Any]


@dataclass
class AuditEntry:
    action: str
    entity_type: str
    entity_id: str
    changed_fields: Sequence[str] | Mapping[str, Any] = ()


class UnitOfWork:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], actor: Actor | None = None
    ) -> None:
        self._sessionmaker = sessionmaker
        self.actor: Actor = actor or SystemActor()
        self._session: AsyncSession | None = None
        self._reset()

    @classmethod
    def within(cls, session: AsyncSession, actor: Actor | None = None) -> UnitOfWork:
        """A unit of work inside a transaction someone else owns (a consumer's batch): it
        collects events and audit entries like any other, and writes them when the owner calls
        `flush_side_effects()` before committing."""
        uow = cls(async_sessionmaker(), actor)
        uow._session = session
        return uow

    def _reset(self) -> None:
        self._seen: list[Aggregate] = []
        self._seen_ids: set[int] = set()
        self._messages: list[OutboxMessage] = []
        self._audit: list[AuditEntry] = []

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open; use `async with uow:`")
        return self._session

    async def __aenter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("a unit of work is not reentrant")
        self._session = self._sessionmaker()
        await self._session.begin()
        self._reset()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session, self._session = self.session, None
        try:
            if exc_type is None:
                await self._write_side_effects(session)
                await session.commit()
            else:
                await session.rollback()
        finally:
            await session.close()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of the change that may fail alone (one row of an import): on an exception its
        rows roll back to the savepoint and so do the events and audit entries it collected."""
        # Events recorded before the savepoint are drained into the messages first, so after a
        # failure every event still on an aggregate was recorded inside it and is dropped.
        self._drain_events()
        seen, messages, audit = len(self._seen), len(self._messages), len(self._audit)
        try:
            async with self.session.begin_nested():
                yield
        except BaseException:
            for aggregate in self._seen:
                aggregate.events.clear()
            for aggregate in self._seen[seen:]:
                self._seen_ids.discard(id(aggregate))
            del self._seen[seen:], self._messages[messages:], self._audit[audit:]
            raise

    def track(self, aggregate: Aggregate) -> None:
        """Collect the aggregate's events at commit."""
        if id(aggregate) not in self._seen_ids:
            self._seen_ids.add(id(aggregate))
            self._seen.append(aggregate)

    def publish(self, event: DomainEvent | OutboxMessage) -> None:
        self._messages.append(
            event if isinstance(event, OutboxMessage) else OutboxMessage.from_event(event)
        )

    def audit(
        self,
        action: str,
        entity_type: str,
        entity_id: str,
        changed_fields: Sequence[str] | Mapping[str, Any] = (),
    ) -> None:
        self._audit.append(AuditEntry(action, entity_type, str(entity_id), changed_fields))

    def _drain_events(self) -> None:
        for aggregate in self._seen:
            if aggregate.events:
                self._messages.extend(OutboxMessage.from_event(e) for e in aggregate.events)
                aggregate.events.clear()

    async def flush_side_effects(self) -> None:
        """Write the collected events and audit rows into the open transaction."""
        await self._write_side_effects(self.session)

    async def _write_side_effects(self, session: AsyncSession) -> None:
        """The events' outbox rows, the audit rows and the relay's wake-up call, in one
        statement: each statement of a write costs a round trip and SQLAlchemy's execution
        around it, more than the rows themselves."""
        await session.flush()
        self._drain_events()
        self._seen, self._seen_ids = [], set()
        messages, self._messages = outbox_rows(self._messages), []
        audit, self._audit = self._audit_rows(), []
        if messages or audit:
            await session.execute(
                _SIDE_EFFECTS,
                {
                    "messages": json.dumps(messages),
                    "audit": json.dumps(audit),
                    "notify": bool(messages),
                },
            )

    def _audit_rows(self) -> list[dict[str, Any]]:
        request_id = current_request_id()
        return [
            audit_row(self.actor, entry.action, entry.entity_type, entry.entity_id, request_id,
                      entry.changed_fields)
            for entry in self._audit
        ]  # fmt: skip


def audit_row(
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: str,
    request_id: str | None,
    changed_fields: Sequence[str] | Mapping[str, Any],
) -> dict[str, Any]:
    """An audit entry as the rows `insert_audit_from_json` reads."""
    return {
        "actor_sub": actor.sub,
        "actor_org": actor.org,
        "actor_roles": sorted(actor.roles),
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "request_id": request_id,
        "changed_fields": (
            dict(changed_fields) if isinstance(changed_fields, Mapping) else list(changed_fields)
        ),
    }


def insert_audit_from_json(parameter: str = "audit", where: str = "") -> str:
    """SQL inserting the audit rows of `audit_row` sent as one JSON array in the bind parameter
    `parameter`, in the array's order (their ids are drawn in it); `where` filters them (on `a`,
    one row as JSON). A bulk writer may embed it in a larger statement."""
    condition = f"WHERE {where} " if where else ""
    return (
        "INSERT INTO audit_log (actor_sub, actor_org, actor_roles, action, entity_type, "  # noqa: S608 - our SQL
        "entity_id, request_id, changed_fields) SELECT a->>'actor_sub', a->>'actor_org', "
        "ARRAY(SELECT jsonb_array_elements_text(a->'actor_roles')), a->>'action', "
        "a->>'entity_type', a->>'entity_id', a->>'request_id', a->'changed_fields' "
        f"FROM jsonb_array_elements(CAST(:{parameter} AS jsonb)) WITH ORDINALITY AS t(a, n) "
        f"{condition}ORDER BY n"
    )


# Data-modifying WITH queries run exactly once and to completion, referenced or not; the audit
# rows keep the order they were collected in (their ids are drawn in it), as the outbox's do.
# pg_notify is NOTIFY: delivered to the relay when the transaction commits.
_SIDE_EFFECTS = sa.text(
    f"WITH outbox_rows AS ({insert_from_json('messages')}), "
    f"audit_rows AS ({insert_audit_from_json('audit')}) "
    f"SELECT pg_notify('{NOTIFY_CHANNEL}', '') WHERE CAST(:notify AS boolean)"
)
