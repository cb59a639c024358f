"""Reading the other services' events into reporting's records: every field, and what a
missing, null or odd value becomes (absent, never a refusal, but for `id` and `version`).
Pure functions; no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
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
    organization_from_event,
)

DOHA = timezone(timedelta(hours=3))


def test_an_organization_event_read_field_by_field():
    assert organization_from_event(
        {
            "id": " o1 ",
            "version": 7,
            "names": {"ar": " وزارة ", "en": "Ministry", "fr": "Ministère"},
            "acronym": " MOE ",
            "kind": "ministry",
            "scope": "national",
            "country": " qa ",
            "parent_id": "p1",
            "status": "archived",
            "designations": ["coordinating_body", " focal_point ", "", None, ["x"]],
            "ministry_id": "derived-by-reporting",
            "coordinating": True,
        }
    ) == Org(
        id="o1",
        names=Text(ar="وزارة", en="Ministry"),
        acronym="MOE",
        kind="ministry",
        scope="national",
        country="QA",
        parent_id="p1",
        status="archived",
        designations=("coordinating_body", "focal_point"),
    )


def test_an_organization_event_with_nothing_optional():
    assert organization_from_event(
        {
            "id": "o2",
            "version": 1,
            "names": "Plain name",
            "acronym": {"en": "X"},
            "kind": None,
            "country": "",
            "status": "  ",
            "designations": "coordinating_body",
        }
    ) == Org(id="o2", names=Text(en="Plain name"), kind="other", status="active")
    assert organization_from_event({"id": "o3", "version": 1, "names": 5}).names == Text()
    assert organization_from_event({"id": 4, "version": 0}).id == "4"


def test_an_agreement_event_read_field_by_field():
    assert agreement_from_event(
        {
            "id": "a1",
            "version": 3,
            "title": {"ar": "اتفاق", "en": " Deal "},
            "kind": "mou",
            "status": "in_force",
            "owner_org_id": "moe",
            "parties": [
                {"org_id": "moe", "role": "signatory"},
                {"org_id": " unesco ", "role": "funder"},
                {"org_id": "moe"},
                {"org_id": None},
                "",
            ],
            "themes": {
                "sdgs": [17, 4, "4", 0, 18, -1, 3.0, None, "1"],
                "sectors": ["water", " health ", "water", None, ""],
                "priorities": ["NDS2", ""],
            },
            "signed_on": "2025-05-01",
            "effective_from": "2025-06-01T00:00:00Z",
            "expires_on": "2030-05-31",
            "clearance": {"decision": " Approved "},
            "supersedes": "a0",
            "visibility": "restricted",
            "created_at": "2025-04-01T08:00:00Z",
            "updated_at": "2025-06-01T08:00:00+03:00",
        }
    ) == Agreement(
        id="a1",
        version=3,
        title=Text(ar="اتفاق", en="Deal"),
        kind="mou",
        status="in_force",
        owner_org_id="moe",
        party_org_ids=("moe", "unesco"),
        themes=Themes(sdgs=(1, 4, 17), sectors=("health", "water"), priorities=("NDS2",)),
        signed_on=date(2025, 5, 1),
        effective_from=date(2025, 6, 1),
        expires_on=date(2030, 5, 31),
        cleared=True,
        supersedes="a0",
        visibility="restricted",
        created_at=datetime(2025, 4, 1, 8, tzinfo=UTC),
        updated_at=datetime(2025, 6, 1, 5, tzinfo=UTC),
    )


def test_an_agreement_event_with_nothing_optional():
    a = agreement_from_event({"id": "a2", "version": 1})
    assert a == Agreement(id="a2", version=1, visibility="interagency")
    assert (a.org_ids, a.reached_signature, a.record_date) == ((), False, None)
    assert agreement_from_event(
        {
            "id": "a3",
            "version": 1,
            "title": None,
            "parties": {"org_id": "x"},
            "themes": ["sdgs"],
            "signed_on": "",
            "effective_from": 20250601,
            "expires_on": "2030-02-30",
            "visibility": None,
            "created_at": "yesterday",
            "updated_at": 5,
        }
    ) == Agreement(id="a3", version=1, visibility="restricted")


@pytest.mark.parametrize(
    ("event", "cleared"),
    [
        ({"clearance": {"decision": "cleared"}}, True),
        ({"clearance": {"decision": "CLEAR"}}, True),
        ({"clearance": {"decision": "approved"}}, True),
        ({"clearance": {"decision": "returned"}}, False),
        ({"clearance": {"decision": None}}, False),
        ({"clearance": {}}, False),
        ({"clearance": "cleared"}, False),
        ({"cleared": True}, True),
        ({"cleared": True, "clearance": {"decision": "returned"}}, True),  # the flag wins
        ({"cleared": "yes", "clearance": {"decision": "cleared"}}, True),  # not a flag: decision
        ({"cleared": "yes"}, False),
    ],
)
def test_clearance_from_the_flag_or_the_decision(event, cleared):
    assert agreement_from_event({"id": "a", "version": 1, **event}).cleared is cleared


def test_an_engagement_event_read_field_by_field():
    assert engagement_from_event(
        {
            "id": "e1",
            "version": 2,
            "title": {"en": "Talks"},
            "kind": "meeting",
            "status": "reported",
            "start": "2026-01-10T09:00:00+03:00",
            "end": "2026-01-10T12:00:00Z",
            "lead_org_id": "moe",
            "participants": [{"org_id": "unesco", "role": "host"}, {"org_id": "moe"}],
            "attendees": {"total": 12, "nationals": "7", "nationals_trained": 5},
            "agreement_ids": ["a1", " a2 ", "a1", None, ""],
            "related_engagement_ids": ["e0"],
            "themes": {"sdgs": [4]},
            "channel": "direct",
            "coordinating_body_notified_at": "2026-01-11T00:00:00",
            "report_due_on": "2026-02-10",
            "report": {"created_at": "2026-01-20T10:00:00Z"},
            "action_items": [
                "junk",
                {
                    "title": " Minutes ",
                    "due_on": "2026-01-31",
                    "status": "open",
                    "owner_org_id": "moe",
                },
                {"due_on": None},
            ],
            "visibility": "interagency",
            "source": "crm",
            "external_id": "X-1",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-20T10:00:00Z",
        }
    ) == Engagement(
        id="e1",
        version=2,
        title=Text(en="Talks"),
        kind="meeting",
        status="reported",
        start=datetime(2026, 1, 10, 6, tzinfo=UTC),
        end=datetime(2026, 1, 10, 12, tzinfo=UTC),
        lead_org_id="moe",
        participant_org_ids=("unesco", "moe"),
        attendees_total=12,
        nationals=7,
        nationals_trained=5,
        agreement_ids=("a1", "a2"),
        related_engagement_ids=("e0",),
        themes=Themes(sdgs=(4,)),
        channel="direct",
        coordinating_body_notified_at=datetime(2026, 1, 11, tzinfo=UTC),
        report_due_on=date(2026, 2, 10),
        report_submitted_at=datetime(2026, 1, 20, 10, tzinfo=UTC),
        action_items=(
            ActionItem("Minutes", date(2026, 1, 31), "open", "moe"),
            ActionItem("", None, None, None),
        ),
        visibility="interagency",
        source="crm",
        external_id="X-1",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        updated_at=datetime(2026, 1, 20, 10, tzinfo=UTC),
    )


def test_an_engagement_event_with_nothing_optional():
    e = engagement_from_event({"id": "e2", "version": 1})
    assert e == Engagement(id="e2", version=1, visibility="interagency")
    assert (e.org_ids, e.held, e.cancelled, e.report_submitted, e.when, e.record_date) == (
        (),
        False,
        False,
        False,
        None,
        None,
    )
    odd = engagement_from_event(
        {
            "id": "e3",
            "version": 1,
            "attendees": [3],
            "report": {"submitted_at": "bad", "created_at": None},
            "action_items": {"title": "x"},
            "start": "2026-13-01T00:00:00Z",
            "visibility": "everyone",
        }
    )
    assert odd == Engagement(id="e3", version=1, visibility="restricted")
    # The submission time wins over the creation time of the report.
    both = engagement_from_event(
        {
            "id": "e4",
            "version": 1,
            "report": {
                "submitted_at": "2026-01-02T00:00:00Z",
                "created_at": "2026-01-01T00:00:00Z",
            },
        }
    )
    assert both.report_submitted_at == datetime(2026, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given", "read"),
    [
        (5, 5),
        (0, 0),
        (-1, 0),
        ("12", 12),
        (" 3 ", 3),
        ("-4", 0),
        ("x", 0),
        (None, 0),
        (True, 0),
        (False, 0),
        (2.9, 0),
    ],
)
def test_attendee_counts_are_whole_and_never_negative(given, read):
    e = engagement_from_event({"id": "e", "version": 1, "attendees": {"total": given}})
    assert e.attendees_total == read


@pytest.mark.parametrize(
    ("given", "read"),
    [
        ("2026-01-05", date(2026, 1, 5)),
        ("2026-01-05T23:30:00+03:00", date(2026, 1, 5)),  # the date as written
        (datetime(2026, 1, 5, 23, tzinfo=UTC), date(2026, 1, 5)),
        (date(2026, 1, 5), date(2026, 1, 5)),
        ("2026-1-5", None),
        ("", None),
        (None, None),
        (20260105, None),
    ],
)
def test_dates_are_read_or_taken_as_absent(given, read):
    e = engagement_from_event({"id": "e", "version": 1, "report_due_on": given})
    assert e.report_due_on == read


@pytest.mark.parametrize(
    ("given", "read"),
    [
        ("2026-01-05T10:00:00Z", datetime(2026, 1, 5, 10, tzinfo=UTC)),
        ("2026-01-05T10:00:00", datetime(2026, 1, 5, 10, tzinfo=UTC)),
        ("2026-01-05T13:00:00+03:00", datetime(2026, 1, 5, 13, tzinfo=DOHA)),
        (datetime(2026, 1, 5, 10), datetime(2026, 1, 5, 10, tzinfo=UTC)),
        (datetime(2026, 1, 5, 13, tzinfo=DOHA), datetime(2026, 1, 5, 13, tzinfo=DOHA)),
        ("2026-01-05", datetime(2026, 1, 5, tzinfo=UTC)),
        ("soon", None),
        ("", None),
        (None, None),
        (date(2026, 1, 5), None),
    ],
)
def test_times_are_read_with_their_offset_utc_when_none(given, read):
    start = engagement_from_event({"id": "e", "version": 1, "start": given}).start
    assert start == read
    if read is not None:
        assert start is not None
        assert start.utcoffset() == read.utcoffset()


@pytest.mark.parametrize(
    "data",
    [
        {"version": 1},
        {"id": None, "version": 1},
        {"id": " ", "version": 1},
        {"id": {"x": 1}, "version": 1},
        {"id": "x"},
        {"id": "x", "version": None},
        {"id": "x", "version": "1"},
        {"id": "x", "version": 1.0},
        {"id": "x", "version": True},
    ],
)
def test_every_reader_refuses_an_event_without_identity_and_version(data):
    for read in (organization_from_event, agreement_from_event, engagement_from_event):
        with pytest.raises(InvalidRecord) as refused:
            read(data)
        assert str(refused.value) == "a state event carries an `id` and an integer `version`"


def test_derived_facts_of_the_records():
    a = Agreement(id="a", version=1, owner_org_id="moe", party_org_ids=("unesco", "moe", "x"))
    assert a.org_ids == ("moe", "unesco", "x")
    assert Agreement(id="a", version=1, party_org_ids=("x",)).org_ids == ("x",)
    created = datetime(2026, 2, 3, 4, tzinfo=UTC)
    assert Agreement(id="a", version=1, created_at=created).record_date == date(2026, 2, 3)
    assert Agreement(
        id="a", version=1, effective_from=date(2025, 1, 1), created_at=created
    ).record_date == date(2025, 1, 1)
    assert Agreement(
        id="a", version=1, signed_on=date(2024, 1, 1), effective_from=date(2025, 1, 1)
    ).record_date == date(2024, 1, 1)
    e = Engagement(id="e", version=1, lead_org_id="moe", participant_org_ids=("moe", "unesco"))
    assert e.org_ids == ("moe", "unesco")
    assert Engagement(id="e", version=1, participant_org_ids=("u",)).org_ids == ("u",)
    start, end = datetime(2026, 1, 1, 22, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    assert Engagement(id="e", version=1, start=start, end=end).when == end
    assert Engagement(id="e", version=1, start=start).when == start
    assert Engagement(id="e", version=1, start=start, created_at=end).record_date == date(
        2026, 1, 1
    )
    assert Engagement(id="e", version=1, created_at=end).record_date == date(2026, 1, 2)
    assert Engagement(id="e", version=1, status="held").held
    assert Engagement(id="e", version=1, status="reported").held
    assert not Engagement(id="e", version=1, status="planned").held
    assert Engagement(id="e", version=1, status="reported").report_submitted
    assert Engagement(id="e", version=1, report_submitted_at=start).report_submitted
    x = Engagement(id="x", version=1, related_engagement_ids=("y",))
    y = Engagement(id="y", version=1)
    assert x.linked_to(y)
    assert y.linked_to(x)
    assert not y.linked_to(Engagement(id="z", version=1, related_engagement_ids=("x",)))


@pytest.mark.parametrize(
    ("status", "finished"),
    [
        ("done", True),
        ("Completed", True),
        ("CLOSED", True),
        ("cancelled", True),
        ("open", False),
        ("in_progress", False),
        (None, False),
    ],
)
def test_an_action_item_is_finished_in_a_final_state(status, finished):
    assert ActionItem("t", None, status).finished is finished


def test_labels_and_texts_in_either_language():
    assert Text(ar="أ", en="A").in_("ar") == "أ"
    assert Text(ar="أ", en="A").in_("en") == "A"
    assert Text(en="A").in_("ar") == "A"
    assert Text(ar="أ").in_("en") == "أ"
    assert Text().in_("en") == ""
    un = Org("un", Text(en="United Nations"), acronym="UN")
    assert un.label("en") == "United Nations (UN)"
    assert Org("u", Text(en="UNESCO"), acronym="UNESCO").label("en") == "UNESCO"
    assert Org("u", acronym="UNDP").label("ar") == "UNDP"
    assert Org("u").label("ar") == "u"
    assert Org("u", Text(ar="اليونسكو")).label("en") == "اليونسكو"
    assert (Org("n", scope="national").national, Org("n", scope="national").international) == (
        True,
        False,
    )
    assert (
        Org("i", scope="international").national,
        Org("i", scope="international").international,
    ) == (
        False,
        True,
    )


def test_themes_shared_and_aligned():
    mine = Themes(sdgs=(4, 3, 9), sectors=("water", "health"), priorities=("p",))
    theirs = Themes(sdgs=(9, 4, 5), sectors=("health", "water", "x"))
    assert mine.shared_with(theirs) == ((4, 9), ("health", "water"))
    assert Themes().shared_with(mine) == ((), ())
    assert Themes(sdgs=(1,)).aligned
    assert Themes(priorities=("p",)).aligned
    assert not Themes(sectors=("s",)).aligned
