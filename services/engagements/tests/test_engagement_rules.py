"""The engagement aggregate's refusals to the word (problem type, field and message), each
limit at its boundary, and the state each change leaves, field by field: action items,
locations, themes, attachments and sources. Pure Python; no database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from tansiq_engagements.engagements.model import (
    ActionItem,
    ActionItemNotFound,
    ActionStatus,
    Attachment,
    Attendees,
    Engagement,
    InvalidEngagement,
    InvalidSource,
    Location,
    OrgFacts,
    Participant,
    References,
    Report,
    StatusConflict,
    Themes,
    Title,
    check_source,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = datetime(2026, 1, 2, tzinfo=UTC)
ORGS = (
    OrgFacts("lead", national=True, country="QA", ministry_id="ministry"),
    OrgFacts("un", national=False),
    OrgFacts("embassy", national=False, country="GB"),
    OrgFacts("archived", national=True, country="QA", ministry_id="m2", active=False),
)
REFS = References(
    organizations={o.id: o for o in ORGS},
    agreement_ids=frozenset({"agreement-1"}),
    engagement_ids=frozenset({"other-engagement"}),
)


def fields(**overrides):
    return {
        "kind": "meeting",
        "title": {"en": "Consultation"},
        "start": "2025-03-10T09:00:00+03:00",
        "end": "2025-03-10T12:00:00+03:00",
        "lead_org_id": "lead",
        "participants": [{"org_id": "un", "role": "participant"}],
        "status": "held",
        **overrides,
    }


def create(**overrides) -> Engagement:
    return Engagement.create(id="e1", fields=fields(**overrides), refs=REFS, now=NOW)


def refused(error: pytest.ExceptionInfo[InvalidEngagement]) -> tuple[str, str, str]:
    [only] = error.value.errors
    assert only["message"] == error.value.message
    return error.value.slug, only["field"], error.value.message


@pytest.mark.parametrize(
    ("overrides", "slug", "field", "message"),
    [
        ({"kind": None}, "validation-error", "kind", "kind is required."),
        ({"title": None}, "validation-error", "title", "title is required."),
        ({"start": None}, "validation-error", "start", "start is required."),
        ({"lead_org_id": ""}, "validation-error", "lead_org_id", "lead_org_id is required."),
        ({"version": 7}, "validation-error", "version", "version cannot be set by a client."),
        ({"zeta": 1, "alpha": 2}, "validation-error", "alpha", "alpha cannot be set by a client."),
        (
            {"kind": "party"},
            "validation-error",
            "kind",
            "'party' is not one of meeting, visit, conference, strategic_dialogue, training, workshop, correspondence, technical_assistance, placement, signing, event.",
        ),
        ({"title": "x"}, "validation-error", "title", "title must be an object with ar and/or en."),
        (
            {"title": {"en": ""}},
            "validation-error",
            "title",
            "An Arabic or an English title is required.",
        ),
        ({"title": {"en": 5}}, "validation-error", "title.en", "title.en must be text."),
        (
            {"title": {"ar": "x" * 501}},
            "validation-error",
            "title.ar",
            "title.ar is longer than 500 characters.",
        ),
        (
            {"title": {"en": "a\x00"}},
            "validation-error",
            "title.en",
            "title.en contains a NUL character.",
        ),
        (
            {"start": "yesterday"},
            "validation-error",
            "start",
            "start is not an ISO 8601 date-time.",
        ),
        ({"start": 5}, "validation-error", "start", "start is a date-time."),
        (
            {"start": "2025-03-10T09:00:00"},
            "validation-error",
            "start",
            "start needs a time zone offset.",
        ),
        (
            {"start": "1949-12-31T23:59:59+00:00", "end": None},
            "invalid-dates",
            "start",
            "start is not between 1950 and 2100.",
        ),
        (
            {"start": "2101-01-01T00:00:00+00:00", "end": None},
            "invalid-dates",
            "start",
            "start is not between 1950 and 2100.",
        ),
        ({"end": "2025-03-10T08:59:00+03:00"}, "invalid-dates", "end", "end is before start."),
        ({"end": "x"}, "validation-error", "end", "end is not an ISO 8601 date-time."),
        ({"location": "Doha"}, "validation-error", "location", "location must be an object."),
        (
            {"location": {"country": "ZZ"}},
            "validation-error",
            "location.country",
            "'ZZ' is not an ISO 3166-1 country code.",
        ),
        (
            {"location": {"country": 5}},
            "validation-error",
            "location.country",
            "5 is not an ISO 3166-1 country code.",
        ),
        (
            {"location": {"virtual": "yes"}},
            "validation-error",
            "location.virtual",
            "virtual is true or false.",
        ),
        (
            {"location": {"city": "x" * 201}},
            "validation-error",
            "location.city",
            "location.city is longer than 200 characters.",
        ),
        ({"attendees": 5}, "validation-error", "attendees", "attendees must be an object."),
        (
            {"attendees": {"total": True}},
            "invalid-attendees",
            "attendees.total",
            "total is a whole number.",
        ),
        (
            {"attendees": {"total": "3"}},
            "invalid-attendees",
            "attendees.total",
            "total is a whole number.",
        ),
        (
            {"attendees": {"total": -1}},
            "invalid-attendees",
            "attendees.total",
            "total is between 0 and 1000000.",
        ),
        (
            {"attendees": {"total": 1000001}},
            "invalid-attendees",
            "attendees.total",
            "total is between 0 and 1000000.",
        ),
        (
            {"attendees": {"total": 3, "nationals": 4}},
            "invalid-attendees",
            "attendees.nationals",
            "More nationals than attendees in total.",
        ),
        (
            {"attendees": {"total": 5, "nationals": 4, "nationals_trained": 5}},
            "invalid-attendees",
            "attendees.nationals_trained",
            "More nationals trained than nationals attending.",
        ),
        (
            {"attendees": {"nationals": -1}},
            "invalid-attendees",
            "attendees.nationals",
            "nationals is between 0 and 1000000.",
        ),
        (
            {"themes": "x"},
            "validation-error",
            "themes",
            "themes must be an object with sdgs, sectors and priorities.",
        ),
        (
            {"themes": {"sdgs": [0]}},
            "validation-error",
            "themes.sdgs",
            "0 is not an SDG goal (1-17).",
        ),
        (
            {"themes": {"sdgs": [18]}},
            "validation-error",
            "themes.sdgs",
            "18 is not an SDG goal (1-17).",
        ),
        (
            {"themes": {"sdgs": [True]}},
            "validation-error",
            "themes.sdgs",
            "True is not an SDG goal (1-17).",
        ),
        ({"themes": {"sectors": [""]}}, "validation-error", "themes.sectors", "an empty code."),
        (
            {"themes": {"priorities": ["x" * 51]}},
            "validation-error",
            "themes.priorities",
            "themes.priorities is longer than 50 characters.",
        ),
        (
            {"themes": {"sectors": [str(i) for i in range(51)]}},
            "validation-error",
            "themes.sectors",
            "At most 50 codes.",
        ),
        (
            {"channel": "fax"},
            "validation-error",
            "channel",
            "'fax' is not one of via_coordinating_body, direct, unknown.",
        ),
        (
            {"coordinating_body_notified_at": "x"},
            "validation-error",
            "coordinating_body_notified_at",
            "coordinating_body_notified_at is not an ISO 8601 date-time.",
        ),
        (
            {"visibility": "secret"},
            "validation-error",
            "visibility",
            "'secret' is not one of interagency, restricted.",
        ),
        (
            {"report_due_on": "2025-03-09"},
            "invalid-dates",
            "report_due_on",
            "report_due_on is before the start.",
        ),
        (
            {"report_due_on": "x"},
            "validation-error",
            "report_due_on",
            "report_due_on is not an ISO 8601 date.",
        ),
        (
            {"report_due_on": "1949-12-31"},
            "invalid-dates",
            "report_due_on",
            "report_due_on is not between 1950 and 2100.",
        ),
        (
            {"report_due_on": "2101-01-01"},
            "invalid-dates",
            "report_due_on",
            "report_due_on is not between 1950 and 2100.",
        ),
        (
            {"report_due_on": datetime(2025, 4, 1, tzinfo=UTC)},
            "validation-error",
            "report_due_on",
            "report_due_on is a date.",
        ),
        ({"report_due_on": 5}, "validation-error", "report_due_on", "report_due_on is a date."),
        ({"outcome": "a\x00b"}, "validation-error", "outcome", "outcome contains a NUL character."),
        (
            {"outcome": "x" * 10001},
            "validation-error",
            "outcome",
            "outcome is longer than 10000 characters.",
        ),
        ({"outcome": 5}, "validation-error", "outcome", "outcome must be text."),
        (
            {"status": "reported"},
            "validation-error",
            "status",
            "An engagement becomes reported when its report is filed.",
        ),
        (
            {"status": "done"},
            "validation-error",
            "status",
            "'done' is not one of planned, held, cancelled, reported.",
        ),
        (
            {"lead_org_id": "nobody"},
            "unknown-organization",
            "lead_org_id",
            "No organization nobody.",
        ),
        (
            {"lead_org_id": "un"},
            "unknown-organization",
            "lead_org_id",
            "The lead organization must be a national one (a ministry or a body under one).",
        ),
        (
            {"lead_org_id": "archived"},
            "unknown-organization",
            "lead_org_id",
            "The lead organization is archived.",
        ),
        ({"lead_org_id": 5}, "validation-error", "lead_org_id", "lead_org_id is required."),
        (
            {"participants": ["un"]},
            "validation-error",
            "participants",
            "each participant needs org_id and role.",
        ),
        (
            {"participants": [{"org_id": "nobody"}]},
            "unknown-organization",
            "participants",
            "No organization nobody.",
        ),
        (
            {"participants": [{"org_id": "archived"}]},
            "unknown-organization",
            "participants",
            "Organization archived is archived and cannot be added.",
        ),
        (
            {"participants": [{"org_id": "un"}, {"org_id": "un"}]},
            "duplicate-participant",
            "participants",
            "Organization un is listed twice.",
        ),
        (
            {"participants": [{"org_id": "un", "role": "chair"}]},
            "validation-error",
            "participants.role",
            "'chair' is not one of host, organizer, participant, observer.",
        ),
        (
            {"agreement_ids": ["agreement-2"]},
            "unknown-agreement",
            "agreement_ids",
            "No agreement agreement-2.",
        ),
        (
            {"agreement_ids": [str(i) for i in range(101)]},
            "validation-error",
            "agreement_ids",
            "At most 100 links.",
        ),
        (
            {"related_engagement_ids": ["nope"]},
            "unknown-engagement",
            "related_engagement_ids",
            "No engagement nope.",
        ),
        (
            {"related_engagement_ids": ["e1"]},
            "unknown-engagement",
            "related_engagement_ids",
            "No engagement e1.",
        ),
    ],
)
def test_each_refusal_to_the_word(overrides, slug, field, message):
    with pytest.raises(InvalidEngagement) as error:
        create(**overrides)
    assert refused(error) == (slug, field, message)


def test_the_limits_hold_at_their_boundaries():
    e = create(
        title={"ar": " " + "x" * 500 + " ", "en": None},
        start="1950-01-01T00:00:00+00:00",
        end="2100-12-31T23:59:59+00:00",
        location={"city": "c" * 200, "country": " gb ", "virtual": True},
        attendees={"total": 1_000_000, "nationals": 0, "nationals_trained": None},
        themes={"sdgs": [1, 17], "sectors": [f"s{i}" for i in range(50)], "priorities": ["p" * 50]},
        agreement_ids=["agreement-1"] * 101,  # one link, named 101 times
        report_due_on="2100-12-31",
        outcome="o" * 10_000,
        participants=[],
    )
    assert (e.title, e.start, e.location, e.report_due_on) == (
        Title(ar="x" * 500),
        datetime(1950, 1, 1, tzinfo=UTC),
        Location(city="c" * 200, country="GB", virtual=True),
        date(2100, 12, 31),
    )
    assert (e.attendees.total, e.attendees.nationals, e.attendees.nationals_trained) == (
        1_000_000,
        0,
        0,
    )
    assert (e.themes.sdgs, len(e.themes.sectors), e.themes.priorities) == ((1, 17), 50, ("p" * 50,))
    assert (e.agreement_ids, e.participants, e.outcome) == (("agreement-1",), (), "o" * 10_000)
    assert create(report_due_on=date(1950, 1, 1), start="1950-01-01T00:00:00+00:00", end=None)
    assert create(location=None, attendees=None, themes=None, title={"en": "x"}).location == (
        Location()
    )


def test_what_a_creation_takes_as_given_and_as_default():
    e = create(
        location={"city": " Doha "},
        themes={"sdgs": [4, 3, 4], "sectors": ["b", "a", "b"], "priorities": None},
        channel=None,
        visibility=None,
        status=None,
        coordinating_body_notified_at="2025-03-11T10:00:00+03:00",
        outcome="  ",
        participants=None,
    )
    assert (e.location, e.themes, e.channel, e.visibility, e.status, e.outcome) == (
        Location(city="Doha"),
        Themes(sdgs=(3, 4), sectors=("b", "a")),
        "unknown",
        "interagency",
        "planned",
        None,
    )
    assert e.coordinating_body_notified_at == datetime(2025, 3, 11, 7, tzinfo=UTC)
    assert (e.participants, e.countries, e.source, e.external_id) == ((), {"QA"}, "manual", None)
    unset = create(coordinating_body_notified_at=None, location=Location(country="QA"))
    assert (unset.coordinating_body_notified_at, unset.location) == (None, Location(country="QA"))
    given = create(title=Title(en="T"), themes=Themes(sdgs=(5,)), start=NOW, end=None)
    assert (given.title, given.themes, given.start) == (Title(en="T"), Themes(sdgs=(5,)), NOW)


def test_a_record_from_an_integration_carries_its_source():
    e = Engagement.create(
        id="e2", fields=fields(), refs=REFS, now=NOW, source="calendar", external_id=" c-1 "
    )
    assert (e.source, e.external_id) == ("calendar", "c-1")
    assert (e.events[0].state["source"], e.events[0].state["external_id"]) == ("calendar", "c-1")


@pytest.mark.parametrize(
    ("source", "external_id", "field", "message"),
    [
        ("calendar", None, "external_id", "A record from calendar needs its external_id."),
        ("calendar", "  ", "external_id", "external_id must be non-empty text."),
        ("calendar", 7, "external_id", "external_id must be non-empty text."),
        ("calendar", "x" * 201, "external_id", "external_id is longer than 200 characters."),
        ("calendar", "a\x00", "external_id", "external_id contains a NUL character."),
        (
            "../registry",
            "1",
            "source",
            "source is `manual` or a system name: letters, digits, `.`, `_` or `-`.",
        ),
        (
            "a" * 64,
            "1",
            "source",
            "source is `manual` or a system name: letters, digits, `.`, `_` or `-`.",
        ),
    ],
)
def test_a_source_refused_to_the_word(source, external_id, field, message):
    with pytest.raises(InvalidSource) as error:
        check_source(source, external_id)
    assert refused(error) == ("invalid-source", field, message)


def test_source_names_at_their_limits():
    assert check_source("a" * 63, " " + "x" * 200 + " ") == ("a" * 63, "x" * 200)
    assert check_source("manual", None) == ("manual", None)


def test_status_changes_refused_to_the_word():
    e = create()
    with pytest.raises(StatusConflict) as error:
        e.revise({"status": "cancelled"}, refs=REFS, now=LATER)
    assert (error.value.slug, error.value.message, error.value.errors, error.value.extra) == (
        "status-conflict",
        "A held engagement cannot become cancelled.",
        [{"field": "status", "message": "held → cancelled is not allowed"}],
        {"status": "held"},
    )
    planned = create(status="planned")
    assert planned.revise({"status": None}, refs=REFS, now=LATER) == []
    with pytest.raises(StatusConflict) as report:
        planned.submit_report(text="r", attachments=[], by="u", by_org=None, now=LATER)
    assert (report.value.message, report.value.extra) == (
        "Only a held engagement is reported on; this one is planned.",
        {"status": "planned"},
    )


@pytest.mark.parametrize(
    ("changes", "event", "changed"),
    [
        ({"status": "held"}, "held", ["status"]),
        ({"status": "cancelled"}, "cancelled", ["status"]),
        ({"outcome": "fine"}, "updated", ["outcome"]),
    ],
)
def test_each_revision_records_its_event(changes, event, changed):
    e = create(status="planned")
    assert e.revise(changes, refs=REFS, now=LATER) == changed
    assert (e.events[-1].name, list(e.events[-1].changed_fields), e.version) == (event, changed, 2)


def test_a_report_in_full_then_revised():
    e = create()
    digest = "a" * 64
    files = [
        {
            "name": " minutes.pdf ",
            "media_type": "Application/PDF",
            "size_bytes": 0,
            "uri": " s3://b/k ",
            "sha256": digest,
        },
        Attachment(name="photo.jpg", media_type="image/jpeg"),
    ]
    at = datetime(2025, 3, 11, tzinfo=UTC)
    assert e.submit_report(
        text=" Minutes ", attachments=files, by="u", by_org="lead", now=LATER, submitted_at=at
    )
    assert e.report == Report(
        text="Minutes",
        submitted_by="u",
        submitted_at=at,
        submitted_by_org="lead",
        attachments=(
            Attachment("minutes.pdf", "application/pdf", 0, "s3://b/k", digest),
            Attachment("photo.jpg", "image/jpeg"),
        ),
    )
    assert (e.status, e.version, e.updated_at) == ("reported", 2, LATER)
    assert (e.events[-1].name, e.events[-1].changed_fields) == ("reported", ("report", "status"))
    assert e.submit_report(text="Minutes", attachments=[], by="v", by_org=None, now=LATER)
    assert (e.events[-1].name, e.events[-1].changed_fields) == ("report_revised", ("report",))
    assert e.report == Report(text="Minutes", submitted_by="v", submitted_at=LATER)
    limit = [{"name": f"f{i}", "media_type": "a/b", "size_bytes": 10**12} for i in range(20)]
    assert e.submit_report(text="x" * 50_000, attachments=limit, by="v", by_org=None, now=LATER)
    assert e.report is not None
    assert len(e.report.attachments) == 20


@pytest.mark.parametrize(
    ("text", "attachments", "field", "message"),
    [
        (" ", [], "text", "text is required."),
        ("x" * 50_001, [], "text", "text is longer than 50000 characters."),
        ("r", ["a.pdf"], "attachments", "each attachment is an object."),
        ("r", [{"name": "a"}], "attachments.media_type", "a media type such as application/pdf."),
        (
            "r",
            [{"name": "a", "media_type": "pdf"}],
            "attachments.media_type",
            "a media type such as application/pdf.",
        ),
        (
            "r",
            [{"name": "a", "media_type": "a/b", "size_bytes": -1}],
            "attachments.size_bytes",
            "size_bytes is a number of bytes.",
        ),
        (
            "r",
            [{"name": "a", "media_type": "a/b", "size_bytes": 10**12 + 1}],
            "attachments.size_bytes",
            "size_bytes is a number of bytes.",
        ),
        (
            "r",
            [{"name": "a", "media_type": "a/b", "size_bytes": True}],
            "attachments.size_bytes",
            "size_bytes is a number of bytes.",
        ),
        (
            "r",
            [{"name": "a", "media_type": "a/b", "size_bytes": "1"}],
            "attachments.size_bytes",
            "size_bytes is a number of bytes.",
        ),
        (
            "r",
            [{"name": "a", "media_type": "a/b", "sha256": "A" * 64}],
            "attachments.sha256",
            "sha256 is 64 lower-case hex digits.",
        ),
        (
            "r",
            [{"name": "a", "media_type": "a/b", "sha256": 5}],
            "attachments.sha256",
            "sha256 is 64 lower-case hex digits.",
        ),
        ("r", [{"media_type": "a/b"}], "attachments.name", "attachments.name is required."),
        (
            "r",
            [{"name": "n" * 256, "media_type": "a/b"}],
            "attachments.name",
            "attachments.name is longer than 255 characters.",
        ),
        (
            "r",
            [{"name": "a", "media_type": "a/b", "uri": "u" * 2049}],
            "attachments.uri",
            "attachments.uri is longer than 2048 characters.",
        ),
        (
            "r",
            [{"name": f"f{i}", "media_type": "a/b"} for i in range(21)],
            "attachments",
            "At most 20 attachments.",
        ),
    ],
)
def test_a_report_refused_to_the_word(text, attachments, field, message):
    e = create()
    with pytest.raises(InvalidEngagement) as error:
        e.submit_report(text=text, attachments=attachments, by="u", by_org=None, now=LATER)
    assert refused(error) == ("validation-error", field, message)
    assert (e.report, e.version) == (None, 1)


def test_action_items_in_full():
    e = create()
    item = e.add_action_item(
        item_id="a1",
        fields={"title": " Follow up ", "owner_org_id": "un", "due_on": "2025-04-01"},
        refs=REFS,
        now=LATER,
    )
    assert item == ActionItem(
        id="a1",
        title="Follow up",
        owner_org_id="un",
        status=ActionStatus.open,
        created_at=LATER,
        updated_at=LATER,
        due_on=date(2025, 4, 1),
    )
    assert e.action_items == (item,)
    assert (e.version, e.events[-1].name, e.events[-1].changed_fields) == (
        2,
        "action_item_added",
        ("action_items",),
    )
    second = e.add_action_item(
        item_id="a2",
        fields={"title": "Second", "owner_org_id": "lead", "status": "in_progress"},
        refs=REFS,
        now=NOW,
    )
    assert (second.status, second.due_on) == (ActionStatus.in_progress, None)
    assert e.action_item("a2") == second
    later = datetime(2026, 2, 1, tzinfo=UTC)
    changed = e.revise_action_item(
        "a1",
        {"title": "Follow up again", "owner_org_id": "lead", "due_on": None, "status": "done"},
        refs=REFS,
        now=later,
    )
    assert changed == ["title", "owner_org_id", "due_on", "status"]
    assert e.action_items == (
        ActionItem(
            id="a1",
            title="Follow up again",
            owner_org_id="lead",
            status=ActionStatus.done,
            created_at=LATER,
            updated_at=later,
            due_on=None,
        ),
        second,
    )
    assert (e.version, e.events[-1].name, e.events[-1].changed_fields) == (
        4,
        "action_item_updated",
        ("action_items",),
    )
    assert e.revise_action_item("a2", {"title": "Second"}, refs=REFS, now=later) == []
    assert e.action_item("a2").updated_at == NOW
    with pytest.raises(ActionItemNotFound) as missing:
        e.revise_action_item("a9", {}, refs=REFS, now=later)
    assert str(missing.value) == "No action item a9 on engagement e1."


@pytest.mark.parametrize(
    ("item", "field", "message"),
    [
        ({"owner_org_id": "un"}, "title", "title is required."),
        (
            {"title": "x" * 501, "owner_org_id": "un"},
            "title",
            "title is longer than 500 characters.",
        ),
        ({"title": "t"}, "owner_org_id", "owner_org_id is required."),
        ({"title": "t", "owner_org_id": "nobody"}, "owner_org_id", "No organization nobody."),
        (
            {"title": "t", "owner_org_id": "un", "due_on": "soon"},
            "due_on",
            "due_on is not an ISO 8601 date.",
        ),
        (
            {"title": "t", "owner_org_id": "un", "status": "closed"},
            "status",
            "'closed' is not one of open, in_progress, done, cancelled.",
        ),
    ],
)
def test_an_action_item_refused_to_the_word(item, field, message):
    e = create()
    with pytest.raises(InvalidEngagement) as error:
        e.add_action_item(item_id="a1", fields=item, refs=REFS, now=LATER)
    assert refused(error)[1:] == (field, message)
    assert e.action_items == ()


def test_action_item_revisions_refused_to_the_word():
    e = create()
    e.add_action_item(item_id="a1", fields={"title": "t", "owner_org_id": "un"}, refs=REFS, now=NOW)
    for changes, field, message in (
        ({"status": None}, "status", "status is required."),
        ({"title": " "}, "title", "title is required."),
        ({"owner_org_id": None}, "owner_org_id", "owner_org_id is required."),
        ({"due_on": 5}, "due_on", "due_on is a date."),
    ):
        with pytest.raises(InvalidEngagement) as error:
            e.revise_action_item("a1", changes, refs=REFS, now=LATER)
        assert refused(error)[1:] == (field, message)
    assert e.version == 2


def test_at_most_two_hundred_action_items_and_participants():
    e = create()
    for i in range(200):
        e.add_action_item(
            item_id=f"a{i}", fields={"title": "t", "owner_org_id": "un"}, refs=REFS, now=NOW
        )
    with pytest.raises(InvalidEngagement) as error:
        e.add_action_item(
            item_id="x", fields={"title": "t", "owner_org_id": "un"}, refs=REFS, now=NOW
        )
    assert refused(error) == (
        "validation-error",
        "action_items",
        "An engagement has at most 200 items.",
    )
    many = {f"o{i}": OrgFacts(f"o{i}", national=False) for i in range(201)}
    refs = References(organizations={**REFS.organizations, **many})
    people = [{"org_id": f"o{i}"} for i in range(200)]
    ok = Engagement.create(id="e", fields=fields(participants=people), refs=refs, now=NOW)
    assert len(ok.participants) == 200
    with pytest.raises(InvalidEngagement) as crowded:
        Engagement.create(
            id="e", fields=fields(participants=[*people, {"org_id": "o200"}]), refs=refs, now=NOW
        )
    assert refused(crowded) == ("validation-error", "participants", "At most 200 participants.")


def test_links_are_kept_in_order_without_repeats():
    refs = References(
        organizations=REFS.organizations,
        agreement_ids=frozenset({"a", "b"}),
        engagement_ids=frozenset({"x", "y"}),
    )
    e = Engagement.create(
        id="e1",
        fields=fields(agreement_ids=["b", "a", "b"], related_engagement_ids=("y", "x")),
        refs=refs,
        now=NOW,
    )
    assert (e.agreement_ids, e.related_engagement_ids) == (("b", "a"), ("y", "x"))
    assert e.revise({"agreement_ids": None}, refs=refs, now=LATER) == ["agreement_ids"]
    assert e.agreement_ids == ()


def test_attendee_counts_given_in_part_or_as_counts():
    assert create(attendees={"total": 5}).attendees == Attendees(5, 0, 0)
    assert create(attendees={"total": 5, "nationals": None}).attendees == Attendees(5, 0, 0)
    assert create(attendees=Attendees(4, 3, 2)).attendees == Attendees(4, 3, 2)
    with pytest.raises(InvalidEngagement) as error:
        create(attendees=Attendees(2, 3, 0))
    assert refused(error) == (
        "invalid-attendees",
        "attendees.nationals",
        "More nationals than attendees in total.",
    )


def test_a_hundred_links_and_no_more():
    known = frozenset(f"a{i}" for i in range(101))
    refs = References(organizations=REFS.organizations, agreement_ids=known)
    hundred = [f"a{i}" for i in range(100)]
    e = Engagement.create(id="e", fields=fields(agreement_ids=hundred), refs=refs, now=NOW)
    assert e.agreement_ids == tuple(hundred)
    with pytest.raises(InvalidEngagement) as error:
        Engagement.create(
            id="e", fields=fields(agreement_ids=[*hundred, "a100"]), refs=refs, now=NOW
        )
    assert refused(error) == ("validation-error", "agreement_ids", "At most 100 links.")


def test_attachments_given_as_metadata_objects_keep_their_place():
    e = create()
    photo = Attachment(name="photo.jpg", media_type="image/jpeg")
    e.submit_report(
        text="r",
        attachments=[photo, {"name": "b.pdf", "media_type": "application/pdf"}],
        by="u",
        by_org=None,
        now=LATER,
    )
    assert e.report is not None
    assert e.report.attachments == (photo, Attachment("b.pdf", "application/pdf"))


def test_an_action_item_revision_refused_or_recorded_at_its_time():
    e = create()
    e.add_action_item(item_id="a1", fields={"title": "t", "owner_org_id": "un"}, refs=REFS, now=NOW)
    with pytest.raises(InvalidEngagement) as error:
        e.revise_action_item("a1", {"status": "closed"}, refs=REFS, now=LATER)
    assert refused(error)[1:] == (
        "status",
        "'closed' is not one of open, in_progress, done, cancelled.",
    )
    e.revise_action_item("a1", {"status": "cancelled"}, refs=REFS, now=LATER)
    assert (e.updated_at, e.version, e.action_item("a1").updated_at) == (LATER, 3, LATER)


def test_creation_and_additions_are_stamped_with_their_time():
    e = create(start="2025-03-10T09:00:00+03:00")
    assert (e.created_at, e.updated_at, e.version) == (NOW, NOW, 1)
    assert e.start.tzinfo is UTC
    assert e.end is not None
    assert e.end.tzinfo is UTC
    e.add_action_item(
        item_id="a1", fields={"title": "t", "owner_org_id": "un"}, refs=REFS, now=LATER
    )
    assert (e.created_at, e.updated_at, e.version) == (NOW, LATER, 2)


def test_revisions_refuse_an_unset_start_and_a_relation_to_itself():
    refs = References(organizations=REFS.organizations, engagement_ids=frozenset({"e1", "x"}))
    e = Engagement.create(id="e1", fields=fields(), refs=refs, now=NOW)
    with pytest.raises(InvalidEngagement) as unset:
        e.revise({"start": None}, refs=refs, now=LATER)
    assert refused(unset) == ("validation-error", "start", "start is required.")
    with pytest.raises(InvalidEngagement) as itself:
        e.revise({"related_engagement_ids": ["x", "e1"]}, refs=refs, now=LATER)
    assert refused(itself) == (
        "validation-error",
        "related_engagement_ids",
        "An engagement is not related to itself.",
    )
    assert e.version == 1


def test_a_revision_keeps_what_was_there_though_no_longer_found():
    refs = References(organizations=REFS.organizations, engagement_ids=frozenset({"x"}))
    e = Engagement.create(id="e1", fields=fields(related_engagement_ids=["x"]), refs=refs, now=NOW)
    # The lead is archived since, and the related engagement no longer looked up: both stay.
    archived_lead = OrgFacts(
        "lead", national=True, country="QA", ministry_id="ministry", active=False
    )
    later = References(organizations={**REFS.organizations, "lead": archived_lead})
    assert (
        e.revise({"lead_org_id": "lead", "related_engagement_ids": ["x"]}, refs=later, now=LATER)
        == []
    )


def test_countries_come_from_the_organizations_that_have_one():
    refs = References(
        organizations={
            "lead": OrgFacts("lead", national=True),
            "un": OrgFacts("un", national=False),
            "embassy": OrgFacts("embassy", national=False, country="GB"),
        }
    )
    e = Engagement.create(
        id="e1",
        fields=fields(participants=[Participant("un", "host"), Participant("embassy", "observer")]),
        refs=refs,
        now=NOW,
    )
    assert (e.lead_country, e.countries) == (None, frozenset({"GB"}))
    assert e.participants == (Participant("un", "host"), Participant("embassy", "observer"))
