"""The engagement aggregate's rules, without a database (fast; mutation-tested)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from tansiq_common.domain import RuleConflict
from tansiq_engagements.engagements.model import (
    ActionItemNotFound,
    ActionStatus,
    Attendees,
    Channel,
    DuplicateParticipant,
    Engagement,
    InvalidAttendees,
    InvalidDates,
    InvalidEngagement,
    InvalidSource,
    OrgFacts,
    References,
    Status,
    StatusConflict,
    UnknownAgreement,
    UnknownEngagement,
    UnknownOrganization,
    check_source,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = datetime(2026, 1, 2, tzinfo=UTC)
LEAD = OrgFacts("lead", national=True, country="QA", ministry_id="ministry")
UN = OrgFacts("un", national=False)
EMBASSY = OrgFacts("embassy", national=False, country="GB")
ARCHIVED = OrgFacts("archived", national=True, country="QA", ministry_id="m2", active=False)
SYRIAN = OrgFacts("syrian", national=True, country="SY", ministry_id="sy-ministry")
REFS = References(
    organizations={o.id: o for o in (LEAD, UN, EMBASSY, ARCHIVED, SYRIAN)},
    agreement_ids=frozenset({"agreement-1"}),
    engagement_ids=frozenset({"other-engagement"}),
)


def fields(**overrides):
    base = {
        "kind": "meeting",
        "title": {"en": "Consultation"},
        "start": "2025-03-10T09:00:00+03:00",
        "end": "2025-03-10T12:00:00+03:00",
        "lead_org_id": "lead",
        "participants": [{"org_id": "un", "role": "participant"}],
        "status": "held",
    }
    base.update(overrides)
    return base


def create(refs=REFS, **overrides):
    return Engagement.create(id="e1", fields=fields(**overrides), refs=refs, now=NOW)


def rule_of(excinfo):
    return excinfo.value.slug, [e["field"] for e in excinfo.value.errors]


def test_create_records_one_event_with_the_full_state_and_derived_fields():
    e = create(participants=[{"org_id": "un", "role": "host"}, {"org_id": "embassy"}])
    assert e.version == 1
    assert e.lead_ministry_id == "ministry"
    assert e.lead_country == "QA"
    assert e.countries == frozenset({"QA", "GB"})
    assert e.start == datetime(2025, 3, 10, 6, 0, tzinfo=UTC)
    assert e.party_org_ids == ["lead", "un", "embassy"]
    [event] = e.events
    assert event.event_type == "tansiq.engagements.engagement.created.v1"
    assert event.state == e.snapshot()
    assert event.state["participants"] == [
        {"org_id": "un", "role": "host"},
        {"org_id": "embassy", "role": "participant"},
    ]
    assert event.state["attendees"] == {"total": 0, "nationals": 0, "nationals_trained": 0}
    assert event.state["channel"] == "unknown"
    assert event.state["visibility"] == "interagency"


@pytest.mark.parametrize(
    ("overrides", "slug", "field"),
    [
        ({"end": "2025-03-10T08:59:00+03:00"}, "invalid-dates", "end"),
        ({"report_due_on": "2025-03-09"}, "invalid-dates", "report_due_on"),
        ({"start": "1949-12-31T23:00:00+00:00", "end": None}, "invalid-dates", "start"),
        ({"start": "2101-01-01T00:00:00+00:00", "end": None}, "invalid-dates", "start"),
        ({"start": "2025-03-10T09:00:00", "end": None}, "validation-error", "start"),
        ({"start": "yesterday"}, "validation-error", "start"),
        ({"report_due_on": "1900-01-01"}, "invalid-dates", "report_due_on"),
        ({"lead_org_id": "nobody"}, "unknown-organization", "lead_org_id"),
        ({"lead_org_id": "un"}, "unknown-organization", "lead_org_id"),
        ({"lead_org_id": "archived"}, "unknown-organization", "lead_org_id"),
        ({"participants": [{"org_id": "nobody"}]}, "unknown-organization", "participants"),
        ({"participants": [{"org_id": "archived"}]}, "unknown-organization", "participants"),
        (
            {"participants": [{"org_id": "un", "role": "host"}, {"org_id": "un"}]},
            "duplicate-participant",
            "participants",
        ),
        (
            {"participants": [{"org_id": "un", "role": "chair"}]},
            "validation-error",
            "participants.role",
        ),
        ({"attendees": {"total": 3, "nationals": 4}}, "invalid-attendees", "attendees.nationals"),
        (
            {"attendees": {"total": 5, "nationals": 4, "nationals_trained": 5}},
            "invalid-attendees",
            "attendees.nationals_trained",
        ),
        ({"attendees": {"total": -1}}, "invalid-attendees", "attendees.total"),
        ({"attendees": {"total": True}}, "invalid-attendees", "attendees.total"),
        ({"attendees": {"total": 1_000_001}}, "invalid-attendees", "attendees.total"),
        ({"agreement_ids": ["agreement-2"]}, "unknown-agreement", "agreement_ids"),
        ({"related_engagement_ids": ["nope"]}, "unknown-engagement", "related_engagement_ids"),
        ({"related_engagement_ids": ["e1"]}, "unknown-engagement", "related_engagement_ids"),
        ({"themes": {"sdgs": [0]}}, "validation-error", "themes.sdgs"),
        ({"themes": {"sdgs": [18]}}, "validation-error", "themes.sdgs"),
        ({"themes": {"sectors": [""]}}, "validation-error", "themes.sectors"),
        ({"location": {"country": "ZZ"}}, "validation-error", "location.country"),
        ({"location": {"virtual": "yes"}}, "validation-error", "location.virtual"),
        ({"title": {"en": ""}}, "validation-error", "title"),
        ({"title": {"en": "x" * 501}}, "validation-error", "title.en"),
        ({"outcome": "a\x00b"}, "validation-error", "outcome"),
        ({"status": "reported"}, "validation-error", "status"),
        ({"status": "done"}, "validation-error", "status"),
        ({"kind": "party"}, "validation-error", "kind"),
        ({"channel": "fax"}, "validation-error", "channel"),
        ({"visibility": "secret"}, "validation-error", "visibility"),
        ({"version": 7}, "validation-error", "version"),
    ],
)
def test_broken_rules_name_their_problem_and_field(overrides, slug, field):
    with pytest.raises(InvalidEngagement) as excinfo:
        create(**overrides)
    assert rule_of(excinfo) == (slug, [field])


def test_the_lead_may_be_a_participant_and_counts_are_bounded_inclusively():
    e = create(
        participants=[{"org_id": "lead", "role": "host"}],
        attendees={"total": 5, "nationals": 5, "nationals_trained": 5},
        end="2025-03-10T09:00:00+03:00",
        report_due_on="2025-03-10",
        themes={"sdgs": [17, 1, 17], "sectors": ["a", "a", "b"]},
    )
    assert e.attendees == Attendees(5, 5, 5)
    assert e.themes.sdgs == (1, 17)
    assert e.themes.sectors == ("a", "b")
    assert e.party_org_ids == ["lead"]
    assert e.end == e.start


def test_a_revision_that_changes_nothing_records_nothing():
    e = create()
    assert e.revise(fields(), refs=REFS, now=LATER) == []
    assert e.version == 1
    assert len(e.events) == 1
    assert e.updated_at == NOW


def test_revisions_name_the_status_change_and_list_changed_fields():
    e = create(status="planned")
    changed = e.revise({"status": "held", "outcome": "done"}, refs=REFS, now=LATER)
    assert changed == ["outcome", "status"]
    assert e.version == 2
    assert e.updated_at == LATER
    assert e.events[-1].name == "held"
    assert e.events[-1].changed_fields == ("outcome", "status")
    assert e.revise({"outcome": "again"}, refs=REFS, now=LATER) == ["outcome"]
    assert e.events[-1].name == "updated"
    assert e.version == 3


@pytest.mark.parametrize(
    ("before", "after", "event"),
    [("planned", "cancelled", "cancelled"), ("cancelled", "planned", "replanned")],
)
def test_allowed_status_changes(before, after, event):
    e = create(status=before)
    e.revise({"status": after}, refs=REFS, now=LATER)
    assert e.status == Status(after)
    assert e.events[-1].name == event


@pytest.mark.parametrize(
    ("before", "after"),
    [("held", "planned"), ("held", "cancelled"), ("cancelled", "held")],
)
def test_forbidden_status_changes_are_conflicts(before, after):
    e = create(status=before)
    with pytest.raises(StatusConflict) as excinfo:
        e.revise({"status": after}, refs=REFS, now=LATER)
    assert excinfo.value.status == 409
    assert excinfo.value.extra == {"status": before}
    assert e.status == Status(before)
    assert e.version == 1


def test_a_reported_engagement_stays_reported_when_told_it_was_held():
    e = create()
    e.submit_report(text="r", attachments=[], by="u", by_org="lead", now=LATER)
    assert e.revise({"status": "held"}, refs=REFS, now=LATER) == []
    assert e.status is Status.reported
    with pytest.raises(StatusConflict):
        e.revise({"status": "planned"}, refs=REFS, now=LATER)


def test_a_merge_patch_of_the_title_keeps_the_other_language():
    e = create(title={"ar": "اجتماع", "en": "Meeting"})
    e.revise({"title": {"en": "Consultation"}}, refs=REFS, now=LATER)
    assert (e.title.ar, e.title.en) == ("اجتماع", "Consultation")
    e.revise({"title": {"ar": None}}, refs=REFS, now=LATER)
    assert (e.title.ar, e.title.en) == (None, "Consultation")
    with pytest.raises(InvalidEngagement):
        e.revise({"title": {"en": None}}, refs=REFS, now=LATER)


def test_links_already_there_need_no_new_lookup_and_archived_members_may_stay():
    refs = References(
        organizations=REFS.organizations,
        agreement_ids=frozenset({"agreement-1"}),
        engagement_ids=frozenset({"other-engagement"}),
    )
    e = create(
        refs=refs,
        agreement_ids=["agreement-1"],
        related_engagement_ids=["other-engagement"],
    )
    # Later the agreement and the engagement are known only as already linked.
    later = References(organizations=REFS.organizations)
    assert e.revise({"agreement_ids": ["agreement-1"]}, refs=later, now=LATER) == []
    with pytest.raises(UnknownAgreement):
        e.revise({"agreement_ids": ["agreement-1", "agreement-9"]}, refs=later, now=LATER)
    with pytest.raises(UnknownEngagement):
        e.revise({"related_engagement_ids": ["x"]}, refs=later, now=LATER)
    # An archived participant that was there stays; a new one cannot be added.
    e2 = create(participants=[{"org_id": "un"}])
    refs_with_archived_un = References(
        organizations={**REFS.organizations, "un": OrgFacts("un", national=False, active=False)}
    )
    assert (
        e2.revise({"participants": [{"org_id": "un"}]}, refs=refs_with_archived_un, now=LATER) == []
    )
    with pytest.raises(UnknownOrganization):
        e2.revise(
            {"participants": [{"org_id": "un"}, {"org_id": "archived"}]},
            refs=refs_with_archived_un,
            now=LATER,
        )


def test_moving_the_lead_rederives_its_ministry_and_countries():
    e = create(participants=[{"org_id": "embassy"}])
    changed = e.revise({"lead_org_id": "syrian"}, refs=REFS, now=LATER)
    assert changed == ["countries", "lead_country", "lead_ministry_id", "lead_org_id"]
    assert (e.lead_ministry_id, e.lead_country) == ("sy-ministry", "SY")
    assert e.countries == frozenset({"SY", "GB"})


def test_the_report_needs_a_held_engagement_and_moves_it_to_reported():
    planned = create(status="planned")
    with pytest.raises(StatusConflict):
        planned.submit_report(text="r", attachments=[], by="u", by_org=None, now=LATER)
    e = create()
    attachment = {"name": "minutes.pdf", "media_type": "Application/PDF", "size_bytes": 10}
    assert e.submit_report(
        text=" Minutes ", attachments=[attachment], by="u", by_org="lead", now=LATER
    )
    assert e.status is Status.reported
    assert e.report is not None
    assert e.report.text == "Minutes"
    assert e.report.attachments[0].media_type == "application/pdf"
    assert e.report.submitted_at == LATER
    assert [ev.name for ev in e.events] == ["created", "reported"]
    assert e.events[-1].changed_fields == ("report", "status")
    # The same report again: nothing; another text: revised.
    assert not e.submit_report(
        text="Minutes", attachments=[attachment], by="v", by_org=None, now=LATER
    )
    assert e.submit_report(text="Minutes v2", attachments=[], by="v", by_org=None, now=LATER)
    assert [ev.name for ev in e.events] == ["created", "reported", "report_revised"]
    assert e.report.submitted_by == "v"
    assert e.version == 3


@pytest.mark.parametrize(
    "attachment",
    [
        {"name": "", "media_type": "application/pdf"},
        {"name": "a", "media_type": "pdf"},
        {"name": "a", "media_type": "application/pdf", "size_bytes": -1},
        {"name": "a", "media_type": "application/pdf", "sha256": "ABC"},
        "a.pdf",
    ],
)
def test_bad_attachment_metadata_is_refused(attachment):
    e = create()
    with pytest.raises(InvalidEngagement):
        e.submit_report(text="r", attachments=[attachment], by="u", by_org=None, now=LATER)
    assert e.report is None
    assert e.version == 1


def test_action_items_are_added_and_revised_with_their_own_events():
    e = create()
    item = e.add_action_item(
        item_id="a1",
        fields={"title": "Follow up", "owner_org_id": "un", "due_on": "2025-04-01"},
        refs=REFS,
        now=LATER,
    )
    assert item.status is ActionStatus.open
    assert item.due_on == date(2025, 4, 1)
    assert e.events[-1].name == "action_item_added"
    assert e.revise_action_item("a1", {"status": "done"}, refs=REFS, now=LATER) == ["status"]
    assert e.action_item("a1").status is ActionStatus.done
    assert e.events[-1].name == "action_item_updated"
    assert e.revise_action_item("a1", {"status": "done"}, refs=REFS, now=LATER) == []
    assert e.version == 3
    with pytest.raises(ActionItemNotFound):
        e.action_item("a2")
    with pytest.raises(UnknownOrganization):
        e.revise_action_item("a1", {"owner_org_id": "nobody"}, refs=REFS, now=LATER)
    with pytest.raises(InvalidEngagement):
        e.revise_action_item("a1", {"status": None}, refs=REFS, now=LATER)
    with pytest.raises(InvalidEngagement):
        e.add_action_item(
            item_id="a3", fields={"title": " ", "owner_org_id": "un"}, refs=REFS, now=LATER
        )


@pytest.mark.parametrize(
    ("source", "external_id", "expected"),
    [
        (None, None, ("manual", None)),
        ("manual", " LTR-1 ", ("manual", "LTR-1")),
        ("calendar", "evt-9", ("calendar", "evt-9")),
        ("travel.v2_x-y", "1", ("travel.v2_x-y", "1")),
    ],
)
def test_sources_and_external_ids(source, external_id, expected):
    assert check_source(source, external_id) == expected


@pytest.mark.parametrize(
    ("source", "external_id"),
    [
        ("calendar", None),
        ("calendar", "  "),
        ("calendar", "x" * 201),
        ("calendar", "a\x00"),
        ("../registry", "1"),
        ("", "1"),
        (7, "1"),
    ],
)
def test_bad_sources_are_refused(source, external_id):
    with pytest.raises(InvalidSource):
        check_source(source, external_id)


def test_error_classes_answer_the_documented_statuses():
    assert issubclass(StatusConflict, RuleConflict)
    assert StatusConflict.status == 409
    for error in (InvalidDates, InvalidAttendees, DuplicateParticipant, UnknownOrganization):
        assert error.status == 422
    assert Channel("via_coordinating_body") is Channel.via_coordinating_body
