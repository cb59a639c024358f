"""Text no database stores in an item: a lone surrogate, which JSON's `\\ud800` escape decodes
to. It is refused where it is, and the batch's other items go in (rows are encoded only from
validated items: nothing unencodable reaches the write)."""

from __future__ import annotations

import json

from .conftest import ingest_item, outbox
from .test_ingest_api import URL


async def test_an_item_with_a_lone_surrogate_is_rejected_alone(client, auth_headers, sql):
    job = auth_headers(ingest_item()["lead_org_id"], ["integration"], sub="calendar-job")
    odd = json.dumps(ingest_item("odd-1", outcome="x")).replace(
        '"outcome": "x"', '"outcome": "before \\ud800 after"'
    )
    body = f'{{"items": [{odd}, {json.dumps(ingest_item("fine-1"))}]}}'
    response = await client.post(
        URL, content=body, headers={**job, "Content-Type": "application/json"}
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["external_id"], r["result"]) for r in results] == [
        ("odd-1", "rejected"),
        ("fine-1", "created"),
    ]
    assert [(e["field"], e["type"]) for e in results[0]["errors"]] == [
        ("outcome", "validation-error")
    ]
    assert results[0]["retryable"] is False
    assert [e["payload"]["external_id"] for e in await outbox(sql)] == ["fine-1"]
