import pytest
import sqlalchemy as sa
from tansiq_common.schema import audit_log, outbox
from tansiq_common.uow import SystemActor, UnitOfWork


class Renamed:
    topic = "example.thing.v1"
    aggregate_type = "thing"
    event_type = "tansiq.example.thing.renamed.v1"

    def __init__(self, thing_id: str, name: str) -> None:
        self.aggregate_id = thing_id
        self.name = name

    def payload(self):
        return {"id": self.aggregate_id, "name": self.name, "version": 2}


class Thing:
    def __init__(self, thing_id: str) -> None:
        self.id = thing_id
        self.events: list[Renamed] = []

    def rename(self, name: str) -> None:
        self.events.append(Renamed(self.id, name))


async def _count(db, table) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def test_commit_writes_the_events_and_the_audit_with_the_change(infra_db):
    actor = SystemActor(sub="amal", org="org-1", roles=frozenset({"editor"}))
    thing = Thing("t-1")
    async with UnitOfWork(infra_db.sessionmaker, actor=actor) as uow:
        uow.track(thing)
        thing.rename("new name")
        uow.audit("renamed", "thing", thing.id, ["name"])
    async with infra_db.engine.connect() as conn:
        event = (await conn.execute(sa.select(outbox))).one()
        audit = (await conn.execute(sa.select(audit_log))).one()
    assert event.type == "tansiq.example.thing.renamed.v1"
    assert event.aggregateid == "t-1"
    assert event.payload == {"id": "t-1", "name": "new name", "version": 2}
    assert event.sent_at is None
    assert audit.actor_sub == "amal"
    assert audit.actor_roles == ["editor"]
    assert audit.changed_fields == ["name"]
    assert thing.events == []


async def test_an_exception_rolls_back_events_and_audit(infra_db):
    thing = Thing("t-2")
    with pytest.raises(RuntimeError):
        async with UnitOfWork(infra_db.sessionmaker) as uow:
            uow.track(thing)
            thing.rename("never")
            uow.audit("renamed", "thing", thing.id, ["name"])
            raise RuntimeError("the change failed")
    assert await _count(infra_db, outbox) == 0
    assert await _count(infra_db, audit_log) == 0


async def test_audit_rows_cannot_be_changed(infra_db):
    async with UnitOfWork(infra_db.sessionmaker) as uow:
        uow.audit("created", "thing", "t-3")
    with pytest.raises(Exception, match="append-only"):
        async with infra_db.engine.begin() as conn:
            await conn.execute(sa.update(audit_log).values(action="forged"))
    assert await _count(infra_db, audit_log) == 1
