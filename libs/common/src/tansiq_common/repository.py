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
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tansiq_common.codec import RowMapper, json_text
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


class TableStatements:
    """A table's statements as SQL text for the driver, built once: the row by id (optionally
    locked), rows by ids, the INSERT of a row's columns and the versioned UPDATE.

    The values are bound as the driver takes them, which is what SQLAlchemy's column types did:
    JSON columns as JSON text (None is JSON null unless the column says `none_as_null`); uuid
    columns are read back as text, as `UUID(as_uuid=False)` gives them."""

    def __init__(self, table: sa.Table) -> None:
        self.table = table
        self.name = _quoted(table.name)
        selected = []
        for column in table.c:
            name = _quoted(column.name)
            selected.append(f"{name}::text AS {name}" if isinstance(column.type, sa.Uuid) else name)
        columns = ", ".join(selected)
        self.select_one = f"SELECT {columns} FROM {self.name} WHERE id = $1"  # noqa: S608 - our SQL
        self.lock_one = f"{self.select_one} FOR UPDATE"
        self.select_many = f"SELECT {columns} FROM {self.name} WHERE id = ANY($1)"  # noqa: S608
        self.lock_many = f"{self.select_many} ORDER BY id FOR UPDATE"
        self.select_ids = f"SELECT id::text FROM {self.name} WHERE id = ANY($1)"  # noqa: S608
        self.columns = columns
        self._by: dict[str, str] = {}
        self._any: dict[str, str] = {}
        self._encoders = {column.name: _bind_encoder(column.type) for column in table.c}
        self._inserts: dict[tuple[str, ...], tuple[str, list[Callable[[Any], Any] | None]]] = {}
        self._updates: dict[tuple[str, ...], tuple[str, list[Callable[[Any], Any] | None]]] = {}

    def select_by(self, column: str) -> str:
        """The rows whose `column` is $1 (a column of the table, never a caller's text)."""
        sql = self._by.get(column)
        if sql is None:
            name = _quoted(self.table.c[column].name)  # KeyError for a column the table lacks
            sql = self._by[column] = f"SELECT {self.columns} FROM {self.name} WHERE {name} = $1"  # noqa: S608
        return sql

    def select_any(self, column: str) -> str:
        """The rows whose `column` is one of the array $1."""
        sql = self._any.get(column)
        if sql is None:
            name = _quoted(self.table.c[column].name)
            sql = self._any[column] = (
                f"SELECT {self.columns} FROM {self.name} WHERE {name} = ANY($1)"  # noqa: S608
            )
        return sql

    def insert(self, row: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The INSERT of `row` (column → value) and its arguments."""
        names = tuple(row)
        built = self._inserts.get(names)
        if built is None:
            placeholders = ", ".join(f"${n}" for n in range(1, len(names) + 1))
            built = (
                f"INSERT INTO {self.name} ({', '.join(map(_quoted, names))}) "  # noqa: S608
                f"VALUES ({placeholders})",
                [self._encoders[name] for name in names],
            )
            self._inserts[names] = built
        return built[0], _bound(row.values(), built[1])

    def update(
        self, aggregate_id: str, loaded_version: int, values: Mapping[str, Any]
    ) -> tuple[str, list[Any]]:
        """UPDATE of the row with this id and the version it was loaded at, setting `values`."""
        names = tuple(values)
        built = self._updates.get(names)
        if built is None:
            sets = ", ".join(f"{_quoted(name)} = ${n}" for n, name in enumerate(names, 3))
            built = (
                f"UPDATE {self.name} SET {sets} WHERE id = $1 AND version = $2",  # noqa: S608
                [self._encoders[name] for name in names],
            )
            self._updates[names] = built
        return built[0], [aggregate_id, loaded_version, *_bound(values.values(), built[1])]


_quoted = postgresql.dialect().identifier_preparer.quote  # type: ignore[no-untyped-call] # "end", not end


def _bind_encoder(column_type: Any) -> Callable[[Any], Any] | None:
    if isinstance(column_type, sa.JSON):
        if column_type.none_as_null:
            return lambda value: None if value is None else json_text(value)
        return json_text
    return None


def _bound(values: Any, encoders: list[Callable[[Any], Any] | None]) -> list[Any]:
    return [
        value if encode is None else encode(value)
        for value, encode in zip(values, encoders, strict=True)
    ]


@functools.cache
def statements_of(table: sa.Table) -> TableStatements:
    return TableStatements(table)


class VersionedRepository(Generic[A]):
    """Subclass with `table`, `mapper` and, if needed, `conflicts` and `extra_columns`."""

    table: ClassVar[sa.Table]
    mapper: ClassVar[RowMapper]
    # Unique constraint or index name → the domain error a violation means.
    conflicts: ClassVar[Mapping[str, Callable[[], DomainError]]] = {}

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self._loaded: dict[str, int] = {}
        self.sql = statements_of(self.table)

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
        if for_update:
            row = await self.uow.fetchrow(self.sql.lock_one, canonical)
        else:
            rows = await self.uow.lookup(self.sql.select_one, canonical)
            row = rows[0] if rows else None
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
        if for_update:
            rows = await self.uow.fetch(self.sql.lock_many, canonical)
        else:
            rows = await self.uow.lookup(self.sql.select_many, canonical)
        found = {}
        for row in rows:
            aggregate = self.to_model(row)
            if for_update:
                self._seen(aggregate)
            found[aggregate.id] = aggregate
        return found

    async def existing_ids(self, ids: Sequence[str]) -> set[str]:
        canonical = [i for i in (parse_id(x) for x in ids) if i]
        if not canonical:
            return set()
        return {row[0] for row in await self.uow.lookup(self.sql.select_ids, canonical)}

    # -- writing --

    async def add(self, aggregate: A) -> None:
        # Sent with the unit of work's next statement or its commit (UnitOfWork.write).
        await self.uow.write(*self.sql.insert(self.to_row(aggregate)), self.conflicts)
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
        sql, args = self.sql.update(aggregate.id, loaded, values)
        status = await self.uow.execute(sql, *args, conflicts=self.conflicts)
        if status != "UPDATE 1":
            raise ConcurrentChange(f"The {self._name()} changed meanwhile; read it again.")
        self._loaded[aggregate.id] = aggregate.version

    def _seen(self, aggregate: A) -> None:
        self._loaded.setdefault(aggregate.id, aggregate.version)
        self.uow.track(aggregate)

    def _name(self) -> str:
        return self.table.name.rstrip("s").replace("_", " ")
