"""One repository base for versioned aggregates.

- `get(id, for_update=True)` loads an aggregate (optionally locking its row) and remembers the
  version it was loaded at;
- `add(aggregate)` inserts, `save(aggregate)` updates only if the row still has the version it
  was loaded at (optimistic concurrency on top of the row lock), else `ConcurrentChange` (409);
- every aggregate the repository added or loaded for update is handed to the unit of work, which
  collects its events at commit: none can be forgotten by a service;
- unique violations are recognised by constraint name (`conflicts`), never by message text.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tansiq_common.codec import RowMapper
from tansiq_common.domain import DomainError, RuleConflict, VersionedAggregate
from tansiq_common.uow import UnitOfWork

A = TypeVar("A", bound=VersionedAggregate)

# What the read functions take: the request's autocommit connection, or a unit of work's session.
Reader = AsyncSession | AsyncConnection


class ConcurrentChange(RuleConflict):
    slug = "concurrent-change"


def parse_id(value: object) -> str | None:
    """A canonical UUID string, or None when `value` is not a UUID (so it names nothing)."""
    if value is None:
        return None
    return _parse_id_text(value if type(value) is str else str(value))


@functools.lru_cache(maxsize=16_384)
def _parse_id_text(text: str) -> str | None:
    # A batch names the same organizations in every item: each spelling parsed once.
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def constraint_name(exc: IntegrityError) -> str | None:
    """The name of the constraint a database error violated (asyncpg reports it)."""
    seen: BaseException | None = exc.orig
    while seen is not None:
        name = getattr(seen, "constraint_name", None)
        if name:
            return str(name)
        seen = seen.__cause__
    return None


# Bound parameter names of the versioned UPDATE (no column has them).
_SAVED_ID, _LOADED_VERSION = "saved_id_", "loaded_version_"


@functools.cache
def _insert_of(table: sa.Table) -> sa.Insert:
    return sa.insert(table)


@functools.cache
def _update_of(table: sa.Table) -> sa.Update:
    """UPDATE of the row with this id and the version it was loaded at; the SET columns are
    the parameters given at execution."""
    return sa.update(table).where(
        table.c.id == sa.bindparam(_SAVED_ID), table.c.version == sa.bindparam(_LOADED_VERSION)
    )


class VersionedRepository(Generic[A]):
    """Subclass with `table`, `mapper` and, if needed, `conflicts` and `extra_columns`."""

    table: ClassVar[sa.Table]
    mapper: ClassVar[RowMapper]
    # Unique constraint or index name → the domain error a violation means.
    conflicts: ClassVar[Mapping[str, Callable[[], DomainError]]] = {}

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self._loaded: dict[str, int] = {}

    @property
    def session(self) -> AsyncSession:
        return self.uow.session

    # -- mapping --

    def extra_columns(self, aggregate: A) -> dict[str, Any]:
        """Derived columns that are no field of the aggregate (e.g. a search text)."""
        return {}

    def to_row(self, aggregate: A) -> dict[str, Any]:
        return {**self.mapper.to_row(aggregate), **self.extra_columns(aggregate)}

    def to_model(self, row: Any) -> A:
        aggregate: A = self.mapper.from_row(row)
        return aggregate

    # -- loading --

    async def get(self, aggregate_id: str, *, for_update: bool = False) -> A | None:
        canonical = parse_id(aggregate_id)
        if canonical is None:
            return None
        stmt = sa.select(self.table).where(self.table.c.id == canonical)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).first()
        if row is None:
            return None
        aggregate = self.to_model(row)
        if for_update:
            self._seen(aggregate)
        return aggregate

    async def get_many(self, ids: Sequence[str], *, for_update: bool = False) -> dict[str, A]:
        canonical = [i for i in (parse_id(x) for x in ids) if i]
        if not canonical:
            return {}
        stmt = sa.select(self.table).where(self.table.c.id.in_(canonical))
        if for_update:
            stmt = stmt.order_by(self.table.c.id).with_for_update()
        found = {}
        for row in await self.session.execute(stmt):
            aggregate = self.to_model(row)
            if for_update:
                self._seen(aggregate)
            found[aggregate.id] = aggregate
        return found

    async def existing_ids(self, ids: Sequence[str]) -> set[str]:
        canonical = [i for i in (parse_id(x) for x in ids) if i]
        if not canonical:
            return set()
        rows = await self.session.execute(
            sa.select(self.table.c.id).where(self.table.c.id.in_(canonical))
        )
        return {str(r.id) for r in rows}

    # -- writing --

    async def add(self, aggregate: A) -> None:
        # The row as parameters of one statement per table, not `.values(**row)`: SQLAlchemy
        # then finds the compiled INSERT in its cache instead of building a statement and its
        # cache key from every value on each write.
        await self._guarded(_insert_of(self.table), self.to_row(aggregate))
        self._seen(aggregate)

    async def save(self, aggregate: A) -> None:
        """Write a loaded aggregate back; refused if another writer saved it meanwhile."""
        loaded = self._loaded.get(aggregate.id)
        if loaded is None:
            raise RuntimeError("save() takes an aggregate this repository loaded for update")
        if aggregate.version == loaded:
            return  # nothing changed
        values = self.to_row(aggregate)
        del values["id"]
        values.pop("created_at", None)
        values[_SAVED_ID], values[_LOADED_VERSION] = aggregate.id, loaded
        result = await self._guarded(_update_of(self.table), values)
        if result.rowcount != 1:
            raise ConcurrentChange(f"The {self._name()} changed meanwhile; read it again.")
        self._loaded[aggregate.id] = aggregate.version

    def _seen(self, aggregate: A) -> None:
        self._loaded.setdefault(aggregate.id, aggregate.version)
        self.uow.track(aggregate)

    async def _guarded(self, stmt: Any, params: dict[str, Any] | None = None) -> Any:
        try:
            return await self.session.execute(stmt, params)
        except IntegrityError as exc:
            # A concurrent writer won the race a pre-check looks for: name it by constraint.
            factory = self.conflicts.get(constraint_name(exc) or "")
            if factory is None:
                raise
            raise factory() from None

    def _name(self) -> str:
        return self.table.name.rstrip("s").replace("_", " ")
