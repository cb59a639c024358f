"""The HTTP plumbing every service gets from create_service_app, against a real database."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, ConfigDict
from starlette.types import Scope
from tansiq_common.app import GC_YOUNG_THRESHOLD, create_service_app
from tansiq_common.problems import Conflict, problem_type
from tansiq_common.schema import audit_log, idempotency_keys
from tansiq_common.settings import ServiceSettings
from tansiq_common.testing.plugin import running_app
from tansiq_common.uow import UnitOfWork

router = APIRouter()


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    size: int = 1


@router.post("/v1/things", status_code=201)
async def create_thing(thing: Thing, request: Request) -> dict[str, Any]:
    if thing.name == "taken":
        raise Conflict("That name is taken.")
    async with UnitOfWork(request.app.state.db.sessionmaker) as uow:
        uow.audit("created", "thing", thing.name, ["name", "size"])
    count = await _audit_count(request.app)
    return {"name": thing.name, "size": thing.size, "count": count}


@router.get("/v1/boom")
async def boom() -> None:
    raise RuntimeError("secret internal detail")


async def _audit_count(app: FastAPI) -> int:
    async with app.state.db.engine.connect() as conn:
        return int(
            (await conn.execute(sa.select(sa.func.count()).select_from(audit_log))).scalar_one()
        )


async def _identify(scope: Scope) -> str | None:
    # Stands in for the JWT authenticator: the caller is named by a test header.
    for key, value in scope["headers"]:
        if key == b"x-test-caller":
            return str(value.decode())
    return None


def _settings(url: str, **overrides: Any) -> ServiceSettings:
    return ServiceSettings(
        database_url=url, max_body_bytes=2048, run_relay=False, run_consumers=False, **overrides
    )


@pytest.fixture
async def client(infra_db) -> AsyncIterator[httpx.AsyncClient]:
    app = create_service_app(service="example", settings=_settings(infra_db.url), routers=[router])
    app.state.identify_caller = _identify
    async with running_app(app) as client:
        yield client


async def test_unknown_field_is_422_problem_json(client):
    response = await client.post("/v1/things", json={"name": "a", "id": "server-owned"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "urn:tansiq:problem:validation-error"
    assert body["errors"][0]["field"] == "id"
    assert body["request_id"] == response.headers["x-request-id"]


async def test_malformed_json_is_400(client):
    response = await client.post(
        "/v1/things", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["type"] == "urn:tansiq:problem:malformed-json"


async def test_domain_problem_keeps_its_status(client):
    response = await client.post("/v1/things", json={"name": "taken"})
    assert response.status_code == 409
    assert response.json()["title"] == "Conflict"


async def test_unexpected_error_is_500_without_internals(client):
    response = await client.get("/v1/boom")
    assert response.status_code == 500
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert response.json()["request_id"]


async def test_unknown_route_is_problem_json(client):
    response = await client.get("/v1/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_oversize_body_is_413_declared_or_streamed(client):
    big = b'{"name": "' + b"x" * 4096 + b'"}'
    declared = await client.post(
        "/v1/things", content=big, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 512):
            yield big[start : start + 512]

    streamed = await client.post(
        "/v1/things", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.json()["status"] == 413


async def test_request_id_is_kept_when_sane_and_replaced_when_not(client):
    kept = await client.get("/health/live", headers={"x-request-id": "abc-123"})
    assert kept.headers["x-request-id"] == "abc-123"
    replaced = await client.get("/health/live", headers={"x-request-id": "bad id\nwith newline"})
    assert replaced.headers["x-request-id"] != "bad id\nwith newline"


async def test_ready_checks_the_database(client):
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


async def test_ready_is_503_when_the_database_is_unreachable(infra_db_url):
    url = infra_db_url.replace("127.0.0.1:", "127.0.0.1:1").rsplit(":", 1)
    unreachable = "postgresql+asyncpg://tansiq:tansiq@127.0.0.1:9/nowhere"
    app = create_service_app(service="example", settings=_settings(unreachable), routers=[router])
    async with running_app(app) as client:
        response = await client.get("/health/ready")
        assert url  # the real URL is not used here
        assert response.status_code == 503
        assert response.json()["checks"]["database"].startswith("failing")
        assert (await client.get("/health/live")).status_code == 200


async def test_a_request_that_finds_no_free_connection_is_503_and_writes_nothing(infra_db_url):
    settings = _settings(
        infra_db_url, database_pool_size=1, database_max_overflow=0, database_pool_timeout_s=0.2
    )
    app = create_service_app(service="example", settings=settings, routers=[router])
    async with running_app(app) as client:
        # The pool's only connection is busy for as long as the request waits.
        async with app.state.db.engine.connect() as busy:
            await busy.execute(sa.text("SELECT 1"))
            response = await client.post("/v1/things", json={"name": "waiting"})
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        assert response.json()["type"] == problem_type("service-unavailable")
        assert await _audit_count(app) == 0
        # Free again: the same request succeeds.
        assert (await client.post("/v1/things", json={"name": "waiting"})).status_code == 201


async def test_metrics_count_requests_by_route_template(client):
    await client.post("/v1/things", json={"name": "m"})
    text = (await client.get("/metrics")).text
    assert (
        'tansiq_http_requests_total{method="POST",route="/v1/things",service="example",status="201"}'
        in text
    )


async def test_idempotency_key_replays_the_first_response(client, infra_db):
    headers = {"idempotency-key": "k-1", "x-test-caller": "alice|org-1"}
    first = await client.post("/v1/things", json={"name": "a"}, headers=headers)
    second = await client.post("/v1/things", json={"name": "a"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    async with infra_db.engine.connect() as conn:
        audits = (await conn.execute(sa.select(sa.func.count()).select_from(audit_log))).scalar()
    assert audits == 1  # the handler ran once


async def test_idempotency_key_with_another_body_is_422(client):
    headers = {"idempotency-key": "k-2", "x-test-caller": "alice|org-1"}
    assert (await client.post("/v1/things", json={"name": "a"}, headers=headers)).status_code == 201
    reused = await client.post("/v1/things", json={"name": "b"}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["type"] == "urn:tansiq:problem:idempotency-key-reused"


async def test_idempotency_keys_belong_to_their_caller(client):
    key = {"idempotency-key": "shared"}
    a = await client.post("/v1/things", json={"name": "a"}, headers={**key, "x-test-caller": "a|1"})
    b = await client.post("/v1/things", json={"name": "a"}, headers={**key, "x-test-caller": "b|2"})
    assert a.json()["count"] == 1
    assert b.json()["count"] == 2  # not a replay of a's response
    assert "idempotent-replayed" not in b.headers


async def test_a_refused_request_releases_its_key(client, infra_db):
    headers = {"idempotency-key": "k-3", "x-test-caller": "alice|org-1"}
    refused = await client.post("/v1/things", json={"name": "taken"}, headers=headers)
    assert refused.status_code == 409
    async with infra_db.engine.connect() as conn:
        kept = (
            await conn.execute(sa.select(sa.func.count()).select_from(idempotency_keys))
        ).scalar()
    assert kept == 0
    fixed = await client.post("/v1/things", json={"name": "free"}, headers=headers)
    assert fixed.status_code == 201


async def test_expired_idempotency_keys_are_purged(client, infra_db):
    from datetime import UTC, datetime, timedelta

    from tansiq_common.idempotency import purge_expired

    headers = {"idempotency-key": "old", "x-test-caller": "alice|org-1"}
    assert (await client.post("/v1/things", json={"name": "a"}, headers=headers)).status_code == 201
    headers["idempotency-key"] = "fresh"
    assert (await client.post("/v1/things", json={"name": "b"}, headers=headers)).status_code == 201
    async with infra_db.engine.begin() as conn:
        await conn.execute(
            sa.update(idempotency_keys)
            .where(idempotency_keys.c.key == "old")
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert await purge_expired(infra_db) == 1
    async with infra_db.engine.connect() as conn:
        left = (await conn.execute(sa.select(idempotency_keys.c.key))).scalars().all()
    assert left == ["fresh"]


async def test_a_running_app_collects_young_objects_less_often_and_restores_it_when_stopped(
    infra_db,
):
    before = gc.get_threshold()
    app = create_service_app(service="example", settings=_settings(infra_db.url), routers=[router])
    async with running_app(app):
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
