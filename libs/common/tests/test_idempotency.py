"""Idempotency-Key under concurrency, long requests and failures, against the real database.

The app is the middleware alone in front of a route that counts how often it really ran, so each
test can tell "answered" from "executed".
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import Scope
from tansiq_common.idempotency import IdempotencyMiddleware, caller_key, fingerprint
from tansiq_common.schema import idempotency_keys

LEASE = timedelta(seconds=0.6)


def build_app(db, lease: timedelta = LEASE) -> tuple[FastAPI, Counter[str]]:
    runs: Counter[str] = Counter()
    app = FastAPI()

    @app.post("/v1/jobs/{name}", status_code=201)
    async def run_job(name: str, request: Request):
        runs[name] += 1
        await asyncio.sleep(float(request.query_params.get("seconds", "0")))
        if request.query_params.get("fail_first") and runs[name] == 1:
            return JSONResponse({"detail": "database unavailable"}, status_code=503)
        return {"job": name, "run": runs[name]}

    async def identify(scope: Scope) -> tuple[str, str] | None:
        headers = dict(scope["headers"])
        if b"x-sub" not in headers:
            return None
        return headers[b"x-sub"].decode(), headers[b"x-org"].decode()

    app.state.db = db
    app.state.identify_caller = identify
    app.add_middleware(IdempotencyMiddleware, ttl=timedelta(hours=24), lease=lease)
    return app, runs


@pytest.fixture
async def service(infra_db) -> AsyncIterator[tuple[httpx.AsyncClient, Counter[str]]]:
    app, runs = build_app(infra_db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client, runs


def caller(sub: str = "amal", org: str = "org-1", key: str = "k-1") -> dict[str, str]:
    return {"x-sub": sub, "x-org": org, "Idempotency-Key": key}


async def test_a_retry_while_the_first_request_runs_is_409_with_retry_after(service):
    client, runs = service
    first = asyncio.create_task(client.post("/v1/jobs/a?seconds=0.5", headers=caller()))
    await asyncio.sleep(0.15)
    retry = await client.post("/v1/jobs/a?seconds=0.5", headers=caller())
    assert retry.status_code == 409
    assert retry.headers["retry-after"] == "1"
    assert retry.headers["content-type"].startswith("application/problem+json")
    assert retry.json()["type"] == "urn:tansiq:problem:idempotency-key-in-flight"
    assert (await first).status_code == 201
    after = await client.post("/v1/jobs/a?seconds=0.5", headers=caller())
    assert after.status_code == 201
    assert after.headers["idempotent-replayed"] == "true"
    assert after.json() == {"job": "a", "run": 1}
    assert runs["a"] == 1


async def test_a_request_longer_than_its_lease_keeps_its_key(service):
    """The lease is renewed while the request runs: a retry past the first lease's end is
    still 409, not a second execution."""
    client, runs = service
    first = asyncio.create_task(client.post("/v1/jobs/long?seconds=2", headers=caller()))
    await asyncio.sleep(LEASE.total_seconds() * 2)  # well past the lease it started with
    retry = await client.post("/v1/jobs/long?seconds=2", headers=caller())
    assert retry.status_code == 409
    assert (await first).status_code == 201
    assert runs["long"] == 1


async def test_a_key_whose_request_died_is_taken_over_after_its_lease(service, infra_db):
    client, runs = service
    # What a process killed mid-request leaves: the key leased, no response, the lease over.
    now = datetime.now(UTC)
    async with infra_db.engine.begin() as conn:
        await conn.execute(
            sa.insert(idempotency_keys).values(
                caller=caller_key("amal", "org-1"),
                key="k-dead",
                method="POST",
                path="/v1/jobs/d",
                fingerprint=fingerprint("POST", "/v1/jobs/d", b"", b""),
                locked_until=now - timedelta(seconds=1),
                expires_at=now + timedelta(hours=24),
            )
        )
    taken_over = await client.post("/v1/jobs/d", headers=caller(key="k-dead"))
    assert taken_over.status_code == 201
    assert runs["d"] == 1
    replay = await client.post("/v1/jobs/d", headers=caller(key="k-dead"))
    assert replay.headers["idempotent-replayed"] == "true"
    assert runs["d"] == 1


async def test_a_lease_still_running_is_not_taken_over(service, infra_db):
    client, runs = service
    now = datetime.now(UTC)
    async with infra_db.engine.begin() as conn:
        await conn.execute(
            sa.insert(idempotency_keys).values(
                caller=caller_key("amal", "org-1"),
                key="k-alive",
                method="POST",
                path="/v1/jobs/e",
                fingerprint=fingerprint("POST", "/v1/jobs/e", b"", b""),
                locked_until=now + timedelta(seconds=30),
                expires_at=now + timedelta(hours=24),
            )
        )
    assert (await client.post("/v1/jobs/e", headers=caller(key="k-alive"))).status_code == 409
    assert runs["e"] == 0


async def test_concurrent_requests_with_one_key_execute_once(service):
    client, runs = service
    answers = await asyncio.gather(
        *(client.post("/v1/jobs/c?seconds=0.4", headers=caller(key="k-c")) for _ in range(8))
    )
    statuses = Counter(answer.status_code for answer in answers)
    assert runs["c"] == 1
    assert statuses[201] >= 1
    assert set(statuses) <= {201, 409}
    executed = [
        a for a in answers if a.status_code == 201 and "idempotent-replayed" not in a.headers
    ]
    assert len(executed) == 1


async def test_a_5xx_releases_the_key_so_a_retry_runs_again(service, infra_db):
    client, runs = service
    failed = await client.post("/v1/jobs/f?fail_first=1", headers=caller(key="k-f"))
    assert failed.status_code == 503
    async with infra_db.engine.connect() as conn:
        left = (
            await conn.execute(sa.select(sa.func.count()).select_from(idempotency_keys))
        ).scalar()
    assert left == 0
    retried = await client.post("/v1/jobs/f?fail_first=1", headers=caller(key="k-f"))
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    assert retried.json() == {"job": "f", "run": 2}
    assert runs["f"] == 2


async def test_callers_whose_sub_and_org_join_alike_do_not_share_keys(service):
    client, runs = service
    # "a|b" + "c" and "a" + "b|c" joined with "|" are the same string.
    first = await client.post("/v1/jobs/x", headers=caller(sub="a|b", org="c", key="k-x"))
    other = await client.post("/v1/jobs/x", headers=caller(sub="a", org="b|c", key="k-x"))
    assert first.status_code == other.status_code == 201
    assert "idempotent-replayed" not in other.headers
    assert runs["x"] == 2
    assert caller_key("a|b", "c") != caller_key("a", "b|c")
    assert caller_key('a","b', "c") != caller_key("a", 'b","c')


async def test_a_request_that_lost_its_lease_does_not_overwrite_the_new_holder(service, infra_db):
    client, runs = service
    first = asyncio.create_task(client.post("/v1/jobs/g?seconds=1", headers=caller(key="k-g")))
    await asyncio.sleep(0.2)
    # Another process took the key over (the first one's heartbeat had not reached the database).
    theirs = datetime.now(UTC) + timedelta(seconds=30)
    async with infra_db.engine.begin() as conn:
        await conn.execute(
            sa.update(idempotency_keys)
            .where(idempotency_keys.c.key == "k-g")
            .values(locked_until=theirs)
        )
    assert (await first).status_code == 201  # its client still gets its answer
    async with infra_db.engine.connect() as conn:
        row = (
            await conn.execute(sa.select(idempotency_keys).where(idempotency_keys.c.key == "k-g"))
        ).one()
    assert row.status_code is None  # the holder's response is still to come
    assert row.locked_until == theirs
    assert runs["g"] == 1
