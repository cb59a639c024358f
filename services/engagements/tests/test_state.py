"""An engagement's snapshot (its events' payload, its API representation, its ingestion row) is
exactly what the generic encoder gives, however full or bare the engagement (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from tansiq_common.codec import to_json
from tansiq_common.codec import typed_encoder as encoder
from tansiq_engagements.engagements.model import (
    Engagement,
    Kind,
    OrgFacts,
    References,
    Status,
)
from tansiq_engagements.engagements.repository import DERIVED_COLUMNS, EngagementRepository
from tansiq_engagements.engagements.tables import engagements

NOW = datetime(2026, 1, 1, 8, 30, 15, 123456, tzinfo=UTC)
LEAD = OrgFacts("lead", national=True, country="QA", ministry_id="ministry")
EMBASSY = OrgFacts("embassy", national=False, country="GB")
SYRIAN = OrgFacts("syrian", national=True, country="SY", ministry_id="sy-ministry")
REFS = References(
    organizations={o.id: o for o in (LEAD, EMBASSY, SYRIAN)},
    agreement_ids=frozenset({"agreement-1", "agreement-2"}),
    engagement_ids=frozenset({"other"}),
)


def full() -> Engagement:
    engagement = Engagement.create(
        id="e1",
        fields={
            "kind": "workshop",
            "title": {"ar": "ورشة عمل", "en": "Workshop"},
            "start": "2025-03-10T09:00:00+03:00",
            "end": "2025-03-11T12:00:00+03:00",
            "location": {"city": "Doha", "country": "qa", "virtual": True},
            "lead_org_id": "lead",
            "participants": [
                {"org_id": "embassy", "role": "participant"},
                {"org_id": "syrian", "role": "host"},
            ],
            "attendees": {"total": 40, "nationals": 30, "nationals_trained": 12},
            "agreement_ids": ["agreement-2", "agreement-1"],
            "related_engagement_ids": ["other"],
            "themes": {"sdgs": [16, 4], "sectors": ["education"], "priorities": ["p-1"]},
            "channel": "via_coordinating_body",
            "coordinating_body_notified_at": "2025-03-01T10:00:00+03:00",
            "status": "held",
            "visibility": "restricted",
            "report_due_on": "2025-03-24",
            "outcome": "Agreed on a plan.",
        },
        refs=REFS,
        now=NOW,
        source="calendar",
        external_id="cal-7",
    )
    engagement.submit_report(
        text="What was said.",
        attachments=[
            {"name": "minutes.pdf", "media_type": "application/pdf", "size_bytes": 2048,
             "uri": "docs://minutes", "sha256": "ab" * 32},
            {"name": "photo.jpg", "media_type": "image/jpeg"},
        ],
        by="editor-1",
        by_org="lead",
        now=NOW + timedelta(days=1),
    )  # fmt: skip
    engagement.add_action_item(
        item_id="a1",
        fields={"title": "Send the minutes", "owner_org_id": "syrian", "due_on": "2025-04-01"},
        refs=REFS,
        now=NOW,
    )
    return engagement


def test_a_full_engagement_is_encoded_as_the_generic_encoder_does():
    engagement = full()
    assert engagement.report is not None
    assert [item.id for item in engagement.action_items] == ["a1"]
    assert engagement.countries == frozenset({"QA", "GB", "SY"})
    state = engagement.snapshot()
    assert state == to_json(engagement)
    assert list(state) == list(to_json(engagement))  # the same order of fields
    assert state["countries"] == ["GB", "QA", "SY"]
    assert state["status"] == "reported"
    assert state["report"]["attachments"][1] == {
        "name": "photo.jpg", "media_type": "image/jpeg", "size_bytes": None, "uri": None,
        "sha256": None,
    }  # fmt: skip
    assert state["action_items"][0]["due_on"] == "2025-04-01"
    # The events carry it too.
    assert engagement.events[-1].state == to_json(engagement)


def test_a_bare_engagement_is_encoded_as_the_generic_encoder_does():
    engagement = Engagement.create(
        id="e2",
        fields={"kind": "meeting", "title": {"en": "Call"}, "start": "2025-01-01T09:00:00Z",
                "lead_org_id": "lead"},
        refs=REFS,
        now=NOW,
    )  # fmt: skip
    assert engagement.end is None
    assert engagement.report is None
    assert engagement.snapshot() == to_json(engagement)
    assert engagement.snapshot()["report"] is None


def test_values_not_of_their_declared_type_are_left_to_the_generic_encoder():
    # What the type hints promise is not what a value must be: a plain string for an enum, a
    # list for a tuple, a set for a frozenset, a datetime for a date still encode as to_json.
    odd = replace(
        full(),
        kind="workshop",  # type: ignore[arg-type]
        status=Status.held,
        agreement_ids=["agreement-1"],  # type: ignore[arg-type]
        countries={"QA"},  # type: ignore[arg-type]
        report_due_on=datetime(2025, 3, 24, 9, tzinfo=UTC),  # type: ignore[arg-type]
        version=True,  # type: ignore[arg-type]
    )
    assert odd.snapshot() == to_json(odd)
    assert odd.snapshot()["report_due_on"] == "2025-03-24T09:00:00+00:00"
    assert encoder(Kind)("meeting") == "meeting"
    assert encoder(date | None)(None) is None


def test_an_ingestion_row_is_the_state_and_the_derived_columns_the_table_has():
    # The bulk writes take an event's state from its row less DERIVED_COLUMNS: a derived column
    # not named there would end up in the events.
    engagement = full()
    repo = EngagementRepository(None)  # type: ignore[arg-type]  # mapping only: no session
    assert list(repo.extra_columns(engagement)) == list(DERIVED_COLUMNS)
    state = repo.state_of(engagement)
    assert state is engagement.events[-1].state
    row = repo.row_of(engagement, state)
    assert sorted(row) == sorted(c.name for c in engagements.c)
    assert {k: v for k, v in row.items() if k not in DERIVED_COLUMNS} == to_json(engagement)
