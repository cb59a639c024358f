"""Indicators over the API and the demo targets of seed 000, computed from records fed through
the consumer's handlers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from tansiq_common.problems import problem_type
from tansiq_common.schema import audit_log, outbox
from tansiq_reporting import demo

from .world import World


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 9, tzinfo=UTC)


@pytest.fixture
async def seed000(world: World, qa):
    """The ICD's partnership agreements, trainings and placements, and ministries' engagements
    with international partners, some through the coordinating body."""
    icd, undp = qa["icd"], await world.org("UNDP", kind="un_entity", country=None)
    for year in (2018, 2020, 2022):
        await world.agreement(
            icd,
            [undp],
            status="in_force",
            kind="partnership_agreement",
            cleared=True,
            signed_on=date(year, 11, 20),
            effective_from=date(year + 1, 1, 1),
        )
    await world.agreement(
        icd, [undp], status="in_force", kind="mou", cleared=True, signed_on=date(2021, 1, 1)
    )  # another kind: not counted
    for year, trained in ((2019, 26), (2020, 12), (2021, 18), (2021, 11), (2022, 31)):
        await world.engagement(
            icd,
            [undp],
            start=at(year, 4, 1),
            kind="training",
            attendees={"total": 40, "nationals": 35, "nationals_trained": trained},
            channel="via_coordinating_body",
        )
    await world.engagement(
        icd,
        [undp],
        start=at(2022, 6, 1),
        kind="training",
        status="cancelled",
        attendees={"total": 40, "nationals": 35, "nationals_trained": 99},
    )
    for year, placed in ((2019, 4), (2020, 3), (2022, 5)):
        await world.engagement(
            icd,
            [undp],
            start=at(year, 9, 1),
            kind="placement",
            attendees={"total": placed, "nationals": placed, "nationals_trained": 0},
            channel="via_coordinating_body",
        )
    # Ministries' direct engagements with international partners; the ICD's trainings and
    # placements go through the coordinating body: 2019 two of three, 2022 two of three.
    await world.engagement(qa["moe"], [undp], start=at(2019, 5, 1), channel="direct")
    await world.engagement(
        qa["moph"], [undp], start=at(2022, 5, 1), channel="direct", visibility="restricted"
    )
    return qa


async def test_the_demo_targets_compute_from_the_records(client, auth_headers, db, seed000):
    report = await demo.seed(db)
    assert (report["created"], report["kept"], report["failed"]) == (4, 0, 0)
    again = await demo.seed(db)
    assert (again["created"], again["kept"], again["ids"]) == (0, 4, report["ids"])
    coordinator = auth_headers(seed000["icd"], ["coordinator"])
    listed = await client.get("/v1/indicators?country=QA", headers=coordinator)
    assert {i["metric"] for i in listed.json()["items"]} == {
        "agreements_signed",
        "nationals_trained",
        "placements",
        "coordinated_engagement_share",
    }
    ids = report["ids"]

    signed = (
        await client.get(
            f"/v1/indicators/{ids['demo:qa-seed000-partnership-agreements']}", headers=coordinator
        )
    ).json()["progress"]
    assert (signed["actual"], signed["target"], signed["percent_of_target"], signed["status"]) == (
        3.0,
        3.0,
        100.0,
        "achieved",
    )
    assert signed["as_of"] == "2022-12-31"
    assert [p["value"] for p in signed["series"]] == [None, 1.0, None, 1.0, None, 1.0]

    trained = (
        await client.get(
            f"/v1/indicators/{ids['demo:qa-seed000-nationals-trained']}", headers=coordinator
        )
    ).json()["progress"]
    assert [(p["year"], p["value"]) for p in trained["series"]] == [
        (2016, None),
        (2017, None),
        (2018, None),
        (2019, 26.0),
        (2020, 12.0),
        (2021, 29.0),
        (2022, 31.0),
    ]
    assert (trained["actual"], trained["status"]) == (31.0, "achieved")

    placed = (
        await client.get(f"/v1/indicators/{ids['demo:qa-seed000-placements']}", headers=coordinator)
    ).json()["progress"]
    assert (placed["actual"], placed["percent_of_target"], placed["status"]) == (
        12.0,
        40.0,
        "off_track",
    )

    share = (
        await client.get(
            f"/v1/indicators/{ids['demo:qa-seed000-coordinated-share']}", headers=coordinator
        )
    ).json()["progress"]
    # 2019: MOE direct + training + placement (2 of 3); 2022: training, placement, MOPH direct.
    assert share["baseline"] == pytest.approx(2 / 3)
    assert share["target"] == pytest.approx(2 / 3 * 1.25)
    assert share["actual"] == pytest.approx(2 / 3)
    assert share["status"] == "off_track"
    # A viewer of another ministry does not count the restricted MOPH engagement.
    viewer = auth_headers(seed000["moe"], ["viewer"])
    seen = (
        await client.get(
            f"/v1/indicators/{ids['demo:qa-seed000-coordinated-share']}", headers=viewer
        )
    ).json()["progress"]
    assert seen["actual"] == 1.0
    assert seen["status"] == "achieved"


async def test_coordinators_of_the_country_define_revise_and_archive(
    client, auth_headers, seed000, world
):
    body = {
        "country": "QA",
        "name": {"en": "Engagements with partners", "ar": "الأنشطة مع الشركاء"},
        "metric": "engagements",
        "filters": {"kinds": ["training"], "sdgs": [16]},
        "window": "cumulative",
        "baseline": {"year": 2018, "value": 0},
        "target": {"value": 10, "deadline": "2022-12-31"},
    }
    coordinator = auth_headers(seed000["icd"], ["coordinator"], sub="amal")
    for headers, slug in (
        (auth_headers(seed000["icd"], ["viewer"]), "role-not-allowed"),
        (auth_headers(seed000["moe"], ["coordinator"]), "not-indicators-coordinator"),
    ):
        r = await client.post("/v1/indicators", json=body, headers=headers)
        assert (r.status_code, r.json()["type"]) == (403, problem_type(slug))
    sy = await world.org("MOFAE", country="SY", designations=("coordinating_body",))
    r = await client.post("/v1/indicators", json=body, headers=auth_headers(sy, ["coordinator"]))
    assert r.status_code == 403
    created = await client.post("/v1/indicators", json=body, headers=coordinator)
    assert created.status_code == 201, created.text
    indicator = created.json()
    assert created.headers["location"] == f"/v1/indicators/{indicator['id']}"
    assert (indicator["version"], indicator["progress"]["actual"]) == (1, 5.0)  # 5 trainings
    bad = await client.post(
        "/v1/indicators", json={**body, "metric": "agreements_signed"}, headers=coordinator
    )
    assert (bad.status_code, bad.json()["type"]) == (422, problem_type("invalid-indicator"))
    path = f"/v1/indicators/{indicator['id']}"
    patch = {"target": {"value": 5, "deadline": "2022-12-31"}}
    missing = await client.patch(path, json=patch, headers=coordinator)
    assert missing.status_code == 428
    revised = await client.patch(path, json=patch, headers={**coordinator, "If-Match": '"1"'})
    assert revised.status_code == 200, revised.text
    assert (revised.json()["version"], revised.json()["progress"]["status"]) == (2, "achieved")
    archived = await client.post(f"{path}/actions/archive", headers=coordinator)
    assert archived.json()["status"] == "archived"
    again = await client.post(f"{path}/actions/archive", headers=coordinator)
    assert (again.status_code, again.json()["type"]) == (
        409,
        problem_type("indicator-status-conflict"),
    )
    gone = await client.get("/v1/indicators/not-an-id", headers=coordinator)
    assert (gone.status_code, gone.json()["type"]) == (404, problem_type("indicator-not-found"))
    async with world.db.engine.connect() as conn:
        audits = (await conn.execute(sa.select(audit_log.c.action).order_by(audit_log.c.id))).all()
        events = (
            await conn.execute(
                sa.select(outbox.c.type)
                .where(outbox.c.topic == "reporting.indicator.v1")
                .order_by(outbox.c.seq)
            )
        ).all()
    assert [a.action for a in audits] == [
        "indicator.defined",
        "indicator.revised",
        "indicator.archived",
    ]
    assert [e.type for e in events] == [
        "tansiq.reporting.indicator.defined.v1",
        "tansiq.reporting.indicator.revised.v1",
        "tansiq.reporting.indicator.archived.v1",
    ]
