"""The scheduled expiry: agreements past `expires_on` expire once, however many replicas run it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from tansiq_agreements.agreements.service import expire_due
from tansiq_agreements.app import create_app
from tansiq_common.db import Database
from tansiq_common.testing.plugin import running_app

EDITOR = ("qfsw", "editor")


@pytest.fixture
async def db(agreements_db) -> AsyncIterator[Database]:
    database = Database(agreements_db, pool_size=4, max_overflow=0)
    yield database
    await database.dispose()


async def in_force(client, as_, create, *, expires_on: str) -> str:
    a = await create(effective_from="2019-01-01", expires_on=expires_on)
    url = f"/v1/agreements/{a['id']}/actions"
    assert (await client.post(f"{url}/sign", json={"signed_on": "2018-12-20"},
                              headers=as_(*EDITOR))).status_code == 200  # fmt: skip
    assert (await client.post(f"{url}/enter-into-force", headers=as_(*EDITOR))).status_code == 200
    return str(a["id"])


async def copies(sql, agreement_id: str, n: int) -> list[str]:
    """`n` more agreements in the same state, written straight into the table."""
    made = []
    for _ in range(n):
        made.append(
            await sql.fetchval(
                """
                insert into agreements
                select (jsonb_populate_record(a, jsonb_build_object('id', gen_random_uuid()))).*
                from agreements a where id = $1
                returning id::text
                """,
                agreement_id,
            )
        )
    return made


async def test_only_agreements_past_their_expiry_expire_and_only_once(
    client, as_, create, db, sql, outbox
):
    past = await in_force(client, as_, create, expires_on="2020-12-31")
    future = await in_force(client, as_, create, expires_on="2099-12-31")
    draft = (await create(effective_from="2019-01-01", expires_on="2020-12-31"))["id"]
    signed = (await create(effective_from="2019-01-01", expires_on="2020-06-30"))["id"]
    await client.post(f"/v1/agreements/{signed}/actions/sign", json={"signed_on": "2019-02-01"},
                      headers=as_(*EDITOR))  # fmt: skip

    assert sorted(await expire_due(db.sessionmaker)) == sorted([past, signed])
    statuses = dict(await sql.fetch("select id::text, status from agreements"))
    assert statuses == {past: "expired", signed: "expired", future: "in_force", draft: "draft"}
    event = (await outbox(past))[-1]
    assert event["type"] == "tansiq.agreements.agreement.expired.v1"
    assert event["status"] == "expired"
    history = await sql.fetchrow(
        "select event, actor_sub, details from agreement_history where agreement_id = $1 "
        "order by version desc limit 1",
        past,
    )
    assert (history["event"], history["actor_sub"]) == ("expired", "agreements-expiry")
    assert history["details"] == '{"automatic": true, "expires_on": "2020-12-31"}'

    events = await sql.fetchval("select count(*) from outbox")
    assert await expire_due(db.sessionmaker) == []  # idempotent
    assert await sql.fetchval("select count(*) from outbox") == events


async def test_replicas_running_it_at_once_expire_each_agreement_exactly_once(
    client, as_, create, db, sql
):
    first = await in_force(client, as_, create, expires_on="2020-12-31")
    due = [first, *await copies(sql, first, 29)]
    runs = await asyncio.gather(*(expire_due(db.sessionmaker, batch=4) for _ in range(3)))
    expired = [agreement for run in runs for agreement in run]
    assert sorted(expired) == sorted(due)  # each once, none twice
    per_agreement = await sql.fetch(
        "select aggregateid, count(*) as n from outbox "
        "where type = 'tansiq.agreements.agreement.expired.v1' group by aggregateid"
    )
    assert {r["aggregateid"]: r["n"] for r in per_agreement} == dict.fromkeys(due, 1)
    assert await sql.fetchval("select count(*) from agreements where status = 'expired'") == 30


async def test_the_service_runs_it_in_the_background(client, as_, create, agreements_settings, sql):
    past = await in_force(client, as_, create, expires_on="2020-12-31")
    settings = agreements_settings.model_copy(update={"run_expiry": True})
    async with running_app(create_app(settings)):
        for _ in range(50):
            if await sql.fetchval("select status from agreements where id = $1", past) == "expired":
                break
            await asyncio.sleep(0.1)
    assert await sql.fetchval("select status from agreements where id = $1", past) == "expired"
