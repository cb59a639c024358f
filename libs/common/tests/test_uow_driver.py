"""The unit of work's statements on the driver: a request's unit of work (given the writes' pool)
and one on a session run the same repository statements in one transaction each, commit or roll
back the change with its outbox and audit rows, and map the database's refusals as the engine
did."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from tansiq_common.codec import RowMapper
from tansiq_common.db import Database, ValueNotStorable, driver_error
from tansiq_common.domain import RuleConflict, StateEvent, VersionedAggregate
from tansiq_common.problems import ServiceUnavailable
from tansiq_common.repository import ConcurrentChange, VersionedRepository, statements_of
from tansiq_common.schema import audit_log, outbox
from tansiq_common.uow import UnitOfWork

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)

things = sa.Table(
    "uow_things",
    sa.MetaData(),
    sa.Column("id", UUID(as_uuid=False), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("parent_id", UUID(as_uuid=False), nullable=True),
    sa.Column("tags", ARRAY(sa.Text), nullable=False),
    sa.Column("details", JSONB, nullable=True),
    sa.Column("note", JSONB(none_as_null=True), nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("name", name="uq_uow_things_name"),
)


@dataclass
class Thing(VersionedAggregate):
    TOPIC: ClassVar[str] = "example.thing.v1"
    AGGREGATE_TYPE: ClassVar[str] = "thing"

    id: str
    name: str
    parent_id: str | None
    tags: frozenset[str]
    details: dict[str, Any] | None
    note: dict[str, Any] | None
    version: int
    created_at: datetime
    updated_at: datetime
    events: list[StateEvent] = field(default_factory=list)

    @classmethod
    def create(cls, name: str, **kw: Any) -> Thing:
        thing = cls(
            id=str(uuid.uuid4()), name=name, parent_id=kw.get("parent_id"),
            tags=frozenset(kw.get("tags", ())), details=kw.get("details"), note=kw.get("note"),
            version=1, created_at=NOW, updated_at=NOW,
        )  # fmt: skip
        thing.record("created", ["name"], NOW, bump=False)
        return thing

    def rename(self, name: str) -> None:
        self.name = name
        self.record("renamed", ["name"], NOW)


class NameTaken(RuleConflict):
    slug = "name-taken"


class ThingRepository(VersionedRepository[Thing]):
    table = things
    mapper = RowMapper(Thing)
    conflicts: ClassVar[dict[str, Any]] = {
        "uq_uow_things_name": lambda: NameTaken("The name is taken.")
    }


MODES = ["driver", "session"]


def _uow(db: Database, mode: str) -> UnitOfWork:
    return UnitOfWork(db.sessionmaker, pool=db.write_pool if mode == "driver" else None)


@pytest.fixture
async def db(infra_db: Database) -> AsyncIterator[Database]:
    # One connection per pool: the statement log of `_logged` sees every statement.
    infra_db.write_pool.size = 1
    async with infra_db.engine.begin() as connection:
        await connection.run_sync(things.create)
    try:
        yield infra_db
    finally:
        async with infra_db.engine.begin() as connection:
            await connection.run_sync(things.drop)


async def _rows(db: Database, table: sa.Table) -> list[Any]:
    async with db.engine.connect() as connection:
        return list(await connection.execute(sa.select(table)))


@pytest.mark.parametrize("mode", MODES)
async def test_a_change_commits_with_its_outbox_and_audit_rows(db: Database, mode: str) -> None:
    parent = str(uuid.uuid4())
    thing = Thing.create(
        "first", parent_id=parent, tags={"b", "a"}, details={"k": [1, "ا"]}, note=None
    )
    async with _uow(db, mode) as uow:
        await ThingRepository(uow).add(thing)
        uow.audit("thing.created", "thing", thing.id, ["name"])
    [row] = await _rows(db, things)
    assert (row.id, row.parent_id, row.tags, row.details) == (
        thing.id, parent, ["a", "b"], {"k": [1, "ا"]},
    )  # fmt: skip
    async with db.engine.connect() as connection:
        # JSONB: None is JSON null unless the column says none_as_null (then SQL NULL).
        nulls = (
            await connection.execute(sa.text("SELECT note IS NULL, details FROM uow_things"))
        ).one()
    assert nulls[0] is True
    [event] = await _rows(db, outbox)
    assert (event.aggregateid, event.type) == (thing.id, "tansiq.example.thing.created.v1")
    assert event.payload["tags"] == ["a", "b"]
    [audit] = await _rows(db, audit_log)
    assert (audit.action, audit.entity_id) == ("thing.created", thing.id)
    if mode == "driver":
        assert db.write_pool.idle_connections == 1  # back in the pool, outside a transaction


@pytest.mark.parametrize("mode", MODES)
async def test_a_failure_rolls_back_the_row_and_its_side_effects(db: Database, mode: str) -> None:
    with pytest.raises(RuntimeError):
        async with _uow(db, mode) as uow:
            await ThingRepository(uow).add(Thing.create("never"))
            uow.audit("thing.created", "thing", "x")
            raise RuntimeError("the change failed")
    assert await _rows(db, things) == []
    assert await _rows(db, outbox) == []
    assert await _rows(db, audit_log) == []
    if mode == "driver":
        assert db.write_pool.open_connections == 0  # the insert waited for a commit: none came


@pytest.mark.parametrize("mode", MODES)
async def test_load_for_update_save_and_a_concurrent_change(db: Database, mode: str) -> None:
    thing = Thing.create("old", details={"n": 1})
    async with _uow(db, mode) as uow:
        await ThingRepository(uow).add(thing)
    async with _uow(db, mode) as uow:
        repo = ThingRepository(uow)
        loaded = await repo.get(thing.id, for_update=True)
        assert loaded is not None
        assert (loaded.tags, loaded.details, loaded.parent_id) == (frozenset(), {"n": 1}, None)
        assert loaded.created_at == NOW
        loaded.rename("new")
        await repo.save(loaded)
    assert [(r.name, r.version) for r in await _rows(db, things)] == [("new", 2)]
    # The row's version moved since it was loaded: the versioned UPDATE finds no row.
    with pytest.raises(ConcurrentChange):
        async with _uow(db, mode) as uow:
            repo = ThingRepository(uow)
            stale = await repo.get(thing.id, for_update=True)
            assert stale is not None
            await uow.execute("UPDATE uow_things SET version = 3")
            stale.rename("lost")
            await repo.save(stale)
    assert [(r.name, r.version) for r in await _rows(db, things)] == [("new", 2)]


@pytest.mark.parametrize("mode", MODES)
async def test_get_many_existing_ids_and_an_unknown_or_malformed_id(
    db: Database, mode: str
) -> None:
    one, two = Thing.create("one"), Thing.create("two")
    async with _uow(db, mode) as uow:
        repo = ThingRepository(uow)
        await repo.add(one)
        await repo.add(two)
    unknown = str(uuid.uuid4())
    async with _uow(db, mode) as uow:
        repo = ThingRepository(uow)
        assert await repo.get("not-a-uuid") is None
        assert await repo.get(unknown) is None
        found = await repo.get_many([one.id, two.id.upper(), unknown, "x"], for_update=True)
        assert set(found) == {one.id, two.id}
        assert await repo.existing_ids([one.id, unknown]) == {one.id}


@pytest.mark.parametrize("mode", MODES)
async def test_a_unique_violation_is_the_rule_its_constraint_names(db: Database, mode: str) -> None:
    async with _uow(db, mode) as uow:
        await ThingRepository(uow).add(Thing.create("taken"))
    with pytest.raises(NameTaken):
        async with _uow(db, mode) as uow:
            await ThingRepository(uow).add(Thing.create("taken"))
    assert len(await _rows(db, things)) == 1
    assert len(await _rows(db, outbox)) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_a_value_the_database_refuses_is_422_not_500(db: Database, mode: str) -> None:
    with pytest.raises(ValueNotStorable):
        async with _uow(db, mode) as uow:
            await ThingRepository(uow).add(Thing.create("nul \x00 inside"))
    assert await _rows(db, things) == []
    if mode == "driver":
        assert db.write_pool.idle_connections == 1


@pytest.mark.parametrize("mode", MODES)
async def test_a_savepoint_rolls_back_its_part_only(db: Database, mode: str) -> None:
    kept, dropped = Thing.create("kept"), Thing.create("dropped")
    async with _uow(db, mode) as uow:
        repo = ThingRepository(uow)
        await repo.add(kept)
        with pytest.raises(NameTaken):
            async with uow.savepoint():
                await repo.add(dropped)
                uow.audit("thing.created", "thing", dropped.id)
                await repo.add(Thing.create("kept"))
    assert [r.name for r in await _rows(db, things)] == ["kept"]
    assert [e.aggregateid for e in await _rows(db, outbox)] == [kept.id]
    assert await _rows(db, audit_log) == []


@pytest.mark.parametrize("mode", MODES)
async def test_a_savepoint_refused_after_an_insert_drops_the_insert(
    db: Database, mode: str
) -> None:
    kept, dropped = Thing.create("kept"), Thing.create("dropped")
    async with _uow(db, mode) as uow:
        repo = ThingRepository(uow)
        await repo.add(kept)
        with pytest.raises(NameTaken):
            async with uow.savepoint():
                await repo.add(dropped)  # waits for a statement on the driver
                await repo.add(Thing.create("dropped"))
                raise NameTaken("refused by a rule, before anything was sent")
        assert await repo.existing_ids([kept.id, dropped.id]) == {kept.id}
    assert [r.name for r in await _rows(db, things)] == ["kept"]
    assert [e.aggregateid for e in await _rows(db, outbox)] == [kept.id]


async def test_a_session_used_first_shares_its_transaction_with_the_statements(
    db: Database,
) -> None:
    thing = Thing.create("both")
    with pytest.raises(RuntimeError):
        async with _uow(db, "driver") as uow:
            await uow.session.execute(sa.text("SELECT 1"))
            await ThingRepository(uow).add(thing)
            count = await uow.fetchrow("SELECT count(*) FROM uow_things")
            assert count is not None
            assert count[0] == 1
            in_session = await uow.session.scalar(sa.text("SELECT count(*) FROM uow_things"))
            assert in_session == 1  # the same transaction sees the row
            raise RuntimeError("roll back both")
    assert await _rows(db, things) == []
    assert db.write_pool.open_connections == 0  # the session's connection, not the pool's


async def test_on_the_driver_a_session_is_refused_not_a_second_transaction(db: Database) -> None:
    async with _uow(db, "driver") as uow:
        await ThingRepository(uow).add(Thing.create("alone"))
        with pytest.raises(RuntimeError, match="driver"):
            uow.session  # noqa: B018
    assert len(await _rows(db, things)) == 1


async def test_side_effects_alone_open_the_transaction_and_nothing_opens_none(
    db: Database,
) -> None:
    async with _uow(db, "driver"):
        pass
    assert db.write_pool.open_connections == 0
    async with _uow(db, "driver") as uow:
        uow.audit("thing.viewed", "thing", "t-1")
    assert [a.action for a in await _rows(db, audit_log)] == ["thing.viewed"]


async def test_a_connection_terminated_mid_statement_is_503_and_closed(db: Database) -> None:
    async def terminate(pid: int) -> None:
        await asyncio.sleep(0.2)
        async with db.engine.connect() as other:
            await other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    with pytest.raises(ServiceUnavailable):
        async with _uow(db, "driver") as uow:
            await ThingRepository(uow).add(Thing.create("lost"))
            [row] = await uow.fetch("SELECT pg_backend_pid()")
            killer = asyncio.create_task(terminate(row[0]))
            try:
                await uow.execute("SELECT pg_sleep(5)")
            finally:
                await killer
    assert db.write_pool.open_connections == 0  # closed, its place free
    assert await _rows(db, things) == []


async def test_a_cancelled_change_closes_its_connection_and_writes_nothing(db: Database) -> None:
    started = asyncio.Event()

    async def slow_change() -> None:
        async with _uow(db, "driver") as uow:
            await ThingRepository(uow).add(Thing.create("cancelled"))
            started.set()
            await uow.execute("SELECT pg_sleep(5)")

    task = asyncio.create_task(slow_change())
    await started.wait()
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert db.write_pool.open_connections == 0  # closed, its place free
    assert await _rows(db, things) == []


def _introspection(query: str) -> bool:
    # The driver's own queries, once per connection: the types of a statement's parameters.
    return "jit" in query or "pg_catalog" in query or "pg_type" in query


async def _logged(db: Database) -> list[str]:
    """The statements the write pool's (only) connection will run, as they run."""
    connection = await db.write_pool.acquire()
    sent: list[str] = []
    connection.add_query_logger(
        lambda record: None if _introspection(record.query) else sent.append(record.query)
    )
    db.write_pool.release(connection)
    return sent


async def test_a_change_of_one_insert_is_one_statement_without_begin_or_commit(
    db: Database,
) -> None:
    sent = await _logged(db)
    thing = Thing.create("alone")
    async with _uow(db, "driver") as uow:
        await ThingRepository(uow).add(thing)
        uow.audit("thing.created", "thing", thing.id)
    await asyncio.sleep(0)  # the driver hands each logged statement on with call_soon
    assert len(sent) == 1
    assert sent[0].startswith("WITH written AS (INSERT INTO uow_things")
    assert [r.id for r in await _rows(db, things)] == [thing.id]
    assert [e.aggregateid for e in await _rows(db, outbox)] == [thing.id]
    assert [a.entity_id for a in await _rows(db, audit_log)] == [thing.id]


async def test_a_read_after_an_insert_sees_it_and_the_change_stays_one_transaction(
    db: Database,
) -> None:
    sent = await _logged(db)
    with pytest.raises(RuntimeError):
        async with _uow(db, "driver") as uow:
            repo = ThingRepository(uow)
            thing = Thing.create("seen")
            await repo.add(thing)
            assert await repo.existing_ids([thing.id]) == {thing.id}
            raise RuntimeError("roll back")
    await asyncio.sleep(0)
    assert sent[0] == "BEGIN"
    assert sent[1].startswith("INSERT INTO uow_things")
    assert sent[-1] == "ROLLBACK"
    assert await _rows(db, things) == []


async def test_the_connection_handed_out_has_the_waiting_insert_sent_first(db: Database) -> None:
    thing = Thing.create("sent first")
    async with _uow(db, "driver") as uow:
        await ThingRepository(uow).add(thing)
        connection = await uow.connection()
        assert await connection.fetchval("SELECT count(*) FROM uow_things") == 1
    assert [r.id for r in await _rows(db, things)] == [thing.id]


async def test_lookups_and_one_insert_need_no_transaction(db: Database) -> None:
    sent = await _logged(db)
    thing = Thing.create("after lookups")
    async with _uow(db, "driver") as uow:
        repo = ThingRepository(uow)
        assert await repo.get(thing.id) is None
        assert await repo.existing_ids([thing.id]) == set()
        await repo.add(thing)
    await asyncio.sleep(0)
    assert sent[0].startswith("SELECT id::text AS id")
    assert sent[1].startswith("SELECT id::text FROM uow_things")
    assert sent[2].startswith("WITH written AS (INSERT INTO uow_things")
    assert len(sent) == 3  # no BEGIN, no COMMIT: each statement is its own transaction
    assert [e.aggregateid for e in await _rows(db, outbox)] == [thing.id]
    assert db.write_pool.idle_connections == 1


async def test_an_insert_after_a_locking_read_joins_the_side_effects_before_commit(
    db: Database,
) -> None:
    first = Thing.create("first")
    async with _uow(db, "driver") as uow:
        await ThingRepository(uow).add(first)
    sent = await _logged(db)
    second = Thing.create("second")
    async with _uow(db, "driver") as uow:
        repo = ThingRepository(uow)
        assert await repo.existing_ids([first.id]) == {first.id}  # a lookup: no BEGIN yet
        assert await repo.get(first.id, for_update=True) is not None
        await repo.add(second)
    await asyncio.sleep(0)
    assert sent[0].startswith("SELECT id::text FROM uow_things")
    assert sent[1] == "BEGIN"
    assert sent[2].endswith("FOR UPDATE")
    assert sent[3].startswith("WITH written AS (INSERT INTO uow_things")
    assert sent[4:] == ["COMMIT"]
    assert [e.aggregateid for e in await _rows(db, outbox)] == [first.id, second.id]


async def test_a_failure_after_lookups_writes_nothing_and_keeps_the_connection(
    db: Database,
) -> None:
    thing = Thing.create("never")
    with pytest.raises(RuntimeError):
        async with _uow(db, "driver") as uow:
            repo = ThingRepository(uow)
            assert await repo.get(thing.id) is None
            await repo.add(thing)
            uow.audit("thing.created", "thing", thing.id)
            raise RuntimeError("refused after the lookups")
    assert await _rows(db, things) == []
    assert await _rows(db, audit_log) == []
    assert db.write_pool.idle_connections == 1  # outside a transaction: fit for the next


def test_statements_bind_json_as_text_and_read_uuids_as_text() -> None:
    sql = statements_of(things)
    insert, args = sql.insert(
        {"id": "i", "tags": ["a"], "details": {"k": "ا"}, "note": None, "name": "n"}
    )
    assert insert == (
        "INSERT INTO uow_things (id, tags, details, note, name) VALUES ($1, $2, $3, $4, $5)"
    )
    assert args == ["i", ["a"], '{"k":"ا"}', None, "n"]
    update, args = sql.update("i", 4, {"details": None, "version": 5})
    assert (
        update == "UPDATE uow_things SET details = $3, version = $4 WHERE id = $1 AND version = $2"
    )
    assert args == ["i", 4, "null", 5]
    assert sql.select_one.startswith("SELECT id::text AS id, name, parent_id::text AS parent_id")
    assert sql.select_by("name").endswith("FROM uow_things WHERE name = $1")
    with pytest.raises(KeyError):
        sql.select_by("name; DROP TABLE uow_things")


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (asyncpg.AdminShutdownError("terminating connection due to administrator command"), True),
        (asyncpg.CannotConnectNowError("the database system is starting up"), True),
        (asyncpg.ConnectionDoesNotExistError("connection was closed"), True),
        (asyncpg.QueryCanceledError("canceling statement due to statement timeout"), False),
        (asyncpg.UniqueViolationError("duplicate key"), False),
    ],
)
def test_a_server_going_away_is_503_a_statement_timeout_is_not(
    error: Exception, unavailable: bool
) -> None:
    assert isinstance(driver_error(error), ServiceUnavailable) is unavailable
