"""The batch door runs on the driver: a call takes one connection from the writes' pool and
none from the engine, whether its items are written in bulk, updated, or (the bulk write
refused) one by one (engagements.ingest, tansiq_common.uow)."""

from __future__ import annotations

import pytest

from .conftest import QFSW, WIFAQ, ingest_item

URL = "/v1/ingest/engagements"


@pytest.fixture
def job(auth_headers):
    return auth_headers(QFSW.id, ["integration"], sub="calendar-job")


def _on_driver(taken: dict[str, int]) -> None:
    assert taken == {"engine": 0, "write_pool": 1}
    taken["write_pool"] = 0


async def test_a_batch_is_locked_checked_and_written_on_one_driver_connection(
    client, job, sql, connections
):
    created = await client.post(
        URL, json={"items": [ingest_item("d-1"), ingest_item("d-2")]}, headers=job
    )
    assert created.status_code == 200, created.text
    _on_driver(connections)
    ids = {r["external_id"]: r["id"] for r in created.json()["results"]}
    assert [r["result"] for r in created.json()["results"]] == ["created", "created"]

    # The keys locked and updated in bulk, a new one beside them, a refused one.
    again = await client.post(
        URL,
        json={
            "items": [
                ingest_item("d-1", outcome="A joint work plan"),
                ingest_item("d-2"),
                ingest_item("d-3", lead_org_id=WIFAQ.id),
                ingest_item("d-4", attendees={"total": 3, "nationals": 4}),
            ]
        },
        headers=job,
    )
    assert again.status_code == 200, again.text
    _on_driver(connections)
    results = again.json()["results"]
    assert [(r["external_id"], r["result"]) for r in results] == [
        ("d-1", "updated"),
        ("d-2", "unchanged"),
        ("d-3", "created"),
        ("d-4", "rejected"),
    ]
    assert (results[0]["id"], results[0]["version"], results[0]["changed_fields"]) == (
        ids["d-1"],
        2,
        ["outcome"],
    )
    ids["d-3"] = results[2]["id"]
    events = await sql.fetch(
        "SELECT aggregateid::text AS aggregateid, type FROM outbox ORDER BY seq"
    )
    assert [(r["aggregateid"], r["type"].split(".")[-2]) for r in events] == [
        (ids["d-1"], "created"),
        (ids["d-2"], "created"),
        (ids["d-1"], "updated"),
        (ids["d-3"], "created"),
    ]
    audits = await sql.fetch("SELECT entity_id, action, actor_sub FROM audit_log ORDER BY id")
    assert [(r["entity_id"], r["action"], r["actor_sub"]) for r in audits] == [
        (ids["d-1"], "engagement.created", "calendar-job"),
        (ids["d-2"], "engagement.created", "calendar-job"),
        (ids["d-1"], "engagement.updated", "calendar-job"),
        (ids["d-3"], "engagement.created", "calendar-job"),
    ]


async def test_items_applied_one_by_one_stay_on_the_driver_connection(
    client, job, sql, connections
):
    # The bulk write refused (a trigger refusing one row): the items go one by one, each an
    # insert of its own in a savepoint, on the same connection.
    await sql.execute(
        """
        CREATE FUNCTION test_refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.external_id = 'poison' THEN RAISE EXCEPTION 'refused by the test'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_refuse_poison BEFORE INSERT ON engagements
            FOR EACH ROW EXECUTE FUNCTION test_refuse_poison();
        """
    )
    try:
        response = await client.post(
            URL,
            json={"items": [ingest_item("fine-1"), ingest_item("poison"), ingest_item("fine-2")]},
            headers=job,
        )
    finally:
        await sql.execute(
            "DROP TRIGGER test_refuse_poison ON engagements; DROP FUNCTION test_refuse_poison();"
        )
    assert response.status_code == 200, response.text
    _on_driver(connections)
    results = response.json()["results"]
    assert [(r["external_id"], r["result"]) for r in results] == [
        ("fine-1", "created"),
        ("poison", "rejected"),
        ("fine-2", "created"),
    ]
    rows = await sql.fetch("SELECT id::text, external_id FROM engagements ORDER BY external_id")
    assert [(r["id"], r["external_id"]) for r in rows] == [
        (results[0]["id"], "fine-1"),
        (results[2]["id"], "fine-2"),
    ]
    audits = await sql.fetch("SELECT entity_id, action FROM audit_log ORDER BY id")
    assert sorted((r["entity_id"], r["action"]) for r in audits) == sorted(
        [(results[0]["id"], "engagement.created"), (results[2]["id"], "engagement.created")]
    )
