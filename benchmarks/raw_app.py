# ruff: noqa: S608 - SQL built from constant column lists; every value is a bound parameter
"""The baseline of `make bench`: the same work as the registry's endpoints, in raw Starlette +
asyncpg, with no framework, no auth and no ORM. Run by benchmarks/bench.py under uvicorn.

    RAW_DATABASE_URL=postgresql://... uvicorn benchmarks.raw_app:app
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

COLUMNS = (
    "id, kind, name_ar, name_en, acronym, country, parent_id, ministry_id, scope, "
    "iati_identifier, iati_org_type, website, reporting_lines, designations, status, "
    "source_key, version, created_at, updated_at"
)
pool: asyncpg.Pool | None = None


def _org(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "kind": row["kind"],
        "names": {"ar": row["name_ar"], "en": row["name_en"]},
        "acronym": row["acronym"],
        "country": row["country"],
        "parent_id": str(row["parent_id"]) if row["parent_id"] else None,
        "ministry_id": str(row["ministry_id"]) if row["ministry_id"] else None,
        "scope": row["scope"],
        "iati_identifier": row["iati_identifier"],
        "iati_org_type": row["iati_org_type"],
        "website": row["website"],
        "reporting_lines": json.loads(row["reporting_lines"]),
        "designations": list(row["designations"]),
        "status": row["status"],
        "source_key": row["source_key"],
        "version": row["version"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, media_type="application/json")


async def get_one(request: Request) -> Response:
    assert pool is not None
    try:
        org_id = uuid.UUID(request.path_params["org_id"])
    except ValueError:
        return _json({"detail": "not found"}, 404)
    row = await pool.fetchrow(f"SELECT {COLUMNS} FROM organizations WHERE id = $1", org_id)
    return _json(_org(row)) if row else _json({"detail": "not found"}, 404)


async def list_page(request: Request) -> Response:
    assert pool is not None
    q = request.query_params.get("q")
    kind = request.query_params.get("kind")
    limit = int(request.query_params.get("limit", "50"))
    where, args = ["status = 'active'"], []
    if kind:
        args.append(kind)
        where.append(f"kind = ${len(args)}")
    if q:
        for term in q.casefold().split():
            args.append(f"%{term}%")
            where.append(f"search_text LIKE ${len(args)}")
    args.append(limit + 1)
    rows = await pool.fetch(
        f"SELECT {COLUMNS} FROM organizations WHERE {' AND '.join(where)} "
        f"ORDER BY created_at, id LIMIT ${len(args)}",
        *args,
    )
    return _json({"items": [_org(r) for r in rows[:limit]], "next_cursor": None})


async def _side_effects(conn: asyncpg.Connection, org: dict[str, Any], action: str) -> None:
    await conn.execute(
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, headers) "
        "VALUES ($1, 'organization', $2, $3, $4, 'registry.organization.v1', '{}')",
        uuid.uuid4(),
        org["id"],
        f"tansiq.registry.organization.{action}.v1",
        json.dumps(org),
    )
    await conn.execute(
        "INSERT INTO audit_log (actor_sub, actor_org, actor_roles, action, entity_type, "
        "entity_id, request_id, changed_fields) "
        "VALUES ('bench', NULL, '{registry_admin}', $1, 'organization', $2, NULL, '[]')",
        f"organization.{action}",
        org["id"],
    )
    await conn.execute("NOTIFY tansiq_outbox")


async def create(request: Request) -> Response:
    assert pool is not None
    body = await request.json()
    now = datetime.now(UTC)
    org_id = uuid.uuid4()
    names = body["names"]
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "INSERT INTO organizations (id, kind, name_ar, name_en, acronym, scope, "
            "iati_org_type, status, search_text, version, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, 'international', 40, 'active', $6, 1, $7, $7) "
            f"RETURNING {COLUMNS}",
            org_id,
            body["kind"],
            names.get("ar"),
            names.get("en"),
            body.get("acronym"),
            " ".join(filter(None, (names.get("ar"), names.get("en")))).casefold(),
            now,
        )
        org = _org(row)
        await _side_effects(conn, org, "created")
    return _json(org, 201)


async def patch(request: Request) -> Response:
    assert pool is not None
    body = await request.json()
    org_id = uuid.UUID(request.path_params["org_id"])
    async with pool.acquire() as conn, conn.transaction():
        current = await conn.fetchrow(
            "SELECT version FROM organizations WHERE id = $1 FOR UPDATE", org_id
        )
        if current is None:
            return _json({"detail": "not found"}, 404)
        row = await conn.fetchrow(
            "UPDATE organizations SET acronym = $2, version = version + 1, updated_at = $3 "
            f"WHERE id = $1 AND version = $4 RETURNING {COLUMNS}",
            org_id,
            body.get("acronym"),
            datetime.now(UTC),
            current["version"],
        )
        org = _org(row)
        await _side_effects(conn, org, "updated")
    return _json(org)


@asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(os.environ["RAW_DATABASE_URL"], min_size=4, max_size=10)
    yield
    await pool.close()


app = Starlette(
    routes=[
        Route("/v1/organizations/{org_id}", get_one, methods=["GET"]),
        Route("/v1/organizations/{org_id}", patch, methods=["PATCH"]),
        Route("/v1/organizations", list_page, methods=["GET"]),
        Route("/v1/organizations", create, methods=["POST"]),
    ],
    lifespan=lifespan,
)
