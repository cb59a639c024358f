"""The ingestion's bulk statements find the engagements they write by key: a slice's cost is
its own rows', however many engagements the table holds (PostgreSQL's plans, not timings)."""

from __future__ import annotations

import json
import types
from collections.abc import Iterator, Sequence
from typing import Any

import asyncpg
import pytest
from tansiq_engagements.engagements import ingest
from tansiq_engagements.engagements.ingest import SLICE
from tansiq_engagements.engagements.repository import EngagementRepository

from .conftest import ingest_item

# Enough rows that reading the table costs the planner several times a slice's key lookups
# (with a few thousand, a scan is cheaper, and chosen: the cost is bounded either way; at
# 20,000 of these rows the scan costs the planner about four times the lookups of a slice).
HELD = 20_000


@pytest.fixture
async def held(client, auth_headers, sql) -> asyncpg.Connection:
    """HELD engagements from an integration job (copies of one it sent), analyzed; a connection
    to the database (plans are made for what ANALYZE found)."""
    job = auth_headers(ingest_item()["lead_org_id"], ["integration"], sub="calendar-job")
    response = await client.post(
        "/v1/ingest/engagements", json={"items": [ingest_item()]}, headers=job
    )
    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    await sql.execute(
        "INSERT INTO engagements SELECT (jsonb_populate_record(e, jsonb_build_object("
        "'id', gen_random_uuid(), 'external_id', 'copy-' || n))).* "
        "FROM engagements e, generate_series(1, $2) AS n WHERE e.id = $1::uuid",
        result["id"],
        HELD - 1,
    )
    await sql.execute("ANALYZE engagements")
    return sql


def scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of the plan that reads the engagements table."""
    if plan.get("Relation Name") == "engagements" and "Scan" in plan["Node Type"]:
        yield plan
    for child in plan.get("Plans", []):
        yield from scans(child)


async def explain(connection: asyncpg.Connection, statement: str, args: Sequence[Any]) -> dict:
    """The plan PostgreSQL makes for `statement` (the text the unit of work sends) with these
    arguments (not run)."""
    document = await connection.fetchval(f"EXPLAIN (FORMAT JSON) {statement}", *args)
    plan = json.loads(document) if isinstance(document, str) else document
    return plan[0]["Plan"]


async def test_a_slice_of_updated_rows_finds_them_by_primary_key(held, sql):
    rows = await sql.fetchval(
        "SELECT jsonb_agg(to_jsonb(e) || jsonb_build_object('loaded_version', e.version, "
        "'version', e.version + 1)) FROM (SELECT * FROM engagements ORDER BY id LIMIT $1) AS e",
        SLICE,
    )
    ids = [row["id"] for row in json.loads(rows)]
    params = {
        "created": "[]",
        "changed": rows,
        "events": json.dumps(
            [
                {
                    "aggregateid": i,
                    "aggregatetype": "engagement",
                    "type": "t",
                    "topic": "t",
                    "headers": {},
                }
                for i in ids
            ]
        ),
        "audits": json.dumps(
            [
                {
                    "action": "engagement.updated",
                    "entity_id": i,
                    "request_id": None,
                    "changed_fields": ["outcome"],
                }
                for i in ids
            ]
        ),
    }

    plan = await explain(held, ingest._WRITE, [params[name] for name in ingest.WRITE_PARAMETERS])

    assert [(s["Node Type"], s.get("Index Name")) for s in scans(plan)] == [
        ("Index Scan", "pk_engagements")
    ]


async def test_a_batchs_keys_are_locked_through_the_unique_index(held, sql):
    # A batch locks all its keys at once (up to 1,000): as many as a slice here, so that the
    # lookups stay well below a scan of HELD rows.
    keys = [
        (r["source"], r["external_id"])
        for r in await sql.fetch(
            "SELECT source, external_id FROM engagements ORDER BY id LIMIT $1", SLICE
        )
    ]
    captured: dict[str, Any] = {}

    async def fetch(sql: str, *args: Any) -> list[Any]:
        captured.update(sql=sql, args=args)
        return []

    await EngagementRepository(types.SimpleNamespace(fetch=fetch)).lock_keys(keys)  # type: ignore[arg-type]

    plan = await explain(held, captured["sql"], captured["args"])

    assert [(s["Node Type"], s.get("Index Name")) for s in scans(plan)] == [
        ("Index Scan", "uq_engagements_source_external_id")
    ]
