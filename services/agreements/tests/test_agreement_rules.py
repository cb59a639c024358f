"""The agreement aggregate's remaining edges, pinned exactly: times and keys each change
records, a return's decision, the earliest effective date, the field an organization missing
from a revision's look-up is reported under, and the party limit. Pure Python; no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from tansiq_agreements.agreements.model import (
    Agreement,
    AgreementLocked,
    Clearance,
    Decision,
    InvalidAgreement,
    MilestoneStatus,
    OrgRef,
    Status,
    UnknownOrganization,
)

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)
ORGS = {
    "owner": OrgRef("owner", "public_foundation", "national", "QA", "ministry"),
    "unesco": OrgRef("unesco", "un_entity", "international", None, None),
    "embassy": OrgRef("embassy", "diplomatic_mission", "international", "GB", None),
}
TWO = [{"org_id": "owner", "role": "signatory"}, {"org_id": "unesco", "role": "signatory"}]


def fields(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": "mou",
        "title": {"en": "Cooperation"},
        "owner_org_id": "owner",
        "parties": TWO,
        "effective_from": "2024-01-01",
        "expires_on": "2027-12-31",
        **overrides,
    }


def draft(**overrides: Any) -> Agreement:
    return Agreement.draft(id="a", fields=fields(**overrides), orgs=ORGS, now=NOW)


def test_a_draft_carries_its_times_and_source_key():
    a = Agreement.draft(id="a", fields=fields(), orgs=ORGS, now=NOW, source_key="seed/1")
    assert (a.created_at, a.updated_at, a.source_key, a.version) == (NOW, NOW, "seed/1", 1)
    assert a.events[0].state["source_key"] == "seed/1"
    a.sign(signed_on=date(2025, 1, 1), now=NOW)
    successor = a.renew(successor_id="b", changes={}, orgs=ORGS, now=LATER, source_key="seed/2")
    assert (successor.source_key, successor.supersedes, successor.created_at) == (
        "seed/2",
        "a",
        LATER,
    )


def test_each_change_is_stamped_with_its_time():
    a = draft()
    a.add_milestone(
        milestone_id="m",
        fields={"title": "Report", "due_on": "2025-06-01", "responsible_org_id": "unesco"},
        now=LATER,
    )
    assert (a.updated_at, a.version) == (LATER, 2)
    later = LATER + timedelta(days=1)
    revised, changed = a.revise_milestone("m", {"status": "in_progress"}, now=later)
    assert (revised.status, changed, a.milestones[0].status) == (
        MilestoneStatus.in_progress,
        ["status"],
        MilestoneStatus.in_progress,
    )
    assert (a.updated_at, a.version) == (later, 3)
    ended = draft(expires_on="2025-01-31")
    ended.sign(signed_on=date(2025, 1, 1), now=NOW)
    ended.expire(LATER)
    assert (ended.status, ended.updated_at, ended.version) == (Status.expired, LATER, 3)


def test_a_return_records_who_decided_when():
    a = draft()
    a.submit(NOW)
    a.return_(decided_by="amal", decided_by_org_id="icd", comments=" Name it ", now=LATER)
    assert a.clearance == Clearance(
        decision=Decision.returned,
        decided_by="amal",
        decided_by_org_id="icd",
        decided_at=LATER,
        comments="Name it",
    )
    assert (a.status, a.cleared) == (Status.returned, False)


def test_an_agreement_may_take_effect_in_1900():
    a = draft(effective_from=None, expires_on=None)
    a.sign(signed_on=date(1900, 1, 1), now=NOW)
    a.enter_into_force(now=NOW)
    assert (a.status, a.effective_from) == (Status.in_force, date(1900, 1, 1))
    given = draft(effective_from=date(2024, 2, 1), expires_on=datetime(2027, 1, 1, 12, tzinfo=UTC))
    assert (given.effective_from, given.expires_on) == (date(2024, 2, 1), date(2027, 1, 1))


def test_locked_fields_are_listed_together():
    a = draft()
    a.submit(NOW)
    with pytest.raises(AgreementLocked) as locked:
        a.revise({"kind": "framework_agreement", "expires_on": "2028-01-01"}, orgs=ORGS, now=LATER)
    assert locked.value.message.startswith(
        "expires_on, kind cannot change once the agreement is submitted: "
    )


def test_an_organization_missing_from_a_revision_is_named_by_its_field():
    outside = [{"org_id": "unesco", "role": "signatory"}, {"org_id": "embassy", "role": "funder"}]
    a = draft(parties=outside)
    without_owner = {k: v for k, v in ORGS.items() if k != "owner"}
    with pytest.raises(UnknownOrganization) as owner:
        a.revise({"parties": outside[::-1]}, orgs=without_owner, now=LATER)
    assert owner.value.errors == [{"field": "owner_org_id", "message": "no organization owner"}]
    other_owner = OrgRef("other", "ministry", "national", "QA", None)
    without_party = {"owner": ORGS["owner"], "other": other_owner}
    with pytest.raises(UnknownOrganization) as party:
        a.revise({"owner_org_id": "other"}, orgs=without_party, now=LATER)
    assert party.value.errors == [{"field": "parties", "message": "no organization unesco"}]


def test_the_owner_is_its_own_ministry_only_while_national():
    ministry = OrgRef("m", "ministry", "national", "QA", None)
    a = Agreement.draft(
        id="a",
        fields=fields(owner_org_id="m", parties=[{"org_id": "m", "role": "signatory"}, TWO[1]]),
        orgs={**ORGS, "m": ministry},
        now=NOW,
    )
    assert a.owner_ministry_id == "m"
    # The registry since says it is not national (a correction): it is nobody's ministry.
    moved = OrgRef("m", "ministry", "international", "QA", None)
    a.revise(
        {
            "parties": [
                {"org_id": "m", "role": "signatory"},
                {"org_id": "embassy", "role": "funder"},
            ]
        },
        orgs={**ORGS, "m": moved},
        now=LATER,
    )
    assert a.owner_ministry_id is None


def test_fifty_one_parties_are_refused_on_the_parties_field():
    many = {f"o{i}": OrgRef(f"o{i}", "un_entity", "international") for i in range(51)}
    parties = [{"org_id": f"o{i}", "role": "implementer"} for i in range(51)]
    with pytest.raises(InvalidAgreement) as error:
        Agreement.draft(id="a", fields=fields(parties=parties), orgs={**ORGS, **many}, now=NOW)
    assert error.value.errors == [
        {"field": "parties", "message": "An agreement has at most 50 parties."}
    ]
