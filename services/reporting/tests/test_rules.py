"""The rules C1–C7 as pure functions: boundaries, look-alikes, re-check times. No database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from tansiq_reporting.findings.rules import (
    Access,
    Candidate,
    Outcome,
    RecordRef,
    Rule,
    RuleParameters,
    c1_clearance,
    c2_routing,
    c3_overlap,
    c4_dormant,
    c5_follow_up,
    c6_expiry,
    c7_agreement,
    c7_engagement,
    evaluate_agreement,
    evaluate_engagement,
    finding_id,
    overlaps,
    went_through_coordinating_body,
)
from tansiq_reporting.readmodels.model import (
    ActionItem,
    Agreement,
    Engagement,
    InvalidRecord,
    Org,
    Text,
    Themes,
    agreement_from_event,
    engagement_from_event,
    is_coordinating,
    ministry_of,
    organization_from_event,
)

NOW = datetime(2026, 3, 1, 9, tzinfo=UTC)
P = RuleParameters()  # 7, 30, 180, 90 days; Asia/Qatar (UTC+3)

ORGS = {
    "moe": Org(
        "moe", Text(en="Ministry of Education"), scope="national", country="QA", ministry_id="moe"
    ),
    "moe-unit": Org("moe-unit", scope="national", country="QA", ministry_id="moe"),
    "moph": Org("moph", scope="national", country="QA", ministry_id="moph"),
    "icd": Org("icd", scope="national", country="QA", ministry_id="mofa", coordinating=True),
    "sy-cb": Org("sy-cb", scope="national", country="SY", ministry_id="sy-cb", coordinating=True),
    "mofa": Org("mofa", scope="national", country="QA", ministry_id="mofa"),
    "unesco": Org(
        "unesco", Text(en="UNESCO", ar="اليونسكو"), acronym="UNESCO", scope="international"
    ),
    "unicef": Org("unicef", Text(en="UNICEF"), scope="international"),
}


def agreement(**kw) -> Agreement:
    base = {
        "id": "a1",
        "version": 1,
        "title": Text(en="Deal", ar="اتفاق"),
        "status": "signed",
        "owner_org_id": "moe",
        "party_org_ids": ("moe", "unesco"),
        "themes": Themes(sdgs=(4,)),
        "signed_on": date(2026, 1, 1),
        "visibility": "interagency",
    }
    return Agreement(**{**base, **kw})


def engagement(**kw) -> Engagement:
    base = {
        "id": "e1",
        "version": 1,
        "title": Text(en="Talks"),
        "kind": "meeting",
        "status": "held",
        "start": NOW - timedelta(days=20),
        "end": NOW - timedelta(days=20),
        "lead_org_id": "moe",
        "participant_org_ids": ("moe", "unesco"),
        "themes": Themes(sdgs=(4,)),
        "channel": "direct",
        "visibility": "interagency",
    }
    return Engagement(**{**base, **kw})


# -- C1 --


@pytest.mark.parametrize(
    ("status", "signed_on", "cleared", "expected"),
    [
        ("signed", date(2026, 1, 1), False, True),
        ("in_force", date(2026, 1, 1), False, True),
        ("expired", date(2026, 1, 1), False, True),
        ("terminated", date(2026, 1, 1), False, True),
        ("terminated", None, False, False),  # terminated before it was ever signed
        ("cleared", None, True, False),
        ("submitted", None, False, False),
        ("draft", None, False, False),
        ("signed", date(2026, 1, 1), True, False),
    ],
)
def test_c1_reached_signature_without_clearance(status, signed_on, cleared, expected):
    outcome = c1_clearance(agreement(status=status, signed_on=signed_on, cleared=cleared), ORGS)
    assert (outcome.candidate is not None) is expected
    assert outcome.recheck_at is None


def test_c1_needs_an_international_party_and_a_known_ministry():
    assert c1_clearance(agreement(party_org_ids=("moe", "moph")), ORGS).candidate is None
    assert c1_clearance(agreement(owner_org_id="unknown"), ORGS).candidate is None
    c = c1_clearance(agreement(owner_org_id="moe-unit"), ORGS).candidate
    assert c is not None
    assert (c.rule, c.ministry_id, c.country, c.partner_ids) == (Rule.C1, "moe", "QA", ("unesco",))
    assert c.records == (RecordRef("agreement", "a1"),)
    assert c.finding_id == finding_id("C1", RecordRef("agreement", "a1"))
    assert c.explanation.en == (
        "The agreement “Deal” with UNESCO reached “signed” without clearance by a coordinating body."
    )
    assert c.explanation.ar == (
        "بلغت الاتفاقية «اتفاق» مع اليونسكو (UNESCO) حالة «موقّعة» دون إجازة من جهة التنسيق."
    )


def test_finding_ids_are_stable_and_distinct_per_rule_and_record():
    a = finding_id("C1", RecordRef("agreement", "x"))
    assert a == finding_id(Rule.C1, RecordRef("agreement", "x"))
    assert a != finding_id("C7", RecordRef("agreement", "x"))
    assert a != finding_id("C1", RecordRef("engagement", "x"))
    # uuid5 of the namespace and "C1:agreement:x": the same in every run and every replay.
    assert a == "82cc1be1-bc5e-5b0e-9c4d-223f384912c9"


# -- C2 --


def test_c2_waits_for_the_notice_period_then_opens():
    e = engagement(end=NOW - timedelta(days=3), start=NOW - timedelta(days=3))
    deadline = e.end + timedelta(days=7)
    early = c2_routing(e, ORGS, P, NOW)
    assert (early.candidate, early.recheck_at) == (None, deadline)
    at_deadline = c2_routing(e, ORGS, P, deadline)
    assert at_deadline.candidate is not None
    assert at_deadline.candidate.details["notify_by"] == deadline.isoformat()


@pytest.mark.parametrize(
    ("changes", "flagged"),
    [
        ({}, True),
        ({"status": "planned"}, False),
        ({"status": "cancelled"}, False),
        ({"status": "reported"}, True),
        ({"channel": "via_coordinating_body"}, False),
        ({"participant_org_ids": ("moe", "unesco", "icd")}, False),
        ({"participant_org_ids": ("moe", "unesco", "sy-cb")}, True),  # another country's body
        ({"participant_org_ids": ("moe", "moph")}, False),  # no international partner
        ({"coordinating_body_notified_at": NOW - timedelta(days=13)}, False),  # within 7 days
        ({"coordinating_body_notified_at": NOW - timedelta(days=20) + timedelta(days=7)}, False),
        ({"coordinating_body_notified_at": NOW - timedelta(days=12)}, True),  # 8 days late
        ({"end": None}, True),  # the start is the clock then
        ({"start": None, "end": None}, False),
    ],
)
def test_c2_cases(changes, flagged):
    assert (c2_routing(engagement(**changes), ORGS, P, NOW).candidate is not None) is flagged


# -- C3 --


def test_c3_pairs_ministries_on_a_shared_partner_and_theme_within_the_window():
    mine = engagement(id="e1", start=NOW)
    theirs = engagement(
        id="e2",
        lead_org_id="moph",
        participant_org_ids=("moph", "unesco"),
        start=NOW + timedelta(days=30),
        themes=Themes(sdgs=(3, 4)),
    )
    c = c3_overlap(mine, [theirs], ORGS, P).candidate
    assert c is not None
    assert c.records == (RecordRef("engagement", "e1"), RecordRef("engagement", "e2"))
    assert (c.ministry_id, c.partner_ids) == ("moe", ("unesco",))
    assert c.details["overlaps"][0]["sdgs"] == [4]
    # Symmetric: the other side has its own finding, for its own ministry.
    back = c3_overlap(theirs, [mine], ORGS, P).candidate
    assert back is not None
    assert (back.ministry_id, back.records[0].id) == ("moph", "e2")


@pytest.mark.parametrize(
    "changes",
    [
        {"start": NOW + timedelta(days=30, seconds=1)},
        {"lead_org_id": "moe-unit", "participant_org_ids": ("moe-unit", "unesco")},  # same ministry
        {"themes": Themes(sdgs=(6,))},
        {"participant_org_ids": ("moph", "unicef")},
        {"status": "cancelled"},
        {"related_engagement_ids": ("e1",)},
        {"start": None},
    ],
)
def test_c3_look_alikes(changes):
    mine = engagement(id="e1", start=NOW)
    theirs = engagement(
        **{
            "id": "e2",
            "lead_org_id": "moph",
            "participant_org_ids": ("moph", "unesco"),
            "start": NOW,
            **changes,
        }
    )
    assert c3_overlap(mine, [theirs], ORGS, P).candidate is None
    assert overlaps(theirs, [mine], ORGS, P) == []


def test_c3_shared_sector_counts_and_a_link_from_either_side_resolves():
    mine = engagement(id="e1", start=NOW, themes=Themes(sectors=("health",)))
    theirs = engagement(
        id="e2",
        lead_org_id="moph",
        participant_org_ids=("moph", "unesco"),
        start=NOW,
        themes=Themes(sectors=("health", "water")),
    )
    assert overlaps(mine, [theirs], ORGS, P)[0].sectors == ("health",)
    linked = engagement(
        id="e1", start=NOW, themes=Themes(sectors=("health",)), related_engagement_ids=("e2",)
    )
    assert overlaps(linked, [theirs], ORGS, P) == []
    assert overlaps(theirs, [linked], ORGS, P) == []


# -- C4 --


def test_c4_counts_from_the_latest_of_effect_signature_and_contact():
    a = agreement(status="in_force", effective_from=date(2025, 6, 1), signed_on=date(2025, 5, 1))
    since = P.day_start(date(2025, 6, 1))
    out = c4_dormant(
        a,
        ORGS,
        P,
        since + timedelta(days=180) - timedelta(seconds=1),
        last_contact=None,
        next_contact=None,
    )
    assert (out.candidate, out.recheck_at) == (None, since + timedelta(days=180))
    assert (
        c4_dormant(
            a, ORGS, P, since + timedelta(days=180), last_contact=None, next_contact=None
        ).candidate
        is not None
    )
    contact = since + timedelta(days=100)
    out = c4_dormant(
        a, ORGS, P, since + timedelta(days=200), last_contact=contact, next_contact=None
    )
    assert (out.candidate, out.recheck_at) == (None, contact + timedelta(days=180))
    planned = since + timedelta(days=400)
    dormant = c4_dormant(
        a, ORGS, P, since + timedelta(days=300), last_contact=None, next_contact=planned
    )
    assert dormant.candidate is not None
    assert dormant.recheck_at == planned
    assert (
        c4_dormant(
            agreement(status="signed"), ORGS, P, NOW, last_contact=None, next_contact=None
        ).candidate
        is None
    )
    no_dates = agreement(status="in_force", signed_on=None)
    assert c4_dormant(no_dates, ORGS, P, NOW, last_contact=None, next_contact=None) == (
        c4_dormant(no_dates, ORGS, P, NOW, last_contact=None, next_contact=None)
    )
    assert (
        c4_dormant(no_dates, ORGS, P, NOW, last_contact=None, next_contact=None).candidate is None
    )


# -- C5 --


def test_c5_is_late_the_day_after_the_due_date_in_the_rules_calendar():
    due = date(2026, 3, 1)
    e = engagement(report_due_on=due)
    # 2026-03-01 23:30 in Doha is 20:30 UTC: still the due date.
    assert c5_follow_up(e, ORGS, P, datetime(2026, 3, 1, 20, 30, tzinfo=UTC)).candidate is None
    out = c5_follow_up(e, ORGS, P, datetime(2026, 3, 1, 8, tzinfo=UTC))
    assert out.recheck_at == datetime(2026, 3, 1, 21, tzinfo=UTC)  # midnight in Doha
    late = c5_follow_up(e, ORGS, P, datetime(2026, 3, 1, 21, tzinfo=UTC)).candidate
    assert late is not None
    assert late.details == {"overdue": [{"what": "report", "due_on": "2026-03-01", "title": None}]}


@pytest.mark.parametrize(
    ("changes", "flagged"),
    [
        ({"report_due_on": date(2026, 2, 1)}, True),
        ({"report_due_on": date(2026, 2, 1), "status": "reported"}, False),
        ({"report_due_on": date(2026, 2, 1), "report_submitted_at": NOW}, False),
        ({"report_due_on": date(2026, 2, 1), "status": "cancelled"}, False),
        ({"action_items": (ActionItem("x", date(2026, 2, 1), "open"),)}, True),
        ({"action_items": (ActionItem("x", date(2026, 2, 1), "in_progress"),)}, True),
        ({"action_items": (ActionItem("x", date(2026, 2, 1), "done"),)}, False),
        ({"action_items": (ActionItem("x", date(2026, 2, 1), "cancelled"),)}, False),
        ({"action_items": (ActionItem("x", None, "open"),)}, False),
        ({"action_items": (ActionItem("x", date(2026, 3, 5), "open"),)}, False),
    ],
)
def test_c5_cases(changes, flagged):
    assert (c5_follow_up(engagement(**changes), ORGS, P, NOW).candidate is not None) is flagged


# -- C6 --


def test_c6_warns_from_ninety_days_before_expiry_unless_a_successor_is_in_progress():
    a = agreement(status="in_force", expires_on=date(2026, 5, 30))  # 90 days after 2026-03-01
    assert c6_expiry(a, ORGS, P, NOW, has_successor=False).candidate is not None
    assert c6_expiry(a, ORGS, P, NOW, has_successor=True).candidate is None
    later = agreement(status="in_force", expires_on=date(2026, 5, 31))
    out = c6_expiry(later, ORGS, P, NOW, has_successor=False)
    assert (out.candidate, out.recheck_at) == (None, P.day_start(date(2026, 3, 2)))
    assert (
        c6_expiry(
            agreement(status="expired", expires_on=date(2026, 3, 1)),
            ORGS,
            P,
            NOW,
            has_successor=False,
        ).candidate
        is None
    )
    assert (
        c6_expiry(agreement(status="in_force"), ORGS, P, NOW, has_successor=False).candidate is None
    )


# -- C7 --


def test_c7_needs_an_sdg_or_a_national_priority_on_records_with_international_partners():
    assert c7_agreement(agreement(themes=Themes()), ORGS).candidate is not None
    assert c7_agreement(agreement(themes=Themes(sectors=("edu",))), ORGS).candidate is not None
    assert c7_agreement(agreement(themes=Themes(priorities=("NDS2",))), ORGS).candidate is None
    assert c7_agreement(agreement(themes=Themes(sdgs=(17,))), ORGS).candidate is None
    assert c7_agreement(agreement(themes=Themes(), status="terminated"), ORGS).candidate is None
    assert c7_agreement(agreement(themes=Themes(), party_org_ids=("moph",)), ORGS).candidate is None
    e = c7_engagement(engagement(themes=Themes(), kind="training"), ORGS).candidate
    assert e is not None
    assert e.explanation.en.startswith("The training “Talks” with UNESCO carries no SDG")
    assert c7_engagement(engagement(themes=Themes(), status="cancelled"), ORGS).candidate is None


# -- every rule at once --


def test_evaluations_collect_candidates_and_the_earliest_recheck():
    a = agreement(
        status="in_force",
        themes=Themes(),
        effective_from=date(2026, 2, 1),
        expires_on=date(2027, 1, 1),
    )
    ev = evaluate_agreement(a, ORGS, P, NOW)
    assert [c.rule for c in ev.candidates] == [Rule.C1, Rule.C7]
    assert ev.recheck_at == P.day_start(date(2026, 2, 1)) + timedelta(days=180)
    assert ev.attribution is not None
    assert ev.attribution.ministry_id == "moe"
    e = engagement(end=NOW - timedelta(days=1), report_due_on=date(2026, 3, 10))
    ev = evaluate_engagement(e, ORGS, [], P, NOW)
    assert ev.candidates == ()
    assert ev.recheck_at == NOW - timedelta(days=1) + timedelta(days=7)
    unknown = evaluate_engagement(engagement(lead_org_id="nobody"), ORGS, [], P, NOW)
    assert (unknown.attribution, unknown.candidates) == (None, ())


def test_the_share_counts_routing_notification_or_participation():
    where = evaluate_engagement(engagement(), ORGS, [], P, NOW).attribution
    assert where is not None
    assert not went_through_coordinating_body(engagement(), ORGS, where)
    assert went_through_coordinating_body(engagement(channel="via_coordinating_body"), ORGS, where)
    assert went_through_coordinating_body(
        engagement(coordinating_body_notified_at=NOW), ORGS, where
    )
    assert went_through_coordinating_body(
        engagement(participant_org_ids=("moe", "icd")), ORGS, where
    )


# -- who may see a finding that names several records --


def test_access_of_several_records_never_shows_more_than_each_allows():
    open_ = Access("interagency", "m1", ("a",), ("QA",))
    assert Access.combine(
        [open_, Access("interagency", "m2", ("b",), ("QA", "FR"))]
    ).visibility == ("interagency")
    r1 = Access("restricted", "m2", ("b", "c"), ("QA", "FR"))
    r2 = Access("restricted", "m2", ("c", "d"), ("QA",))
    assert Access.combine([open_, r1, r2]) == Access("restricted", "m2", ("c",), ("QA",))
    r3 = Access("restricted", "m3", ("e",), ("SY",))
    assert Access.combine([r1, r3]) == Access("restricted", None, (), ())


# -- reading the other services' events --


def test_events_are_read_tolerantly():
    assert organization_from_event({"id": "o", "version": 1}) == Org("o")
    org = organization_from_event(
        {
            "id": "o",
            "version": 2,
            "names": {"en": " X "},
            "country": "qa",
            "scope": "national",
            "designations": ["coordinating_body", None],
            "ministry_id": "ignored",
        }
    )
    assert (org.names.en, org.country, org.designations, org.ministry_id) == (
        "X",
        "QA",
        ("coordinating_body",),
        None,
    )
    a = agreement_from_event(
        {
            "id": "a",
            "version": 3,
            "parties": [{"org_id": "p"}, "q", {"role": "x"}, 5],
            "themes": {"sdgs": [4, "5", 18, True, "x"], "sectors": "no"},
            "signed_on": "bad",
            "clearance": {"decision": "cleared"},
            "visibility": "other",
            "future_field": 1,
        }
    )
    assert (a.party_org_ids, a.themes.sdgs, a.themes.sectors, a.signed_on) == (
        ("p", "q", "5"),
        (4, 5),
        (),
        None,
    )
    assert (a.cleared, a.visibility) == (True, "restricted")
    assert (
        agreement_from_event(
            {"id": "a", "version": 1, "cleared": False, "clearance": {"decision": "cleared"}}
        ).cleared
        is False
    )
    assert agreement_from_event({"id": "a", "version": 1}).visibility == "interagency"
    e = engagement_from_event(
        {
            "id": "e",
            "version": 1,
            "start": "2026-01-01T10:00:00",
            "attendees": {"total": -3, "nationals": "4"},
            "report": {"submitted_at": "2026-01-02T00:00:00Z"},
            "action_items": [{"title": "t", "due_on": "2026-01-05", "status": "done"}, "junk"],
        }
    )
    assert e.start == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert (e.attendees_total, e.nationals, e.report_submitted) == (0, 4, True)
    assert e.action_items == (ActionItem("t", date(2026, 1, 5), "done"),)
    for bad in (
        {"version": 1},
        {"id": "x"},
        {"id": "x", "version": "1"},
        {"id": "x", "version": True},
    ):
        with pytest.raises(InvalidRecord):
            engagement_from_event(bad)


def test_ministry_and_coordinating_body_from_the_chain():
    directorate = Org("d", scope="national")
    ministry = Org("m", scope="national", designations=("coordinating_body",))
    un = Org("u", scope="international")
    assert ministry_of([directorate, ministry]) == "m"
    assert ministry_of([directorate, un, ministry]) == "d"  # the national chain is broken
    assert ministry_of([un]) is None
    assert ministry_of([]) is None
    assert is_coordinating([directorate, ministry])
    assert not is_coordinating([Org("d", scope="national", status="archived"), ministry])
    assert not is_coordinating(
        [directorate, Org("m", designations=("coordinating_body",), status="archived")]
    )
    assert not is_coordinating([])


# -- the whole finding each rule opens: wording in both languages, details, who may see it --

QA_OPEN = Access("interagency", "moe", ("moe", "unesco"), ("QA",))


def test_c1_names_every_international_party_and_the_status_reached():
    a = agreement(status="in_force", title=Text(), party_org_ids=("moe", "unicef", "unesco"))
    assert c1_clearance(a, ORGS) == Outcome(
        Candidate(
            rule=Rule.C1,
            records=(RecordRef("agreement", "a1"),),
            ministry_id="moe",
            country="QA",
            partner_ids=("unicef", "unesco"),
            explanation=Text(
                en="The agreement “a1” with UNICEF, UNESCO reached “in_force” without clearance "
                "by a coordinating body.",
                ar="بلغت الاتفاقية «a1» مع UNICEF، اليونسكو (UNESCO) حالة «سارية» دون إجازة من "
                "جهة التنسيق.",
            ),
            resolution=Text(
                en="Have the coordinating body clear the agreement, or have a coordinator accept "
                "it as an exception with a justification.",
                ar="إجازة الاتفاقية من جهة التنسيق، أو قبولها استثناءً من المنسّق مع بيان المسوّغ.",
            ),
            access=Access("interagency", "moe", ("moe", "unesco", "unicef"), ("QA",)),
            details={"status": "in_force", "signed_on": "2026-01-01"},
        )
    )
    # A terminated agreement that was signed keeps its status in the wording.
    terminated = c1_clearance(agreement(status="terminated"), ORGS).candidate
    assert terminated is not None
    assert terminated.details == {"status": "terminated", "signed_on": "2026-01-01"}
    assert "حالة «مُنهاة»" in terminated.explanation.ar


def test_c2_explains_the_missed_notice_in_both_languages():
    held = NOW - timedelta(days=10)
    e = engagement(
        start=held,
        end=held,
        kind="strategic_dialogue",
        coordinating_body_notified_at=NOW - timedelta(days=1),  # two days after the deadline
    )
    assert c2_routing(e, ORGS, P, NOW) == Outcome(
        Candidate(
            rule=Rule.C2,
            records=(RecordRef("engagement", "e1"),),
            ministry_id="moe",
            country="QA",
            partner_ids=("unesco",),
            explanation=Text(
                en="The strategic dialogue “Talks” with UNESCO, held on 2026-02-19, did not go "
                "through the coordinating body, which was not notified within 7 days.",
                ar="عُقد الحوار الاستراتيجي «Talks» مع اليونسكو (UNESCO) بتاريخ 2026-02-19 دون "
                "المرور بجهة التنسيق ودون إخطارها خلال 7 أيام.",
            ),
            resolution=Text(
                en="Record the coordinating body's participation or its notification within 7 "
                "days, or have a coordinator accept it as an exception.",
                ar="تسجيل مشاركة جهة التنسيق أو إخطارها خلال 7 أيام، أو قبول الحالة استثناءً من "
                "المنسّق.",
            ),
            access=QA_OPEN,
            details={
                "held_on": "2026-02-19",
                "notify_by": "2026-02-26T09:00:00+00:00",
                "notified_at": "2026-02-28T09:00:00+00:00",
                "channel": "direct",
            },
        )
    )
    never = c2_routing(engagement(kind=None, channel=None), ORGS, P, NOW).candidate
    assert never is not None
    assert never.details["notified_at"] is None
    assert never.details["channel"] is None
    assert never.explanation.en.startswith("The engagement “Talks” with UNESCO, held on ")
    assert never.explanation.ar.startswith("عُقد النشاط «Talks» ")
    # The notice period is a parameter, and the wording follows it.
    three = RuleParameters(c2_notice_days=3)
    short = c2_routing(engagement(start=NOW - timedelta(days=5), end=None), ORGS, three, NOW)
    assert short.candidate is not None
    assert short.candidate.details["notify_by"] == "2026-02-27T09:00:00+00:00"
    assert "not notified within 3 days." in short.candidate.explanation.en
    assert "خلال 3 أيام" in short.candidate.resolution.ar


def test_c3_explains_every_overlap_and_shows_it_only_where_all_may_see():
    mine = engagement(id="e1", start=NOW, themes=Themes(sdgs=(4,), sectors=("health",)))
    theirs = engagement(
        id="e2",
        title=Text(ar="محادثات"),
        lead_org_id="moph",
        participant_org_ids=("moph", "unesco", "unicef"),
        start=NOW + timedelta(days=3),
        themes=Themes(sdgs=(3, 4), sectors=("health",)),
        visibility="restricted",
    )
    assert c3_overlap(mine, [theirs], ORGS, P) == Outcome(
        Candidate(
            rule=Rule.C3,
            records=(RecordRef("engagement", "e1"), RecordRef("engagement", "e2")),
            ministry_id="moe",
            country="QA",
            partner_ids=("unesco",),
            explanation=Text(
                en="The meeting “Talks” (2026-03-01) with UNESCO on SDG 4, health overlaps, "
                "within 30 days, with engagements of other ministries not linked to it: "
                "“محادثات” (2026-03-04).",
                ar="يتداخل الاجتماع «Talks» (2026-03-01) مع اليونسكو (UNESCO) في الهدف 4، health "
                "خلال 30 يوماً مع أنشطة لوزارات أخرى غير مرتبطة به: «محادثات» (2026-03-04).",
            ),
            resolution=Text(
                en="Link the engagements through related_engagement_ids to record the "
                "coordination, or have a coordinator accept the overlap as an exception.",
                ar="ربط الأنشطة عبر related_engagement_ids لتوثيق التنسيق، أو قبول التداخل "
                "استثناءً من المنسّق.",
            ),
            # The other engagement is restricted: only its own readers see the pair.
            access=Access("restricted", "moph", ("moph", "unesco", "unicef"), ("QA",)),
            details={
                "overlaps": [
                    {
                        "engagement_id": "e2",
                        "ministry_id": "moph",
                        "start": "2026-03-04T09:00:00+00:00",
                        "partner_ids": ["unesco"],
                        "sdgs": [4],
                        "sectors": ["health"],
                    }
                ]
            },
        )
    )


def test_c3_gathers_several_overlaps_sorted_by_engagement():
    mine = engagement(id="e1", start=NOW, participant_org_ids=("moe", "unesco", "unicef"))
    b = engagement(id="e3", lead_org_id="moph", participant_org_ids=("moph", "unicef"), start=NOW)
    a = engagement(id="e2", lead_org_id="mofa", participant_org_ids=("mofa", "unesco"), start=NOW)
    c = c3_overlap(mine, [b, a, mine], ORGS, P).candidate
    assert c is not None
    assert c.records == (
        RecordRef("engagement", "e1"),
        RecordRef("engagement", "e2"),
        RecordRef("engagement", "e3"),
    )
    assert c.partner_ids == ("unesco", "unicef")
    assert [o["ministry_id"] for o in c.details["overlaps"]] == ["mofa", "moph"]
    assert c.explanation.en.endswith(
        "not linked to it: “Talks” (2026-03-01), “Talks” (2026-03-01)."
    )
    assert c.explanation.ar.endswith("غير مرتبطة به: «Talks» (2026-03-01)، «Talks» (2026-03-01).")
    # The window holds on both sides, to the second.
    window = RuleParameters(c3_window_days=2)
    for start, found in (
        (NOW - timedelta(days=2), True),
        (NOW - timedelta(days=2, seconds=1), False),
        (NOW + timedelta(days=2), True),
        (NOW + timedelta(days=2, seconds=1), False),
    ):
        other = engagement(
            id="e2", lead_org_id="moph", participant_org_ids=("moph", "unesco"), start=start
        )
        assert [o.other.id for o in overlaps(mine, [other], ORGS, window)] == (
            ["e2"] if found else []
        )
        if found:
            c = c3_overlap(mine, [other], ORGS, window).candidate
            assert c is not None
            assert "overlaps, within 2 days, with" in c.explanation.en


def test_c4_explains_since_when_the_agreement_is_dormant():
    a = agreement(
        status="in_force",
        signed_on=None,
        effective_from=date(2025, 6, 1),
        visibility="restricted",
        owner_org_id="moe-unit",
        party_org_ids=("moe-unit", "unesco", "unicef"),
    )
    planned = NOW + timedelta(days=5)
    assert c4_dormant(a, ORGS, P, NOW, last_contact=None, next_contact=planned) == Outcome(
        Candidate(
            rule=Rule.C4,
            records=(RecordRef("agreement", "a1"),),
            ministry_id="moe",
            country="QA",
            partner_ids=("unesco", "unicef"),
            explanation=Text(
                en="The agreement “Deal” is in force, but no engagement has been linked to it "
                "since 2025-06-01 (180 days or more).",
                ar="الاتفاقية «اتفاق» سارية، ولم يُربط بها أي نشاط منذ 2025-06-01 (180 يوماً أو "
                "أكثر).",
            ),
            resolution=Text(
                en="Link the engagements carried out under the agreement, plan activity under it, "
                "or terminate it.",
                ar="ربط الأنشطة المنفذة في إطار الاتفاقية، أو التخطيط لأنشطة في إطارها، أو "
                "إنهاؤها.",
            ),
            access=Access("restricted", "moe", ("moe-unit", "unesco", "unicef"), ("QA",)),
            details={"last_contact": None, "dormant_since": "2025-11-28T00:00:00+03:00"},
        ),
        planned,
    )
    contact = datetime(2025, 7, 1, 6, tzinfo=UTC)
    out = c4_dormant(a, ORGS, P, NOW, last_contact=contact, next_contact=None)
    assert out.candidate is not None
    assert out.recheck_at is None
    assert out.candidate.details == {
        "last_contact": "2025-07-01T06:00:00+00:00",
        "dormant_since": "2025-12-28T06:00:00+00:00",
    }
    assert "since 2025-07-01 (180 days" in out.candidate.explanation.en
    # Not dormant yet: the re-check is the earlier of becoming dormant and the next contact.
    young = agreement(status="in_force", signed_on=date(2026, 2, 1))
    dormant_from = P.day_start(date(2026, 2, 1)) + timedelta(days=180)
    soon = NOW + timedelta(days=1)
    assert c4_dormant(young, ORGS, P, NOW, last_contact=None, next_contact=soon) == Outcome(
        None, soon
    )
    assert c4_dormant(
        young, ORGS, P, NOW, last_contact=None, next_contact=dormant_from + timedelta(days=1)
    ) == Outcome(None, dormant_from)
    # An owner without a known ministry: nothing to attribute, nothing to say.
    assert (
        c4_dormant(
            agreement(status="in_force", owner_org_id="unesco"),
            ORGS,
            P,
            NOW,
            last_contact=None,
            next_contact=None,
        )
        == Outcome()
    )


def test_c5_lists_every_late_item_in_both_languages():
    e = engagement(
        report_due_on=date(2026, 2, 1),
        action_items=(
            ActionItem("Send minutes", date(2026, 2, 10), "open"),
            ActionItem("Plan the visit", date(2026, 3, 4), "open"),
            ActionItem("Closed one", date(2026, 1, 4), "Done"),
        ),
    )
    assert c5_follow_up(e, ORGS, P, NOW) == Outcome(
        Candidate(
            rule=Rule.C5,
            records=(RecordRef("engagement", "e1"),),
            ministry_id="moe",
            country="QA",
            partner_ids=("unesco",),
            explanation=Text(
                en="Follow-up of “Talks” is overdue: the report was due on 2026-02-01; action "
                "item “Send minutes” was due on 2026-02-10.",
                ar="متابعة «Talks» متأخرة: التقرير كان مستحقاً في 2026-02-01؛ بند العمل «Send "
                "minutes» كان مستحقاً في 2026-02-10.",
            ),
            resolution=Text(
                en="Submit the report, and complete or close the overdue action items.",
                ar="تقديم التقرير، وإنجاز بنود العمل المتأخرة أو إغلاقها.",
            ),
            access=QA_OPEN,
            details={
                "overdue": [
                    {"what": "report", "due_on": "2026-02-01", "title": None},
                    {"what": "action_item", "due_on": "2026-02-10", "title": "Send minutes"},
                ]
            },
        ),
        # The day after the next due date (2026-03-04), at midnight in Doha.
        datetime(2026, 3, 4, 21, tzinfo=UTC),
    )
    # The earliest of several upcoming dates sets the re-check.
    upcoming = engagement(
        report_due_on=date(2026, 3, 9),
        action_items=(ActionItem("a", date(2026, 3, 7), "open"),),
    )
    assert c5_follow_up(upcoming, ORGS, P, NOW) == Outcome(
        None, datetime(2026, 3, 7, 21, tzinfo=UTC)
    )
    assert c5_follow_up(engagement(), ORGS, P, NOW) == Outcome()
    assert c5_follow_up(engagement(lead_org_id="unesco"), ORGS, P, NOW) == Outcome()


def test_c6_explains_the_expiry_and_warns_on_the_first_day_of_the_period():
    a = agreement(status="in_force", expires_on=date(2026, 5, 1))
    assert c6_expiry(a, ORGS, P, NOW, has_successor=False) == Outcome(
        Candidate(
            rule=Rule.C6,
            records=(RecordRef("agreement", "a1"),),
            ministry_id="moe",
            country="QA",
            partner_ids=("unesco",),
            explanation=Text(
                en="The agreement “Deal” expires on 2026-05-01 and no successor agreement is in "
                "progress.",
                ar="تنتهي الاتفاقية «اتفاق» في 2026-05-01 ولا توجد اتفاقية تخلفها قيد الإعداد.",
            ),
            resolution=Text(
                en="Start its renewal (a new agreement that supersedes it), or let it expire "
                "deliberately and have a coordinator accept the finding as an exception.",
                ar="البدء في تجديدها (اتفاقية جديدة تحل محلها)، أو تركها تنتهي عن قصد وقبول "
                "الملاحظة استثناءً من المنسّق.",
            ),
            access=QA_OPEN,
            details={"expires_on": "2026-05-01"},
        )
    )
    # 2026-05-31 minus 90 days is 2026-03-02: at 21:00 UTC on 03-01 it is already 03-02 in Doha.
    later = agreement(status="in_force", expires_on=date(2026, 5, 31))
    assert c6_expiry(
        later, ORGS, P, datetime(2026, 3, 1, 20, 59, tzinfo=UTC), has_successor=False
    ) == (Outcome(None, datetime(2026, 3, 1, 21, tzinfo=UTC)))
    assert (
        c6_expiry(
            later, ORGS, P, datetime(2026, 3, 1, 21, tzinfo=UTC), has_successor=False
        ).candidate
        is not None
    )
    assert (
        c6_expiry(
            agreement(status="in_force", expires_on=date(2026, 5, 1), owner_org_id="unesco"),
            ORGS,
            P,
            NOW,
            has_successor=False,
        )
        == Outcome()
    )


def test_c7_explains_the_missing_theme_of_agreements_and_engagements():
    assert c7_agreement(agreement(themes=Themes()), ORGS) == Outcome(
        Candidate(
            rule=Rule.C7,
            records=(RecordRef("agreement", "a1"),),
            ministry_id="moe",
            country="QA",
            partner_ids=("unesco",),
            explanation=Text(
                en="The agreement “Deal” with UNESCO carries no SDG goal or national priority.",
                ar="الاتفاقية «اتفاق» مع اليونسكو (UNESCO) لا يحمل أي هدف من أهداف التنمية "
                "المستدامة ولا أولوية وطنية.",
            ),
            resolution=Text(
                en="Tag it with the SDG goals or national priorities it serves.",
                ar="تصنيفه بأهداف التنمية المستدامة أو الأولويات الوطنية التي يخدمها.",
            ),
            access=QA_OPEN,
        )
    )
    e = c7_engagement(engagement(themes=Themes(), kind=None, title=Text(ar="زيارة")), ORGS)
    assert e.candidate is not None
    assert (e.candidate.records, e.candidate.access) == ((RecordRef("engagement", "e1"),), QA_OPEN)
    assert e.candidate.explanation == Text(
        en="The engagement “زيارة” with UNESCO carries no SDG goal or national priority.",
        ar="النشاط «زيارة» مع اليونسكو (UNESCO) لا يحمل أي هدف من أهداف التنمية المستدامة ولا "
        "أولوية وطنية.",
    )
    training = c7_engagement(engagement(themes=Themes(), kind="training"), ORGS).candidate
    assert training is not None
    assert training.explanation.ar.startswith("التدريب «Talks» مع ")
    assert c7_engagement(engagement(themes=Themes(), lead_org_id="unesco"), ORGS) == Outcome()
    assert c7_engagement(engagement(themes=Themes(), participant_org_ids=("moph",)), ORGS) == (
        Outcome()
    )


# -- a record without a title is named by its id; every record's evaluation names it --


def test_records_without_a_title_are_named_by_their_id():
    untitled = engagement(title=Text(), kind="visit", end=None, start=NOW - timedelta(days=10))
    c2 = c2_routing(untitled, ORGS, P, NOW).candidate
    assert c2 is not None
    assert c2.explanation.en.startswith("The visit “e1” with UNESCO, held on 2026-02-19,")
    assert c2.explanation.ar.startswith("عُقد الزيارة «e1» مع اليونسكو (UNESCO) بتاريخ")
    theirs = engagement(
        id="e2", title=Text(), lead_org_id="moph", participant_org_ids=("moph", "unesco"), start=NOW
    )
    c3 = c3_overlap(engagement(title=Text(), start=NOW), [theirs], ORGS, P).candidate
    assert c3 is not None
    assert c3.explanation.en.startswith("The meeting “e1” (2026-03-01) with UNESCO on SDG 4 ")
    assert c3.explanation.en.endswith("not linked to it: “e2” (2026-03-01).")
    assert c3.explanation.ar.startswith("يتداخل الاجتماع «e1» (2026-03-01) مع ")
    assert c3.explanation.ar.endswith("غير مرتبطة به: «e2» (2026-03-01).")
    dormant = agreement(title=Text(), status="in_force", signed_on=date(2025, 1, 1))
    c4 = c4_dormant(dormant, ORGS, P, NOW, last_contact=None, next_contact=None).candidate
    assert c4 is not None
    assert c4.explanation.en.startswith("The agreement “a1” is in force, but ")
    assert c4.explanation.ar.startswith("الاتفاقية «a1» سارية، ")
    expiring = agreement(title=Text(), status="in_force", expires_on=date(2026, 4, 1))
    c6 = c6_expiry(expiring, ORGS, P, NOW, has_successor=False).candidate
    assert c6 is not None
    assert c6.explanation.en.startswith("The agreement “a1” expires on 2026-04-01 ")
    assert c6.explanation.ar.startswith("تنتهي الاتفاقية «a1» في 2026-04-01 ")


def test_open_records_only_show_the_anchor_readers():
    anchor = Access("interagency", "m1", ("a",), ("QA",))
    other = Access("interagency", "m2", ("b",), ("FR",))
    assert Access.combine([anchor, other]) == anchor
    assert Access.combine([other, anchor]) == other
    assert Access.combine([]) == Access()


def test_overlaps_skip_what_does_not_pair_and_go_on():
    mine = engagement(id="e1", start=NOW)
    cancelled = engagement(
        id="e0", lead_org_id="moph", participant_org_ids=("moph", "unesco"), status="cancelled"
    )
    same_ministry = engagement(id="e3", lead_org_id="moe-unit", start=NOW)
    theirs = engagement(
        id="e2", lead_org_id="moph", participant_org_ids=("moph", "unesco"), start=NOW
    )
    found = overlaps(mine, [mine, cancelled, same_ministry, theirs], ORGS, P)
    assert [(o.other.id, o.ministry_id, o.partner_ids, o.sdgs, o.sectors) for o in found] == [
        ("e2", "moph", ("unesco",), (4,), ())
    ]


def test_evaluations_name_their_record_and_pass_the_context_on():
    a = agreement(status="in_force", expires_on=date(2026, 4, 1), signed_on=date(2025, 1, 1))
    ev = evaluate_agreement(a, ORGS, P, NOW)
    assert ev.record == RecordRef("agreement", "a1")
    assert [c.rule for c in ev.candidates] == [Rule.C1, Rule.C4, Rule.C6]
    with_successor = evaluate_agreement(a, ORGS, P, NOW, has_successor=True)
    assert [c.rule for c in with_successor.candidates] == [Rule.C1, Rule.C4]
    contact = NOW - timedelta(days=10)
    planned = NOW + timedelta(days=3)
    recent = evaluate_agreement(
        a, ORGS, P, NOW, last_contact=contact, next_contact=planned, has_successor=True
    )
    assert [c.rule for c in recent.candidates] == [Rule.C1]
    assert recent.recheck_at == planned
    later = evaluate_agreement(
        a, ORGS, P, NOW, last_contact=contact, next_contact=None, has_successor=True
    )
    assert later.recheck_at == contact + timedelta(days=180)
    e = evaluate_engagement(engagement(id="e7"), ORGS, [], P, NOW)
    assert e.record == RecordRef("engagement", "e7")


def test_c7_and_c1_name_untitled_and_unsigned_agreements_plainly():
    c7 = c7_agreement(agreement(title=Text(), themes=Themes()), ORGS).candidate
    assert c7 is not None
    assert c7.explanation == Text(
        en="The agreement “a1” with UNESCO carries no SDG goal or national priority.",
        ar="الاتفاقية «a1» مع اليونسكو (UNESCO) لا يحمل أي هدف من أهداف التنمية المستدامة ولا "
        "أولوية وطنية.",
    )
    unsigned = c1_clearance(agreement(status="in_force", signed_on=None), ORGS).candidate
    assert unsigned is not None
    assert unsigned.details == {"status": "in_force", "signed_on": None}


def test_a_record_counts_in_its_ministry_country_else_in_its_owner_country():
    orgs = {
        **ORGS,
        "unit": Org("unit", scope="national", ministry_id="moe"),  # no country of its own
        "far": Org("far", scope="national", country="SY", ministry_id="moe"),
        "lost": Org("lost", scope="national", country="SY", ministry_id="gone"),
        "plain-ministry": Org("plain-ministry", scope="national", ministry_id="plain-ministry"),
        "plain-unit": Org(
            "plain-unit", scope="national", country="OM", ministry_id="plain-ministry"
        ),
    }
    for owner, ministry, country in (
        ("unit", "moe", "QA"),
        ("far", "moe", "QA"),  # the ministry's country wins
        ("lost", "gone", "SY"),  # the ministry is not known yet
        ("plain-unit", "plain-ministry", "OM"),  # the ministry has no country
    ):
        a = agreement(owner_org_id=owner, party_org_ids=(owner, "unesco"))
        c = c1_clearance(a, orgs).candidate
        assert c is not None
        assert (c.ministry_id, c.country, c.partner_ids) == (ministry, country, ("unesco",))


def test_c5_looks_at_every_action_item_and_one_due_today_is_not_late():
    e = engagement(
        action_items=(
            ActionItem("Done", date(2026, 1, 1), "done"),
            ActionItem("Undated", None, "open"),
            ActionItem("Today", date(2026, 3, 1), "open"),
            ActionItem("Late", date(2026, 2, 27), "open"),
        )
    )
    out = c5_follow_up(e, ORGS, P, NOW)
    assert out.candidate is not None
    assert out.candidate.details == {
        "overdue": [{"what": "action_item", "due_on": "2026-02-27", "title": "Late"}]
    }
    assert out.recheck_at == datetime(2026, 3, 1, 21, tzinfo=UTC)  # "Today" is late tomorrow
