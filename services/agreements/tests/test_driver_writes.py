"""The request's writes on the driver: each write endpoint's unit of work takes one connection of
the writes' pool and none of the engine's (no SQLAlchemy session anywhere on its path), and what
it writes is what the session wrote: the row, its history rows, events and audit rows, in one
transaction."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from tansiq_agreements.agreements.repository import AgreementRepository
from tansiq_common.db import Database
from tansiq_common.testing.pools import connections_taken
from tansiq_common.uow import UnitOfWork

EDITOR = ("qfsw", "editor")
QA_COORDINATOR = ("icd", "coordinator")


@pytest.fixture
def taken(app) -> Iterator[dict[str, int]]:
    """The connections taken since the counts were last reset: the writes' pool's and the
    engine's (which a session, and nothing else on a write, checks out)."""
    with connections_taken(app.state.db) as counts:
        yield counts


@pytest.fixture
def on_driver(taken) -> Callable[[Awaitable[httpx.Response]], Awaitable[httpx.Response]]:
    """`await on_driver(client.post(...))`: the response, after checking that the request's
    unit of work ran on one connection of the writes' pool and the engine lent none."""

    async def run(request: Awaitable[httpx.Response]) -> httpx.Response:
        taken.update(write_pool=0, engine=0)
        response = await request
        assert taken == {"write_pool": 1, "engine": 0}, response.text
        return response

    return run


async def history_of(sql, agreement_id: str) -> list[tuple[int, str, dict[str, Any], str]]:
    rows = await sql.fetch(
        "select version, event, details, actor_sub from agreement_history "
        "where agreement_id = $1 order by id",
        agreement_id,
    )
    return [(r["version"], r["event"], json.loads(r["details"]), r["actor_sub"]) for r in rows]


async def test_every_write_endpoint_runs_on_the_writes_pool_alone(
    client, world, as_, body, on_driver, sql, outbox
):
    editor = as_(*EDITOR)
    # Restricted: the lock and the visibility rule are one statement on every load.
    created = await on_driver(
        client.post("/v1/agreements", json=body(visibility="restricted"), headers=editor)
    )
    assert created.status_code == 201, created.text
    a = created.json()
    url = f"/v1/agreements/{a['id']}"

    patched = await on_driver(
        client.patch(
            url,
            json={"parties": [{"org_id": world["qfsw"], "role": "signatory"},
                              {"org_id": world["unesco"], "role": "signatory"},
                              {"org_id": world["undp"], "role": "implementer"}]},
            headers={**editor, "If-Match": '"1"', "Content-Type": "application/merge-patch+json"},
        )
    )  # fmt: skip
    assert patched.status_code == 200, patched.text
    assert [p["org_id"] for p in patched.json()["parties"]] == [
        world["qfsw"], world["unesco"], world["undp"]
    ]  # fmt: skip

    submitted = await on_driver(client.post(f"{url}/actions/submit", headers=editor))
    assert submitted.status_code == 200, submitted.text
    cleared = await on_driver(
        client.post(
            f"{url}/actions/clear", json={"conditions": "Annual report"},
            headers=as_(*QA_COORDINATOR),
        )
    )  # fmt: skip
    assert cleared.status_code == 200, cleared.text
    signed = await on_driver(
        client.post(f"{url}/actions/sign", json={"signed_on": "2024-01-10"}, headers=editor)
    )
    assert signed.status_code == 200, signed.text
    added = await on_driver(
        client.post(
            f"{url}/milestones",
            json={"title": "Annual report", "due_on": "2025-12-31",
                  "responsible_org_id": world["qfsw"]},
            headers=editor,
        )
    )  # fmt: skip
    assert added.status_code == 201, added.text
    milestone = added.json()["id"]
    done = await on_driver(
        client.patch(
            f"{url}/milestones/{milestone}",
            json={"status": "done"},
            headers={**editor, "If-Match": '"6"', "Content-Type": "application/merge-patch+json"},
        )
    )
    assert done.status_code == 200, done.text
    renewed = await on_driver(
        client.post(f"{url}/actions/renew", json={"expires_on": "2030-12-31"}, headers=editor)
    )
    assert renewed.status_code == 201, renewed.text
    successor = renewed.json()["id"]

    assert await history_of(sql, a["id"]) == [
        (1, "created", {}, "qfsw-editor"),
        (2, "updated", {}, "qfsw-editor"),
        (3, "submitted", {}, "qfsw-editor"),
        (4, "cleared", {"conditions": "Annual report"}, "icd-coordinator"),
        (5, "signed", {"signed_on": "2024-01-10", "without_clearance": False}, "qfsw-editor"),
        (6, "milestone-added", {"milestone_id": milestone}, "qfsw-editor"),
        (7, "milestone-updated", {"milestone_id": milestone,
                                  "changed": ["status", "completed_on"]}, "qfsw-editor"),
        (8, "renewed", {"successor_id": successor}, "qfsw-editor"),
    ]  # fmt: skip
    assert await history_of(sql, successor) == [
        (1, "created", {"supersedes": a["id"]}, "qfsw-editor")
    ]
    assert [e["type"].split(".")[-2] for e in await outbox(a["id"])] == [
        "created", "updated", "submitted", "cleared", "signed", "milestone-added",
        "milestone-updated", "renewed",
    ]  # fmt: skip
    audit = await sql.fetch(
        "select action, entity_id from audit_log where entity_id = any($1) order by id",
        [a["id"], successor],
    )
    assert [tuple(r) for r in audit][-2:] == [
        ("agreement.renewed", a["id"]),
        ("agreement.created", successor),
    ]


async def test_a_refused_write_on_the_driver_writes_nothing_and_answers_its_problem(
    client, as_, body, create, on_driver, counts
):
    a = await create(visibility="restricted")
    before = await counts()
    hidden = await on_driver(
        client.post(f"/v1/agreements/{a['id']}/actions/submit", headers=as_("moi", "editor"))
    )
    assert hidden.status_code == 404
    assert hidden.json()["type"] == "urn:tansiq:problem:agreement-not-found"
    stale = await on_driver(
        client.post(
            f"/v1/agreements/{a['id']}/actions/submit",
            headers={**as_(*EDITOR), "If-Match": '"7"'},
        )
    )
    assert stale.status_code == 412
    assert await counts() == before


@pytest.fixture
async def db(agreements_db) -> AsyncIterator[Database]:
    database = Database(agreements_db, pool_size=2, max_overflow=0)
    yield database
    await database.dispose()


@pytest.mark.parametrize("mode", ["driver", "session"])
async def test_history_rows_of_several_events_are_written_in_their_order(create, db, sql, mode):
    """One `write_history` of two transitions writes both rows, in the order they happened,
    on the driver and on a session's connection alike."""
    a = await create()
    uow = UnitOfWork(db.sessionmaker, pool=db.write_pool if mode == "driver" else None)
    now = datetime.now(UTC)
    async with uow:
        repo = AgreementRepository(uow)
        agreement = await repo.get_visible(a["id"], principal=None, scope=None, for_update=True)
        assert agreement is not None
        agreement.submit(now)
        agreement.sign(signed_on=date(2024, 1, 10), now=now)
        await repo.save(agreement)
        await repo.write_history(agreement, {"signed": {"signed_on": "2024-01-10"}})
        # Written again, nothing is: each event's row is written once.
        await repo.write_history(agreement)
    assert await history_of(sql, a["id"]) == [
        (1, "created", {}, "qfsw-editor"),
        (2, "submitted", {}, "system"),
        (3, "signed", {"signed_on": "2024-01-10"}, "system"),
    ]
    audit = await sql.fetch(
        "select action from audit_log where entity_id = $1 order by id", a["id"]
    )
    assert [r["action"] for r in audit] == [
        "agreement.created", "agreement.submitted", "agreement.signed"
    ]  # fmt: skip


async def test_the_source_key_finds_its_agreement_on_the_driver(create, db, sql):
    a = await create()
    await sql.execute("update agreements set source_key = 'demo:x' where id = $1", a["id"])
    async with UnitOfWork(db.sessionmaker, pool=db.write_pool) as uow:
        repo = AgreementRepository(uow)
        found = await repo.find_by_source_key("demo:x")
        assert found is not None
        assert (found.id, found.source_key) == (a["id"], "demo:x")
        assert await repo.find_by_source_key("demo:y") is None
