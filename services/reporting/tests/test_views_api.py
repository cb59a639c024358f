"""The findings, scorecards, coverage and freshness endpoints: exact answers, visibility, the
country boundary, decisions, CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from tansiq_common.problems import problem_type
from tansiq_common.schema import audit_log, outbox
from tansiq_reporting.consumer import CONSUMER_NAME
from tansiq_reporting.findings.rules import RecordRef, finding_id

from .world import World


def fid(rule: str, kind: str, record_id: str) -> str:
    return finding_id(rule, RecordRef(kind, record_id))


@pytest.fixture
async def case(world: World, qa):
    """QA: MOE signed with UNESCO without clearance (C1) and leads a restricted engagement with
    UNICEF without a theme (C7); MOPH has an interagency C7 engagement and a clean one. SY: its
    coordinating body and a ministry with a C1."""
    signed = await world.agreement(
        qa["moe_dir"],
        [qa["unesco"]],
        status="signed",
        title='=HYPERLINK("x")',
        signed_on=date(2026, 1, 10),
    )
    hidden = await world.engagement(
        qa["moe"],
        [qa["unicef"]],
        sdgs=(),
        visibility="restricted",
        title="Secret talks",
        channel="via_coordinating_body",
        start=world.now - timedelta(days=40),
    )
    open_c7 = await world.engagement(
        qa["moph"],
        [qa["unicef"]],
        sdgs=(),
        title="-Health talks",
        channel="via_coordinating_body",
        start=world.now - timedelta(days=70),
    )
    clean = await world.engagement(
        qa["moph"],
        [qa["unesco"]],
        title="Clean",
        channel="via_coordinating_body",
        start=world.now - timedelta(days=100),
    )
    sy_cb = await world.org(
        "Ministry of Foreign Affairs and Expatriates",
        country="SY",
        designations=("coordinating_body",),
    )
    sy_min = await world.org("Ministry of Local Administration", country="SY")
    sy_signed = await world.agreement(
        sy_min,
        [qa["unesco"]],
        status="in_force",
        signed_on=date(2026, 1, 5),
        effective_from=date(2026, 1, 6),
    )
    return {
        **qa,
        "signed": signed,
        "hidden": hidden,
        "open_c7": open_c7,
        "clean": clean,
        "sy_cb": sy_cb,
        "sy_min": sy_min,
        "sy_signed": sy_signed,
    }


def ids(body) -> list[str]:
    return [item["id"] for item in body["items"]]


async def test_a_coordinator_lists_their_countrys_findings_with_filters_and_pages(
    client, auth_headers, case
):
    coordinator = auth_headers(case["icd"], ["coordinator"])
    r = await client.get("/v1/findings", headers=coordinator)
    assert r.status_code == 200, r.text
    expected = {
        fid("C1", "agreement", case["signed"]),
        fid("C7", "engagement", case["hidden"]),
        fid("C7", "engagement", case["open_c7"]),
    }
    assert set(ids(r.json())) == expected  # not Syria's C1
    first = await client.get("/v1/findings?limit=2", headers=coordinator)
    rest = await client.get(
        f"/v1/findings?limit=2&cursor={first.json()['next_cursor']}", headers=coordinator
    )
    assert rest.json()["next_cursor"] is None
    assert ids(first.json()) + ids(rest.json()) == ids(r.json())
    by_rule = await client.get("/v1/findings?rule=C7", headers=coordinator)
    assert set(ids(by_rule.json())) == expected - {fid("C1", "agreement", case["signed"])}
    by_ministry = await client.get(f"/v1/findings?ministry_id={case['moe']}", headers=coordinator)
    assert set(ids(by_ministry.json())) == {
        fid("C1", "agreement", case["signed"]),
        fid("C7", "engagement", case["hidden"]),
    }
    by_partner = await client.get(f"/v1/findings?partner={case['unesco']}", headers=coordinator)
    assert ids(by_partner.json()) == [fid("C1", "agreement", case["signed"])]
    resolved = await client.get("/v1/findings?status=resolved", headers=coordinator)
    assert ids(resolved.json()) == []
    later = await client.get("/v1/findings?since=2030-01-01T00:00:00", headers=coordinator)
    assert ids(later.json()) == []
    sy = await client.get("/v1/findings", headers=auth_headers(case["sy_cb"], ["coordinator"]))
    assert ids(sy.json()) == [fid("C1", "agreement", case["sy_signed"])]
    bad = await client.get("/v1/findings?cursor=bm9wZQ", headers=coordinator)
    assert bad.status_code == 400
    assert bad.json()["type"] == problem_type("invalid-cursor")


async def test_restricted_records_findings_reach_only_those_allowed(client, auth_headers, case):
    hidden_finding = fid("C7", "engagement", case["hidden"])
    moph_viewer = auth_headers(case["moph"], ["viewer"])
    r = await client.get("/v1/findings", headers=moph_viewer)
    assert hidden_finding not in ids(r.json())
    assert (
        await client.get(f"/v1/findings/{hidden_finding}", headers=moph_viewer)
    ).status_code == 404
    assert hidden_finding not in ids(
        (await client.get(f"/v1/findings?record_id={case['hidden']}", headers=moph_viewer)).json()
    )
    moe_viewer = auth_headers(case["moe_dir"], ["viewer"])  # a directorate of the owning ministry
    assert hidden_finding in ids((await client.get("/v1/findings", headers=moe_viewer)).json())
    unicef_viewer = auth_headers(case["unicef"], ["viewer"])  # a participant
    assert (
        await client.get(f"/v1/findings/{hidden_finding}", headers=unicef_viewer)
    ).status_code == 200
    sy_coordinator = auth_headers(case["sy_cb"], ["coordinator"])
    assert (
        await client.get(f"/v1/findings/{hidden_finding}", headers=sy_coordinator)
    ).status_code == 404


async def test_one_finding_explains_itself_in_both_languages_with_its_records(
    client, auth_headers, case
):
    c1 = fid("C1", "agreement", case["signed"])
    r = await client.get(f"/v1/findings/{c1}", headers=auth_headers(case["icd"], ["auditor"]))
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"1"'
    body = r.json()
    assert (body["rule"], body["status"], body["ministry_id"], body["country"]) == (
        "C1",
        "open",
        case["moe"],
        "QA",
    )
    assert body["rule_name"] == {"ar": "الإجازة", "en": "clearance"}
    assert body["ministry"] == {
        "id": case["moe"],
        "names": {"ar": "وزارة التربية", "en": "Ministry of Education"},
        "acronym": "MOE",
    }
    assert [p["id"] for p in body["partners"]] == [case["unesco"]]
    assert body["explanation"] == (
        'The agreement “=HYPERLINK("x")” with UNESCO reached “signed” without clearance by a '
        "coordinating body."
    )
    assert body["translations"]["explanation"]["ar"].startswith("بلغت الاتفاقية")
    assert body["record_details"] == [
        {
            "type": "agreement",
            "id": case["signed"],
            "kind": "cooperation_agreement",
            "status": "signed",
            "title": {"ar": 'اتفاقية =HYPERLINK("x")', "en": '=HYPERLINK("x")'},
            "org_id": case["moe_dir"],
            "ministry_id": case["moe"],
            "date": "2026-01-10",
            "expires_on": None,
            "visibility": "interagency",
        }
    ]
    arabic = await client.get(
        f"/v1/findings/{c1}",
        headers={**auth_headers(case["icd"], ["auditor"]), "Accept-Language": "ar-QA,ar;q=0.9"},
    )
    assert arabic.json()["explanation"] == arabic.json()["translations"]["explanation"]["ar"]
    assert arabic.json()["resolution"].startswith("إجازة الاتفاقية")
    missing = await client.get(
        "/v1/findings/not-a-uuid", headers=auth_headers(case["icd"], ["auditor"])
    )
    assert missing.status_code == 404
    assert missing.json()["type"] == problem_type("finding-not-found")


async def test_coordinators_acknowledge_and_accept_with_justification_audited_and_published(
    client, auth_headers, case, world
):
    c7 = fid("C7", "engagement", case["open_c7"])
    coordinator = auth_headers(case["icd"], ["coordinator"], sub="amal")
    ack = await client.post(f"/v1/findings/{c7}/actions/acknowledge", headers=coordinator)
    assert ack.status_code == 200, ack.text
    assert (ack.json()["status"], ack.json()["acknowledgement"]["by"], ack.headers["etag"]) == (
        "acknowledged",
        "amal",
        '"2"',
    )
    again = await client.post(f"/v1/findings/{c7}/actions/acknowledge", headers=coordinator)
    assert (again.status_code, again.json()["type"]) == (
        409,
        problem_type("finding-status-conflict"),
    )
    stale = await client.post(
        f"/v1/findings/{c7}/actions/accept",
        json={"justification": "x"},
        headers={**coordinator, "If-Match": '"1"'},
    )
    assert stale.status_code == 412
    empty = await client.post(
        f"/v1/findings/{c7}/actions/accept", json={"justification": ""}, headers=coordinator
    )
    assert empty.status_code == 422
    before = await client.get(f"/v1/scorecards?ministry_id={case['moph']}", headers=coordinator)
    assert before.json()["items"][0]["records_with_findings"] == 1
    ok = await client.post(
        f"/v1/findings/{c7}/actions/accept",
        json={"justification": "A protocol visit: no theme applies."},
        headers={**coordinator, "If-Match": '"2"'},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["acceptance"]["justification"] == "A protocol visit: no theme applies."
    after = await client.get(f"/v1/scorecards?ministry_id={case['moph']}", headers=coordinator)
    card = after.json()["items"][0]
    assert (card["score"], card["records_with_findings"], card["by_rule"]["C7"]) == (1.0, 0, 0)
    async with world.db.engine.connect() as conn:
        audits = (await conn.execute(sa.select(audit_log).order_by(audit_log.c.id))).all()
        events = (
            await conn.execute(
                sa.select(outbox.c.type, outbox.c.payload)
                .where(outbox.c.aggregateid == c7)
                .order_by(outbox.c.seq)
            )
        ).all()
    assert [(a.actor_sub, a.action, a.entity_id) for a in audits] == [
        ("amal", "finding.acknowledged", c7),
        ("amal", "finding.accepted", c7),
    ]
    assert audits[1].changed_fields == {
        "status": "accepted",
        "justification": "A protocol visit: no theme applies.",
    }
    assert [(e.type, e.payload["version"], e.payload["status"]) for e in events] == [
        ("tansiq.reporting.finding.opened.v1", 1, "open"),
        ("tansiq.reporting.finding.acknowledged.v1", 2, "acknowledged"),
        ("tansiq.reporting.finding.accepted.v1", 3, "accepted"),
    ]
    # The condition stops and comes back: the decision stays with the finding.
    await world.update_engagement(
        case["open_c7"], themes={"sdgs": [3], "sectors": [], "priorities": []}
    )
    await world.update_engagement(
        case["open_c7"], themes={"sdgs": [], "sectors": [], "priorities": []}
    )
    f = await world.finding("C7", case["open_c7"])
    assert (f.status, f.version) == ("accepted", 5)


async def test_only_coordinators_of_the_findings_country_decide(client, auth_headers, case):
    c1 = fid("C1", "agreement", case["signed"])
    viewer = await client.post(
        f"/v1/findings/{c1}/actions/acknowledge", headers=auth_headers(case["icd"], ["viewer"])
    )
    assert (viewer.status_code, viewer.json()["type"]) == (403, problem_type("role-not-allowed"))
    # The coordinator role, but not of a coordinating body.
    moe = await client.post(
        f"/v1/findings/{c1}/actions/acknowledge", headers=auth_headers(case["moe"], ["coordinator"])
    )
    assert (moe.status_code, moe.json()["type"]) == (403, problem_type("not-findings-coordinator"))
    sy = await client.post(
        f"/v1/findings/{c1}/actions/acknowledge",
        headers=auth_headers(case["sy_cb"], ["coordinator"]),
    )
    assert sy.status_code == 404  # not even visible across the country boundary


async def test_scorecards_per_ministry_with_rules_and_trend(client, auth_headers, case):
    coordinator = auth_headers(case["icd"], ["coordinator"])
    r = await client.get("/v1/scorecards?until=2026-02&months=3", headers=coordinator)
    assert r.status_code == 200, r.text
    cards = {c["ministry_id"]: c for c in r.json()["items"]}
    assert set(cards) == {case["moe"], case["moph"]}
    moe, moph = cards[case["moe"]], cards[case["moph"]]
    assert (moe["records"], moe["records_with_findings"], moe["score"]) == (2, 2, 0.0)
    assert moe["by_rule"] == {"C1": 1, "C2": 0, "C3": 0, "C4": 0, "C5": 0, "C6": 0, "C7": 1}
    assert (moph["records"], moph["records_with_findings"], moph["score"]) == (2, 1, 0.5)
    assert moe["names"]["en"] == "Ministry of Education"
    # MOE: the agreement signed 2026-01-10 and the engagement of 2026-01-20 (both flagged).
    assert moe["trend"] == [
        {"month": "2025-12", "records": 0, "score": None},
        {"month": "2026-01", "records": 2, "score": 0.0},
        {"month": "2026-02", "records": 0, "score": None},
    ]
    # MOPH: the clean engagement of 2025-11-21 and the flagged one of 2025-12-21.
    assert moph["trend"][0] == {"month": "2025-12", "records": 1, "score": 0.0}
    own = await client.get("/v1/scorecards", headers=auth_headers(case["moe_dir"], ["viewer"]))
    assert [c["ministry_id"] for c in own.json()["items"]] == [case["moe"]]
    nobody = await client.get("/v1/scorecards", headers=auth_headers(case["unicef"], ["viewer"]))
    assert nobody.json()["items"] == []
    sy = await client.get("/v1/scorecards", headers=auth_headers(case["sy_cb"], ["coordinator"]))
    assert [c["ministry_id"] for c in sy.json()["items"]] == [case["sy_min"]]


async def test_coverage_matrix(client, auth_headers, case, world):
    coordinator = auth_headers(case["icd"], ["coordinator"])
    r = await client.get("/v1/coverage", headers=coordinator)
    assert r.status_code == 200, r.text
    cells = {(c["ministry_id"], c["partner_id"]): c for c in r.json()["items"]}
    assert {k: (c["engagements"], c["agreements"]) for k, c in cells.items()} == {
        (case["moe"], case["unesco"]): (0, 1),
        (case["moe"], case["unicef"]): (1, 0),
        (case["moph"], case["unicef"]): (1, 0),
        (case["moph"], case["unesco"]): (1, 0),
    }
    assert cells[(case["moph"], case["unesco"])]["last_contact"] == (
        world.state[case["clean"]]["start"].replace("+00:00", "Z")
    )
    assert cells[(case["moe"], case["unesco"])]["partner_acronym"] == "UNESCO"
    # Cancelled: the engagement leaves the cell and its last contact with it.
    await world.update_engagement(case["clean"], "cancelled", status="cancelled")
    r = await client.get(f"/v1/coverage?partner_id={case['unesco']}", headers=coordinator)
    assert [(c["ministry_id"], c["engagements"], c["agreements"]) for c in r.json()["items"]] == [
        (case["moe"], 0, 1)
    ]


async def test_csv_exports_escape_formulas(client, auth_headers, case):
    coordinator = auth_headers(case["icd"], ["coordinator"])
    r = await client.get("/v1/findings?format=csv&rule=C1", headers=coordinator)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert rows[0][:4] == ["id", "rule", "status", "ministry_id"]
    assert rows[1][0] == fid("C1", "agreement", case["signed"])
    assert rows[1][8].startswith("The agreement “=HYPERLINK")  # not at the start: kept
    accept = await client.get("/v1/findings?rule=C7", headers={**coordinator, "Accept": "text/csv"})
    rows = list(csv.reader(io.StringIO(accept.text.lstrip("\ufeff"))))
    assert len(rows) == 3
    cards = await client.get("/v1/scorecards?format=csv", headers=coordinator)
    rows = list(csv.reader(io.StringIO(cards.text.lstrip("\ufeff"))))
    assert rows[0] == [
        "ministry_id",
        "name_en",
        "name_ar",
        "country",
        "score",
        "records",
        "records_with_findings",
        "C1",
        "C2",
        "C3",
        "C4",
        "C5",
        "C6",
        "C7",
    ]
    assert len(rows) == 3
    cover = await client.get("/v1/coverage?format=csv", headers=coordinator)
    assert cover.status_code == 200
    assert len(list(csv.reader(io.StringIO(cover.text.lstrip("\ufeff"))))) == 5


def test_csv_cells_that_spreadsheets_would_run_are_escaped():
    from tansiq_reporting.views.export import cell

    assert [cell(v) for v in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "ok", None, 0.5, -0.25)] == [
        "'=1+1",
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "'\tx",
        "ok",
        "",
        "0.5",
        "'-0.25",
    ]


async def _unread_by_group(bootstrap: str, group: str, topics: list[str]) -> dict[str, int]:
    """What the broker says the group has not committed yet, per topic (the lag's oracle)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        described = await admin.describe_topics(topics)
        unread = {}
        for topic in described:
            partitions = [
                TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]
            ]
            ends = await consumer.end_offsets(partitions)
            unread[topic["topic"]] = sum(
                end - (committed[tp].offset if tp in committed else 0) for tp, end in ends.items()
            )
        return unread
    finally:
        await consumer.stop()
        await admin.close()


async def test_freshness_names_each_topic_last_event_and_lag(
    client, auth_headers, case, kafka_topics, kafka_bootstrap, topic_prefix
):
    # Two events the reporting group has not read (other tests publish on these topics too).
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for n in range(2):
            await producer.send_and_wait(
                f"{topic_prefix}engagements.engagement.v1", value=b"{}", key=str(n).encode()
            )
    finally:
        await producer.stop()
    client.app.state.reporting_lag_probe = None  # no figure cached by an earlier test
    r = await client.get("/v1/freshness", headers=auth_headers(case["icd"], ["viewer"]))
    assert r.status_code == 200, r.text
    topics = {t["topic"]: t for t in r.json()["items"]}
    assert set(topics) == {
        "registry.organization.v1",
        "agreements.agreement.v1",
        "engagements.engagement.v1",
    }
    assert topics["registry.organization.v1"]["events_applied"] == 9
    assert topics["agreements.agreement.v1"]["events_applied"] == 2
    assert topics["engagements.engagement.v1"]["last_event_type"] == (
        "tansiq.engagements.engagement.created.v1"
    )
    assert topics["engagements.engagement.v1"]["age_seconds"] >= 0
    unread = await _unread_by_group(
        kafka_bootstrap,
        f"{topic_prefix}reporting.{CONSUMER_NAME}",
        [f"{topic_prefix}{t}" for t in topics],
    )
    assert {t: topics[t]["consumer_lag"] for t in topics} == {
        t[len(topic_prefix) :]: n for t, n in unread.items()
    }
    assert topics["engagements.engagement.v1"]["consumer_lag"] >= 2
