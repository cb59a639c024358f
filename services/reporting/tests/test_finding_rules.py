"""The finding aggregate's rules: opening, observing, resolving, reopening with its decisions,
acknowledging and accepting as an exception. Pure Python; no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tansiq_reporting.findings.model import (
    COUNTING,
    Decision,
    Finding,
    FindingStatusConflict,
    JustificationRequired,
    Status,
)
from tansiq_reporting.findings.rules import Access, Candidate, RecordRef, Rule, finding_id
from tansiq_reporting.readmodels.model import Text

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)
ANCHOR = RecordRef("engagement", "e1")


def candidate(**changes) -> Candidate:
    base = {
        "rule": Rule.C3,
        "records": (ANCHOR, RecordRef("engagement", "e2")),
        "ministry_id": "moe",
        "country": "QA",
        "partner_ids": ("unesco",),
        "explanation": Text(en="overlap", ar="تداخل"),
        "resolution": Text(en="link them", ar="اربطها"),
        "access": Access("interagency", "moe", ("moe", "unesco"), ("QA",)),
        "details": {"overlaps": [{"engagement_id": "e2"}]},
    }
    return Candidate(**{**base, **changes})


def events(f: Finding) -> list[tuple[str, tuple[str, ...], int]]:
    return [(e.name, e.changed_fields, e.state["version"]) for e in f.events]


def test_a_finding_opens_as_its_candidate_describes_it():
    f = Finding.open(candidate(), T0)
    assert f == Finding(
        id=finding_id(Rule.C3, ANCHOR),
        rule=Rule.C3,
        status=Status.open,
        ministry_id="moe",
        country="QA",
        records=(ANCHOR, RecordRef("engagement", "e2")),
        partner_ids=("unesco",),
        explanation=Text(en="overlap", ar="تداخل"),
        resolution=Text(en="link them", ar="اربطها"),
        details={"overlaps": [{"engagement_id": "e2"}]},
        access=Access("interagency", "moe", ("moe", "unesco"), ("QA",)),
        opened_at=T0,
        created_at=T0,
        updated_at=T0,
    )
    assert (f.version, f.anchor, f.counts) == (1, ANCHOR, True)
    assert events(f) == [("opened", ("status",), 1)]
    assert (f.events[0].topic, f.events[0].aggregate_type, f.events[0].aggregate_id) == (
        "reporting.finding.v1",
        "finding",
        f.id,
    )


def test_observing_the_same_candidate_changes_nothing():
    f = Finding.open(candidate(), T0)
    assert f.observe(candidate(), T1) is False
    assert (f.version, f.updated_at, len(f.events)) == (1, T0, 1)


def test_observing_a_changed_candidate_updates_exactly_what_changed():
    f = Finding.open(candidate(), T0)
    changed = candidate(partner_ids=("unesco", "unicef"), explanation=Text(en="wider"))
    assert f.observe(changed, T1) is True
    assert (f.partner_ids, f.explanation, f.status, f.opened_at) == (
        ("unesco", "unicef"),
        Text(en="wider"),
        Status.open,
        T0,
    )
    assert (f.version, f.updated_at) == (2, T1)
    assert events(f)[-1] == ("updated", ("explanation", "partner_ids"), 2)
    described = {"partner_ids": ("unesco", "unicef"), "explanation": Text(en="wider")}
    for name, value in (
        ("ministry_id", "moph"),
        ("country", "SY"),
        ("records", (ANCHOR,)),
        ("resolution", Text(en="other")),
        ("details", {"overlaps": []}),
        ("access", Access()),
    ):
        described[name] = value
        assert f.observe(candidate(**described), T2) is True
        assert getattr(f, name) == value
        assert events(f)[-1][:2] == ("updated", (name,))


def test_resolving_then_holding_again_reopens_with_the_decisions_kept():
    f = Finding.open(candidate(), T0)
    assert f.resolve(T1) is True
    assert (f.status, f.resolved_at, f.counts) == (Status.resolved, T1, False)
    assert events(f)[-1] == ("resolved", ("status", "resolved_at"), 2)
    assert f.updated_at == T1
    assert f.resolve(T2) is False
    assert (f.version, f.resolved_at) == (2, T1)
    assert f.observe(candidate(country="SY"), T2) is True
    assert (f.status, f.opened_at, f.resolved_at, f.country) == (Status.open, T2, None, "SY")
    assert f.updated_at == T2
    assert events(f)[-1] == (
        "opened",
        (
            "status",
            "access",
            "country",
            "details",
            "explanation",
            "ministry_id",
            "partner_ids",
            "records",
            "resolution",
        ),
        3,
    )


def test_a_reopened_finding_keeps_its_acknowledgement_or_acceptance():
    acknowledged = Finding.open(candidate(), T0)
    acknowledged.acknowledge("ann", "icd", T1)
    acknowledged.resolve(T1)
    acknowledged.observe(candidate(), T2)
    assert acknowledged.status is Status.acknowledged
    accepted = Finding.open(candidate(), T0)
    accepted.acknowledge("ann", "icd", T1)
    accepted.accept("bob", None, "agreed", T1)
    accepted.resolve(T1)
    accepted.observe(candidate(), T2)
    assert (accepted.status, accepted.counts) == (Status.accepted, False)


def test_acknowledging_an_open_finding_only():
    f = Finding.open(candidate(), T0)
    f.acknowledge("ann", "icd", T1)
    assert (f.status, f.acknowledgement, f.counts) == (
        Status.acknowledged,
        Decision(by="ann", org_id="icd", at=T1),
        True,
    )
    assert events(f)[-1] == ("acknowledged", ("status", "acknowledgement"), 2)
    assert f.updated_at == T1
    with pytest.raises(FindingStatusConflict) as refused:
        f.acknowledge("ann", "icd", T2)
    assert str(refused.value) == (
        "Only an open finding can be acknowledged; this one is acknowledged."
    )
    assert refused.value.slug == "finding-status-conflict"


def test_accepting_as_an_exception_needs_a_justification():
    f = Finding.open(candidate(), T0)
    for blank in ("", "   ", None):
        with pytest.raises(JustificationRequired) as refused:
            f.accept("bob", "icd", blank, T1)  # type: ignore[arg-type]
        assert str(refused.value) == "An exception needs a justification."
        assert refused.value.errors == [{"field": "justification", "message": "required"}]
        assert refused.value.slug == "justification-required"
    with pytest.raises(JustificationRequired) as refused:
        f.accept("bob", "icd", "x" * 2001, T1)
    assert str(refused.value) == "The justification is longer than 2000 characters."
    assert refused.value.errors == [
        {"field": "justification", "message": "at most 2000 characters"}
    ]
    assert f.status is Status.open
    f.accept("bob", "icd", "  " + "y" * 2000 + " ", T1)
    assert (f.status, f.acceptance, f.counts) == (
        Status.accepted,
        Decision(by="bob", org_id="icd", at=T1, justification="y" * 2000),
        False,
    )
    assert events(f)[-1] == ("accepted", ("status", "acceptance"), 2)
    assert f.updated_at == T1
    with pytest.raises(FindingStatusConflict) as again:
        f.accept("bob", "icd", "again", T2)
    assert str(again.value) == (
        "Only an open or acknowledged finding can be accepted as an exception; this one is "
        "accepted."
    )


def test_an_acknowledged_finding_can_be_accepted_a_resolved_one_cannot():
    f = Finding.open(candidate(), T0)
    f.acknowledge("ann", None, T1)
    f.accept("bob", None, "ok", T2)
    assert (f.status, f.version) == (Status.accepted, 3)
    resolved = Finding.open(candidate(), T0)
    resolved.resolve(T1)
    with pytest.raises(FindingStatusConflict):
        resolved.accept("bob", None, "ok", T2)
    with pytest.raises(FindingStatusConflict):
        resolved.acknowledge("ann", None, T2)
    assert {Status.open, Status.acknowledged} == COUNTING
