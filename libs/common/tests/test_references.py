"""ReferenceLookup: the replica first (a real table), the owning service over HTTP on a miss, and
a 503 (never a silent accept) when the owner cannot answer: refused, timed out, erroring or
unreadable."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from tansiq_common.context import request_id_var, traceparent_var
from tansiq_common.db import Database, new_metadata
from tansiq_common.problems import from_domain_error
from tansiq_common.references import ReferenceLookup, ReferenceUnavailable
from tansiq_common.testing.processes import free_port
from tansiq_common.uow import UnitOfWork

metadata = new_metadata()
replica = sa.Table(
    "thing_replica",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
)


@dataclass(frozen=True)
class Thing:
    id: str
    name: str
    source: str


def from_row(row: Mapping[str, Any]) -> Thing:
    return Thing(str(row["id"]), str(row["name"]), "replica")


def from_json(body: Mapping[str, Any]) -> Thing:
    return Thing(str(body["id"]), str(body["name"]), "owner")


@dataclass
class Owner:
    """The owning service: answers GET /v1/things/{id} from `records`; remembers every call."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str | None]] = field(default_factory=list)
    context: list[tuple[str | None, str | None]] = field(default_factory=list)  # request, trace
    fail_with: int | None = None
    raw: str | None = None

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/things/{thing_id}")
        async def get_thing(thing_id: str, request: Request) -> Any:
            self.calls.append((thing_id, request.headers.get("authorization")))
            self.context.append(
                (request.headers.get("x-request-id"), request.headers.get("traceparent"))
            )
            if self.fail_with is not None:
                return JSONResponse({"type": "boom"}, self.fail_with)
            if self.raw is not None:
                return PlainTextResponse(self.raw)
            if thing_id not in self.records:
                return JSONResponse({"type": "not-found"}, 404)
            return self.records[thing_id]

        return app


@pytest.fixture
async def db(infra_db: Database) -> AsyncIterator[Database]:
    async with infra_db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield infra_db
    finally:
        async with infra_db.engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)


@pytest.fixture
def owner() -> Owner:
    return Owner()


@pytest.fixture
async def owner_client(owner: Owner) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=owner.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://owner") as client:
        yield client


def lookup(client: httpx.AsyncClient | None, **kw: Any) -> ReferenceLookup[Thing]:
    options: dict[str, Any] = {
        "what": "thing",
        "replica": replica,
        "base_url": "http://owner",
        "path": "/v1/things/{id}",
        "from_row": from_row,
        "from_json": from_json,
        "client": client,
    }
    options.update(kw)
    return ReferenceLookup(**options)


async def put_in_replica(db: Database, **names: str) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(sa.insert(replica), [{"id": i, "name": n} for i, n in names.items()])


def new_id() -> str:
    return str(uuid.uuid4())


async def test_replica_hits_never_ask_the_owner(db, owner, owner_client):
    a, b = new_id(), new_id()
    await put_in_replica(db, **{a: "alpha", b: "beta"})
    async with UnitOfWork(db.sessionmaker, pool=db.write_pool) as uow:
        found = await lookup(owner_client).find_many(uow, [a, b.upper(), a], bearer="tok")
    assert found == {a: Thing(a, "alpha", "replica"), b: Thing(b, "beta", "replica")}
    assert owner.calls == []


async def test_a_miss_asks_the_owner_with_the_callers_token(db, owner, owner_client):
    in_replica, only_owner, nowhere = new_id(), new_id(), new_id()
    await put_in_replica(db, **{in_replica: "alpha"})
    owner.records[only_owner] = {"id": only_owner, "name": "gamma"}
    async with UnitOfWork(db.sessionmaker, pool=db.write_pool) as uow:
        found = await lookup(owner_client).find_many(
            uow, [in_replica, only_owner, nowhere], bearer="the-token"
        )
    assert found == {
        in_replica: Thing(in_replica, "alpha", "replica"),
        only_owner: Thing(only_owner, "gamma", "owner"),
    }
    # the owner's 404 means "does not exist (or not for you)": absent from the answer
    assert sorted(owner.calls) == sorted(
        [(only_owner, "Bearer the-token"), (nowhere, "Bearer the-token")]
    )


async def test_ids_that_are_not_ids_name_nothing_and_are_never_sent(db, owner, owner_client):
    async with UnitOfWork(db.sessionmaker, pool=db.write_pool) as uow:
        found = await lookup(owner_client).find_many(
            uow, ["../admin", "x", "", "not-a-uuid"], bearer=None
        )
        single = await lookup(owner_client).find(uow, "../../etc", bearer=None)
    assert found == {}
    assert single is None
    assert owner.calls == []


async def test_find_one_and_no_token_sends_no_authorization(db, owner, owner_client):
    thing = new_id()
    owner.records[thing] = {"id": thing, "name": "delta"}
    async with UnitOfWork(db.sessionmaker, pool=db.write_pool) as uow:
        found = await lookup(owner_client).find(uow, thing.upper(), bearer=None)
    assert found == Thing(thing, "delta", "owner")
    assert owner.calls == [(thing, None)]


async def test_without_a_replica_every_lookup_asks_the_owner(db, owner, owner_client):
    thing = new_id()
    owner.records[thing] = {"id": thing, "name": "epsilon"}
    no_replica = lookup(owner_client, replica=None, from_row=None)
    async with UnitOfWork(db.sessionmaker, pool=db.write_pool) as uow:
        assert await no_replica.find_many(uow, [thing], bearer="t") == {
            thing: Thing(thing, "epsilon", "owner")
        }
    assert owner.calls == [(thing, "Bearer t")]


@pytest.mark.parametrize("status", [500, 502, 401, 403, 429])
async def test_an_owner_that_errs_is_unavailable_not_absent(db, owner, owner_client, status):
    owner.fail_with = status
    async with UnitOfWork(db.sessionmaker, pool=db.write_pool) as uow:
        with pytest.raises(ReferenceUnavailable) as raised:
            await lookup(owner_client, retry_after_s=7).find_many(uow, [new_id()], bearer="t")
    problem = from_domain_error(raised.value)
    assert problem.status == 503
    assert problem.slug == "reference-unavailable"
    assert problem.headers == {"Retry-After": "7"}


@pytest.mark.parametrize(
    "raw", ["not json", "[1, 2]", '{"id": "x"}'], ids=["text", "a-list", "missing-field"]
)
async def test_an_unreadable_answer_is_unavailable(db, owner, owner_client, raw):
    owner.raw = raw
    async with UnitOfWork(db.sessionmaker, pool=db.write_pool) as uow:
        with pytest.raises(ReferenceUnavailable):
            await lookup(owner_client).find_many(uow, [new_id()], bearer="t")


async def test_an_owner_that_is_not_listening_is_unavailable(db):
    closed = f"http://127.0.0.1:{free_port()}"
    async with UnitOfWork(db.sessionmaker, pool=db.write_pool) as uow:
        with pytest.raises(ReferenceUnavailable) as raised:
            await lookup(None, base_url=closed).find_many(uow, [new_id()], bearer="t")
    assert raised.value.status == 503
    assert "could not be checked" in raised.value.message


async def test_an_owner_that_does_not_answer_in_time_is_unavailable(db):
    """A real socket that accepts and never answers: the lookup gives up after its timeout."""
    accepted: list[asyncio.StreamWriter] = []

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await asyncio.sleep(30)

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with UnitOfWork(db.sessionmaker, pool=db.write_pool) as uow:
            started = time.monotonic()
            with pytest.raises(ReferenceUnavailable):
                await lookup(None, base_url=f"http://127.0.0.1:{port}", timeout_s=0.3).find_many(
                    uow, [new_id()], bearer="t"
                )
            elapsed = time.monotonic() - started
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert accepted, "the lookup never reached the server"
    assert 0.25 <= elapsed < 3


def test_a_path_without_the_id_placeholder_is_refused():
    with pytest.raises(ValueError, match="must contain"):
        ReferenceLookup(what="thing", base_url="http://x", path="/v1/things", from_json=from_json)
    with pytest.raises(ValueError, match="from_row"):
        ReferenceLookup(
            what="thing",
            base_url="http://x",
            path="/v1/things/{id}",
            from_json=from_json,
            replica=replica,
        )


async def test_the_owner_is_asked_within_the_callers_request_and_trace(db, owner, owner_client):
    """The owner's log lines and spans carry the request id and trace of the request that
    needed the lookup, so one search follows a write across both services."""
    wanted = new_id()
    owner.records[wanted] = {"id": wanted, "name": "delta"}
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    rid, tp = request_id_var.set("req-lookup-1"), traceparent_var.set(traceparent)
    try:
        async with UnitOfWork(db.sessionmaker, pool=db.write_pool) as uow:
            await lookup(owner_client).find_many(uow, [wanted], bearer="tok")
    finally:
        request_id_var.reset(rid)
        traceparent_var.reset(tp)
    assert owner.context == [("req-lookup-1", traceparent)]
