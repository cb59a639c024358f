"""Findings kept by the consumer's handlers and the scheduled pass, on the real database: each rule
opens on a real case, resolves when its condition stops, and leaves a look-alike alone."""

from __future__ import annotations

import json
from datetime import date, timedelta

import sqlalchemy as sa
from tansiq_common.schema import outbox
from tansiq_reporting.findings.rules import RecordRef, finding_id


async def test_c1_signed_without_clearance_opens_and_names_ministry_records_and_fix(world, qa):
    signed = await world.agreement(
        qa["moe_dir"],
        [qa["unesco"]],
        status="signed",
        title="Inclusive education",
        signed_on=date(2026, 2, 1),
    )
    cleared = await world.agreement(
        qa["moe"], [qa["unesco"]], status="signed", cleared=True, signed_on=date(2026, 2, 1)
    )
    national_only = await world.agreement(qa["moe"], [qa["moph"]], status="signed")
    assert await world.open_findings() == {("C1", signed)}
    f = await world.finding("C1", signed)
    assert f.id == finding_id("C1", RecordRef("agreement", signed))
    assert (f.status, f.ministry_id, f.country) == ("open", qa["moe"], "QA")
    assert f.records == [{"type": "agreement", "id": signed}]
    assert f.partner_ids == [qa["unesco"]]
    assert f.explanation["en"] == (
        "The agreement “Inclusive education” with UNESCO reached “signed” without clearance by "
        "a coordinating body."
    )
    assert "«اتفاقية Inclusive education»" in f.explanation["ar"]
    assert "جهة التنسيق" in f.explanation["ar"]
    assert f.resolution["en"].startswith("Have the coordinating body clear the agreement")
    assert f.resolution["ar"]
    assert cleared != national_only
    async with world.db.engine.connect() as conn:
        events = (
            await conn.execute(sa.select(outbox).where(outbox.c.topic == "reporting.finding.v1"))
        ).all()
    assert [(e.type, e.aggregateid) for e in events] == [
        ("tansiq.reporting.finding.opened.v1", f.id)
    ]
    payload = (
        events[0].payload if isinstance(events[0].payload, dict) else json.loads(events[0].payload)
    )
    assert (payload["id"], payload["version"], payload["status"], payload["rule"]) == (
        f.id,
        1,
        "open",
        "C1",
    )
    assert payload["records"] == [{"type": "agreement", "id": signed}]


async def test_an_engagement_before_its_organizations_is_attributed_when_they_arrive(world, qa):
    world.hold = True
    ministry = await world.org("Ministry of Labour", acronym="MOL")
    ilo = await world.org("ILO", kind="un_entity", country=None)
    org_events = list(world.published)
    engagement = await world.engagement(
        ministry, [ilo], sdgs=(), start=world.now - timedelta(days=20)
    )
    world.hold = False
    await world.apply(world.published[-1])  # the engagement first
    assert await world.open_findings() == set()
    assert (
        await world.scalar(
            "select counted_ministry_id from rm_engagements where id = :i", i=engagement
        )
        is None
    )
    for event in reversed(org_events):  # then its organizations, in the wrong order too
        await world.apply(event)
    assert await world.open_findings() == {("C2", engagement), ("C7", engagement)}
    assert (await world.finding("C2", engagement)).ministry_id == ministry
    assert (
        await world.scalar(
            "select counted_ministry_id from rm_engagements where id = :i", i=engagement
        )
        == ministry
    )


async def test_a_move_recomputes_the_subtree_and_moves_findings_and_counts(world, qa):
    unit = await world.org("Unit", kind="directorate", parent=qa["moe_dir"])
    engagement = await world.engagement(unit, [qa["unicef"]], sdgs=())
    assert (await world.finding("C7", engagement)).ministry_id == qa["moe"]
    # The directorate above the unit moves to the ministry of public health.
    await world.update_org(qa["moe_dir"], "moved", parent_id=qa["moph"])
    assert (await world.finding("C7", engagement)).ministry_id == qa["moph"]
    cells = await world.scalar(
        "select json_object_agg(ministry_id, records) from scorecard_cells where records > 0"
    )
    assert cells == {qa["moph"]: 1}


async def test_old_and_repeated_versions_change_nothing(world, qa):
    a = await world.agreement(qa["moe"], [qa["unesco"]], status="signed")
    first = world.published[-1]
    await world.update_agreement(a, "cleared", cleared=True, status="signed")
    assert await world.open_findings() == set()
    await world.apply(first)  # version 1 again, after version 2
    assert await world.open_findings() == set()
    assert await world.scalar("select version from rm_agreements where id = :i", i=a) == 2


async def test_c2_routing_opens_after_the_notice_period_unless_the_body_took_part(world, qa):
    start = world.now - timedelta(days=2)
    direct = await world.engagement(qa["moe"], [qa["unesco"]], start=start, title="Direct")
    with_icd = await world.engagement(qa["moe"], [qa["unesco"], qa["icd"]], start=start)
    notified = await world.engagement(
        qa["moe"],
        [qa["unesco"]],
        start=start,
        coordinating_body_notified_at=start + timedelta(days=1),
    )
    routed = await world.engagement(
        qa["moe"], [qa["unesco"]], start=start, channel="via_coordinating_body"
    )
    planned = await world.engagement(qa["moe"], [qa["unesco"]], start=start, status="planned")
    national = await world.engagement(qa["moe"], [qa["moph"]], start=start)
    assert await world.open_findings() == set()
    report = await world.tick(world.now + timedelta(days=6))
    assert report.opened == [finding_id("C2", RecordRef("engagement", direct))]
    assert await world.open_findings() == {("C2", direct)}
    # Notified, but too late: still a finding.
    await world.update_engagement(direct, coordinating_body_notified_at=world.now)
    assert await world.open_findings() == {("C2", direct)}
    # The coordinating body is recorded as a participant after all: resolved.
    await world.update_engagement(
        direct,
        participants=[
            {"org_id": qa["moe"], "role": "host"},
            {"org_id": qa["unesco"], "role": "participant"},
            {"org_id": qa["icd"], "role": "participant"},
        ],
    )
    f = await world.finding("C2", direct)
    assert (f.status, f.resolved_at) == ("resolved", world.now)
    assert {with_icd, notified, routed, planned, national}.isdisjoint(
        {anchor for _, anchor in await world.open_findings()}
    )


async def test_c3_overlap_opens_for_each_ministry_and_resolves_when_linked(world, qa):
    day = world.now - timedelta(days=60)
    moe = await world.engagement(qa["moe"], [qa["unicef"]], start=day, sdgs=(4,), title="MOE")
    moph = await world.engagement(
        qa["moph"], [qa["unicef"]], start=day + timedelta(days=12), sdgs=(3, 4), title="MOPH"
    )
    # Look-alikes: same ministry; another theme; too far apart; another partner.
    await world.engagement(qa["moe_dir"], [qa["unicef"]], start=day - timedelta(days=20), sdgs=(4,))
    await world.engagement(qa["moph"], [qa["unicef"]], start=day + timedelta(days=5), sdgs=(6,))
    await world.engagement(qa["moph"], [qa["unicef"]], start=day + timedelta(days=45), sdgs=(4,))
    await world.engagement(qa["moph"], [qa["unesco"]], start=day + timedelta(days=2), sdgs=(4,))
    c3 = {(r, a) for r, a in await world.open_findings() if r == "C3"}
    assert c3 == {("C3", moe), ("C3", moph)}
    f = await world.finding("C3", moe)
    assert f.ministry_id == qa["moe"]
    assert f.records == [
        {"type": "engagement", "id": moe},
        {"type": "engagement", "id": moph},
    ]
    assert f.details["overlaps"][0]["sdgs"] == [4]
    assert "“MOPH”" in f.explanation["en"]
    # MOPH records the coordination: both sides resolve.
    await world.update_engagement(moph, related_engagement_ids=[moe])
    assert {(r, a) for r, a in await world.open_findings() if r == "C3"} == set()


async def test_c4_dormant_agreement_opens_with_time_and_resolves_with_a_linked_engagement(
    world, qa
):
    a = await world.agreement(
        qa["moe"],
        [qa["unesco"]],
        status="in_force",
        cleared=True,
        effective_from=(world.now - timedelta(days=170)).date(),
    )
    assert ("C4", a) not in await world.open_findings()
    await world.tick(world.now + timedelta(days=15))
    assert ("C4", a) in await world.open_findings()
    await world.engagement(
        qa["moe"],
        [qa["unesco"]],
        start=world.now - timedelta(days=1),
        agreement_ids=[a],
        channel="via_coordinating_body",
    )
    assert ("C4", a) not in await world.open_findings()
    assert (await world.finding("C4", a)).status == "resolved"


async def test_c5_follow_up_of_reports_and_action_items(world, qa):
    today = world.now.date()
    late_report = await world.engagement(
        qa["moe"],
        [qa["unesco"]],
        report_due_on=today - timedelta(days=1),
        channel="via_coordinating_body",
    )
    due_today = await world.engagement(
        qa["moe"], [qa["unesco"]], report_due_on=today, channel="via_coordinating_body"
    )
    late_item = await world.engagement(
        qa["moph"],
        [qa["unesco"]],
        channel="via_coordinating_body",
        action_items=[
            {
                "id": "i1",
                "title": "Send the draft",
                "owner_org_id": qa["moph"],
                "due_on": (today - timedelta(days=3)).isoformat(),
                "status": "open",
            },
            {
                "id": "i2",
                "title": "Done already",
                "owner_org_id": qa["moph"],
                "due_on": (today - timedelta(days=3)).isoformat(),
                "status": "done",
            },
        ],
    )
    c5 = {a for r, a in await world.open_findings() if r == "C5"}
    assert c5 == {late_report, late_item}
    f = await world.finding("C5", late_item)
    assert f.details == {
        "overdue": [
            {
                "what": "action_item",
                "due_on": (today - timedelta(days=3)).isoformat(),
                "title": "Send the draft",
            }
        ]
    }
    assert "“Send the draft”" in f.explanation["en"]
    # The report is filed: resolved. The day after its due date, the other one is late.
    await world.update_engagement(
        late_report,
        "reported",
        status="reported",
        report={
            "text": "r",
            "attachments": [],
            "submitted_by": "u",
            "submitted_by_org": None,
            "submitted_at": world.now.isoformat(),
        },
    )
    await world.tick(world.now + timedelta(days=1))
    c5 = {a for r, a in await world.open_findings() if r == "C5"}
    assert c5 == {late_item, due_today}


async def test_c6_expiry_without_successor(world, qa):
    soon = await world.agreement(
        qa["moe"],
        [qa["unesco"]],
        status="in_force",
        cleared=True,
        title="Soon",
        effective_from=world.now.date() - timedelta(days=10),
        expires_on=world.now.date() + timedelta(days=60),
    )
    later = await world.agreement(
        qa["moe"],
        [qa["unesco"]],
        status="in_force",
        cleared=True,
        effective_from=world.now.date() - timedelta(days=10),
        expires_on=world.now.date() + timedelta(days=100),
    )
    assert {a for r, a in await world.open_findings() if r == "C6"} == {soon}
    renewal = await world.agreement(qa["moe"], [qa["unesco"]], status="draft", supersedes=soon)
    assert {a for r, a in await world.open_findings() if r == "C6"} == set()
    await world.tick(world.now + timedelta(days=11))
    assert {a for r, a in await world.open_findings() if r == "C6"} == {later}
    # The renewal is abandoned (terminated): the first one has no successor in progress again.
    await world.update_agreement(renewal, "terminated", status="terminated")
    assert {a for r, a in await world.open_findings() if r == "C6"} == {later, soon}


async def test_c7_alignment(world, qa):
    bare = await world.agreement(qa["moe"], [qa["unesco"]], sdgs=(), title="Bare")
    with_priority = await world.agreement(
        qa["moe"], [qa["unesco"]], sdgs=(), priorities=("NDS2-IC-1",)
    )
    national = await world.agreement(qa["moe"], [qa["moph"]], sdgs=())
    assert {a for r, a in await world.open_findings() if r == "C7"} == {bare}
    assert with_priority != national
    await world.update_agreement(bare, themes={"sdgs": [17], "sectors": [], "priorities": []})
    assert {a for r, a in await world.open_findings() if r == "C7"} == set()
    # It comes back: the same finding reopens (same id, next version).
    await world.update_agreement(bare, themes={"sdgs": [], "sectors": [], "priorities": []})
    f = await world.finding("C7", bare)
    assert (f.status, f.version, f.resolved_at) == ("open", 3, None)


async def test_a_record_that_cannot_be_evaluated_does_not_stop_the_others(world, qa, monkeypatch):
    from tansiq_reporting.findings import evaluation

    world.hold = True
    routed = "via_coordinating_body"
    poison = await world.engagement(qa["moe"], [qa["unesco"]], sdgs=(), channel=routed)
    fine = await world.engagement(qa["moph"], [qa["unicef"]], sdgs=(), channel=routed)
    real = evaluation.evaluate_engagement

    def failing(e, *args, **kwargs):
        if e.id == poison:
            raise RuntimeError("a bug in a rule")
        return real(e, *args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate_engagement", failing)
    for event in world.published:
        await world.apply(event)
    assert await world.open_findings() == {("C7", fine)}
    set_aside = await world.scalar("select recheck_at from rm_engagements where id = :i", i=poison)
    assert set_aside == world.now + timedelta(hours=1)
    monkeypatch.setattr(evaluation, "evaluate_engagement", real)
    await world.tick(world.now + timedelta(hours=1))
    assert await world.open_findings() == {("C7", fine), ("C7", poison)}
