"""The unit of work owns the transaction: the change, its events and its audit rows commit together.

Services open one with ``async with uow:``; leaving the block normally commits, an exception rolls
back. Services never call commit themselves, so no half of a change can be written.

Its statements run on the transaction's asyncpg connection (`fetch`, `fetchrow`, `execute`):
SQL text with $n parameters, as the repositories write it. A request's unit of work (given a
`pool`) takes that connection from the writes' driver pool and runs BEGIN and COMMIT itself,
with none of SQLAlchemy's session, statement and pool machinery around each statement (most of
a create's cost besides the database's own work). A unit of work without a pool (seeding,
schedules) or `within` a consumer's session runs the same statements on the session's own
connection, inside the session's transaction, so code written for one runs in the other. The
session stays for the code still written against it: a unit of work whose first statement
went through `session` keeps the session's connection for its whole transaction.

A repository's INSERT waits (`write`) for the unit of work's next statement, which sends it
first, or for the commit, where it joins the side effects' statement; reads that lock nothing
(`lookup`) run outside a transaction until the unit of work writes or locks. A change made of
lookups and one insert is then one statement in autocommit, its own transaction, with no BEGIN
or COMMIT.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol, Self

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tansiq_common.codec import json_text
from tansiq_common.context import current_request_id
from tansiq_common.db import driver_error, numbered
from tansiq_common.events.outbox import (
    NOTIFY_CHANNEL,
    DomainEvent,
    OutboxMessage,
    insert_from_json,
    outbox_rows,
)
from tansiq_common.pool import DriverPool


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
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        actor: Actor | None = None,
        *,
        pool: DriverPool | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._pool = pool
        self.actor: Actor = actor or SystemActor()
        self._session: AsyncSession | None = None
        self._connection: asyncpg.Connection | None = None
        self._on_driver = False  # the connection is the pool's, BEGIN and COMMIT are ours
        self._ready = (
            False  # the connection is inside the transaction (BEGIN sent, or the session's)
        )
        self._open = False
        self._reset()

    @classmethod
    def within(cls, session: AsyncSession, actor: Actor | None = None) -> UnitOfWork:
        """A unit of work inside a transaction someone else owns (a consumer's batch): it
        collects events and audit entries like any other, and writes them when the owner calls
        `flush_side_effects()` before committing."""
        uow = cls(async_sessionmaker(), actor)
        uow._session = session
        uow._open = True
        return uow

    def _reset(self) -> None:
        self._seen: list[Aggregate] = []
        self._seen_ids: set[int] = set()
        self._messages: list[OutboxMessage] = []
        self._audit: list[AuditEntry] = []
        self._savepoints = 0
        self._pending: list[_Write] = []

    @property
    def session(self) -> AsyncSession:
        if not self._open:
            raise RuntimeError("the unit of work is not open; use `async with uow:`")
        if self._on_driver or self._pending:
            raise RuntimeError(
                "this unit of work runs on the driver's connection; a session would be another "
                "transaction: use fetch/fetchrow/execute"
            )
        if self._session is None:
            self._session = self._sessionmaker()
        return self._session

    async def connection(self) -> asyncpg.Connection:
        """The transaction's asyncpg connection: the pool's (BEGIN sent), or the session's;
        writes still waiting are sent on it first."""
        if self._pending:
            await self._flush_pending()
        connection = self._connection
        if not self._ready or connection is None:
            connection = await self._open_transaction()
        return connection

    async def _open_transaction(self) -> asyncpg.Connection:
        if not self._open:
            raise RuntimeError("the unit of work is not open; use `async with uow:`")
        if self._session is None and self._pool is not None:
            connection = self._connection or await self._acquire()
            try:
                await connection.execute("BEGIN")
            except Exception as exc:
                raise driver_error(exc) or exc from None
            self._ready = True
            return connection
        self._connection = await _driver_connection_of(self.session)
        self._ready = True
        return self._connection

    async def _acquire(self) -> asyncpg.Connection:
        assert self._pool is not None
        self._connection, self._on_driver = await self._pool.acquire(), True
        return self._connection

    async def lookup(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """A read that locks nothing (a reference's existence, a parent's chain). Before the
        unit of work has written or locked anything, it runs on its connection outside a
        transaction: at READ COMMITTED a transaction adds nothing to a plain read (each
        statement sees what was committed when it started), and a change whose other
        statements are lookups and one insert then needs no BEGIN or COMMIT round trip."""
        if self._pending:
            await self._flush_pending()
        if self._ready:
            connection = self._connection
        elif self._session is None and self._pool is not None:
            connection = self._connection or await self._acquire()
        else:
            connection = await self._open_transaction()
        assert connection is not None
        try:
            rows: list[asyncpg.Record] = await connection.fetch(sql, *args)
        except Exception as exc:
            raise _refusal(exc) from None
        return rows

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        connection = await self.connection()
        try:
            rows: list[asyncpg.Record] = await connection.fetch(sql, *args)
        except Exception as exc:
            raise _refusal(exc) from None
        return rows

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        connection = await self.connection()
        try:
            row: asyncpg.Record | None = await connection.fetchrow(sql, *args)
        except Exception as exc:
            raise _refusal(exc) from None
        return row

    async def execute(self, sql: str, *args: Any, conflicts: Conflicts | None = None) -> str:
        """The statement's status (e.g. "UPDATE 1"). `conflicts` names the rule a unique
        violation breaks, by constraint (a concurrent writer won the race a pre-check looks
        for)."""
        connection = await self.connection()
        try:
            status: str = await connection.execute(sql, *args)
        except Exception as exc:
            raise _refusal(exc, conflicts) from None
        return status

    async def executemany(self, sql: str, args: Sequence[Sequence[Any]]) -> None:
        """The statement once per argument tuple, pipelined in one round trip."""
        connection = await self.connection()
        try:
            await connection.executemany(sql, args)
        except Exception as exc:
            raise _refusal(exc) from None

    async def write(
        self, sql: str, args: Sequence[Any], conflicts: Conflicts | None = None
    ) -> None:
        """A write nothing reads back before the commit (a repository's INSERT). On the driver
        it waits for the unit of work's next statement, or for the commit, where it joins the
        side effects' statement: a change made of one such write is then one statement, its own
        transaction, with no BEGIN or COMMIT round trips. `conflicts` names the rule a unique
        violation breaks, by constraint."""
        if self._pool is not None and self._session is None:
            self._pending.append(_Write(sql, args, conflicts or {}))
        else:
            await self.execute(sql, *args, conflicts=conflicts)

    async def _flush_pending(self) -> None:
        pending, self._pending = self._pending, []
        for write in pending:  # execute() sends nothing pending first: the list is empty now
            await self.execute(write.sql, *write.args, conflicts=write.conflicts)

    async def __aenter__(self) -> Self:
        if self._open:
            raise RuntimeError("a unit of work is not reentrant")
        self._open = True
        self._reset()
        if self._pool is None:
            self._session = self._sessionmaker()
            await self._session.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._on_driver or self._session is None:
                await self._end_on_driver(exc)
            else:
                await self._end_session(exc)
        finally:
            self._open, self._session, self._connection, self._on_driver = False, None, None, False
            self._ready, self._pending = False, []

    async def _end_session(self, exc: BaseException | None) -> None:
        session = self.session
        try:
            if exc is None:
                await self._write_side_effects()
                await session.commit()
            else:
                await session.rollback()
        finally:
            await session.close()

    async def _end_on_driver(self, exc: BaseException | None) -> None:
        if not self._ready and (exc is not None or len(self._pending) <= 1):
            # Nothing was written or locked yet: no transaction to end.
            try:
                if exc is None:
                    await self._commit_alone()
            finally:
                if self._connection is not None:
                    assert self._pool is not None
                    # A request cancelled mid-statement leaves the protocol's state unknown.
                    cancelled = exc is not None and not isinstance(exc, Exception)
                    self._pool.release(self._connection, discard=cancelled)
            return
        if exc is None:
            await self._write_side_effects()
        connection = self._connection
        assert connection is not None
        assert self._pool is not None
        sound = True
        try:
            await connection.execute("COMMIT" if exc is None else "ROLLBACK")
        except BaseException as failed:
            sound = False
            if exc is None:
                raise driver_error(failed) or failed from None
        finally:
            # A request cancelled mid-statement leaves the protocol's state unknown: closed.
            sound = sound and (exc is None or isinstance(exc, Exception))
            self._pool.release(connection, discard=not sound)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of the change that may fail alone (one row of an import): on an exception its
        rows roll back to the savepoint and so do the events and audit entries it collected."""
        # Events recorded before the savepoint are drained into the messages first, so after a
        # failure every event still on an aggregate was recorded inside it and is dropped.
        self._drain_events()
        seen, messages, audit = len(self._seen), len(self._messages), len(self._audit)
        # Sent on the transaction's connection in either mode: SQLAlchemy would send a nested
        # transaction's SAVEPOINT only with the session's next statement, which may never come.
        self._savepoints += 1
        name = f"uow_{self._savepoints}"
        await self.execute(f"SAVEPOINT {name}")
        try:
            yield
            if self._pending:  # its writes fail inside it, not at the commit
                await self._flush_pending()
        except BaseException:
            self._pending.clear()  # written inside the savepoint (its SAVEPOINT sent the others)
            with contextlib.suppress(Exception):  # the connection may be gone with the error
                await self.execute(f"ROLLBACK TO SAVEPOINT {name}")
            for aggregate in self._seen:
                aggregate.events.clear()
            for aggregate in self._seen[seen:]:
                self._seen_ids.discard(id(aggregate))
            del self._seen[seen:], self._messages[messages:], self._audit[audit:]
            raise
        else:
            await self.execute(f"RELEASE SAVEPOINT {name}")
        finally:
            self._savepoints -= 1

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
        await self._write_side_effects()

    async def _commit_alone(self) -> None:
        """No transaction was begun (nothing written or locked, at most lookups): the pending
        write and the side effects as one statement in autocommit, which is its own transaction
        (all of it or nothing). The connection is released by the caller."""
        write = self._joined(self._pending.pop() if self._pending else None)
        if write is None:
            return  # nothing was read or written
        connection = self._connection or await self._acquire()
        try:
            await connection.execute(write.sql, *write.args)
        except Exception as exc:
            raise _refusal(exc, write.conflicts) from None

    def _joined(self, write: _Write | None) -> _Write | None:
        """The side effects collected so far, and `write` (one waiting insert, or None), as one
        statement; None when there is nothing to write."""
        messages, audit = self._side_effect_rows()
        if not messages and not audit:
            return write
        effects = [json_text(messages), json_text(audit), bool(messages)]
        if write is None:
            return _Write(_SIDE_EFFECTS, effects, {})
        sql = _with_side_effects(write.sql, len(write.args))
        return _Write(sql, [*write.args, *effects], write.conflicts)

    def _side_effect_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        self._drain_events()
        self._seen, self._seen_ids = [], set()
        messages, self._messages = outbox_rows(self._messages), []
        audit, self._audit = self._audit_rows(), []
        return messages, audit

    async def _write_side_effects(self) -> None:
        """The events' outbox rows, the audit rows and the relay's wake-up call, in one
        statement: each statement of a write costs a round trip, more than the rows themselves."""
        if self._session is not None:
            await self._session.flush()
        # A lone waiting insert joins the side effects' statement; several go first, in order.
        alone = self._pending.pop() if len(self._pending) == 1 else None
        write = self._joined(alone)
        if write is not None:
            await self.execute(write.sql, *write.args, conflicts=write.conflicts)

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
_SIDE_EFFECTS_PARTS = (
    f"outbox_rows AS ({insert_from_json('messages')}), "
    f"audit_rows AS ({insert_audit_from_json('audit')}) "
    f"SELECT pg_notify('{NOTIFY_CHANNEL}', '') WHERE CAST(:notify AS boolean)"
)
_SIDE_EFFECTS = numbered(f"WITH {_SIDE_EFFECTS_PARTS}", "messages", "audit", "notify")

Conflicts = Mapping[str, Callable[[], Exception]]


@dataclass(frozen=True, slots=True)
class _Write:
    sql: str
    args: Sequence[Any]
    conflicts: Conflicts


@functools.lru_cache(maxsize=256)
def _with_side_effects(sql: str, taken: int) -> str:
    """`sql` (a write with `taken` parameters) and the side effects in one statement: its own
    WITH query, run once and to completion like the others."""
    parts = numbered(_SIDE_EFFECTS_PARTS, "messages", "audit", "notify", start=taken + 1)
    return f"WITH written AS ({sql}), {parts}"


def _refusal(exc: Exception, conflicts: Conflicts | None = None) -> Exception:
    """A unique violation as the rule its constraint names; else what driver_error answers."""
    if conflicts and isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        factory = conflicts.get(exc.constraint_name or "")
        if factory is not None:
            return factory()
    return driver_error(exc) or exc


async def _driver_connection_of(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session's, inside its transaction: SQLAlchemy's
    asyncpg adapter sends BEGIN with its first statement, so one is sent if none was yet."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    if not driver.is_in_transaction():
        await connection.exec_driver_sql("SELECT 1")
    return driver
