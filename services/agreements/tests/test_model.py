"""The agreement aggregate's rules, without a database: fast, and the target of mutation tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tansiq_agreements.agreements.model import (
    TRANSITIONS,
    Action,
    Agreement,
    AgreementClosed,
    AgreementLocked,
    AlreadyRenewed,
    ArchivedOrganization,
    Decision,
    DuplicateParty,
    IllegalTransition,
    InvalidAgreement,
    MilestoneNotFound,
    MilestoneStatus,
    NotYetExpired,
    OrgRef,
    OwnerNotNational,
    Party,
    PartyRole,
    Status,
    UnknownOrganization,
    allowed_actions,
    amount,
    currency,
)
from tansiq_common.events.outbox import DomainEvent

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)

ORGS = {
    "owner": OrgRef("owner", "public_foundation", "national", "QA", "ministry"),
    "ministry": OrgRef("ministry", "ministry", "national", "QA", "ministry"),
    "unesco": OrgRef("unesco", "un_entity", "international", None, None),
    "embassy": OrgRef("embassy", "diplomatic_mission", "international", "GB", None),
    "sy-dic": OrgRef("sy-dic", "directorate", "national", "SY", "sy-mlae"),
    "gone": OrgRef("gone", "un_entity", "international", None, None, status="archived"),
}


def fields(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "cooperation_agreement",
        "title": {"en": "Cooperation agreement", "ar": "اتفاقية تعاون"},
        "owner_org_id": "owner",
        "parties": [
            {"org_id": "owner", "role": "signatory"},
            {"org_id": "unesco", "role": "signatory"},
        ],
        "themes": {"sdgs": [5, 4, 4], "sectors": ["education"], "priorities": ["NDS2-IC-1"]},
        "effective_from": "2024-01-01",
        "expires_on": "2027-12-31",
        "funding": [{"funder_org_id": "unesco", "amount": "250000.00", "currency": "usd"}],
    }
    base.update(overrides)
    return base


def draft(**overrides: Any) -> Agreement:
    return Agreement.draft(id="a-1", fields=fields(**overrides), orgs=ORGS, now=NOW)


def names(agreement: Agreement) -> list[str]:
    return [event.name for event in agreement.events]


def signed(**overrides: Any) -> Agreement:
    agreement = draft(**overrides)
    agreement.sign(signed_on=date(2024, 1, 10), now=NOW)
    return agreement


def in_force(**overrides: Any) -> Agreement:
    agreement = signed(**overrides)
    agreement.enter_into_force(now=NOW)
    return agreement


# --- drafting ---------------------------------------------------------------------------------


def test_a_draft_derives_owner_ministry_country_and_countries():
    a = draft(parties=[{"org_id": "owner", "role": "signatory"}, {"org_id": "embassy", "role": "funder"}],
              funding=[{"funder_org_id": "embassy", "amount": "250000.00", "currency": "usd"}])  # fmt: skip
    assert a.status is Status.draft
    assert a.version == 1
    assert a.owner_ministry_id == "ministry"
    assert a.owner_country == "QA"
    assert a.countries == frozenset({"QA", "GB"})
    assert a.parties == (Party("owner", PartyRole.signatory), Party("embassy", PartyRole.funder))
    assert a.themes.sdgs == (4, 5)
    assert a.funding[0].amount == Decimal("250000.00")
    assert a.funding[0].currency == "USD"
    assert names(a) == ["created"]
    event = a.events[0]
    assert isinstance(event, DomainEvent)
    assert event.event_type == "tansiq.agreements.agreement.created.v1"
    assert event.state["version"] == 1
    assert event.state["status"] == "draft"


def test_a_ministry_owner_is_its_own_ministry():
    ministry = OrgRef("m", "ministry", "national", "QA", None)
    a = Agreement.draft(
        id="a", fields=fields(owner_org_id="m", funding=[], parties=[
            {"org_id": "m", "role": "signatory"}, {"org_id": "unesco", "role": "signatory"}]),
        orgs={**ORGS, "m": ministry}, now=NOW)  # fmt: skip
    assert a.owner_ministry_id == "m"


@pytest.mark.parametrize("missing", ["kind", "title", "owner_org_id", "parties"])
def test_required_fields(missing):
    with pytest.raises(InvalidAgreement) as raised:
        draft(**{missing: None})
    assert raised.value.errors[0]["field"] == missing


def test_title_needs_arabic_or_english():
    with pytest.raises(InvalidAgreement, match="title"):
        draft(title={"ar": "  ", "en": None})
    assert draft(title={"ar": "اتفاقية"}).title.ar == "اتفاقية"


def test_text_limits_and_nul():
    with pytest.raises(InvalidAgreement, match="longer than 500"):
        draft(title={"en": "x" * 501})
    assert draft(title={"en": "x" * 500}).title.en == "x" * 500
    with pytest.raises(InvalidAgreement, match="NUL"):
        draft(title={"en": "a\x00b"})
    with pytest.raises(InvalidAgreement, match="must be text"):
        draft(summary={"en": 5})
    with pytest.raises(InvalidAgreement, match="object"):
        draft(summary="plain")


def test_unknown_fields_are_refused():
    with pytest.raises(InvalidAgreement, match="status cannot be set"):
        draft(status="signed")


@pytest.mark.parametrize(
    ("parties", "error", "field"),
    [
        ([{"org_id": "owner", "role": "signatory"}], InvalidAgreement, "parties"),
        ([{"org_id": "owner", "role": "signatory"}, {"org_id": "owner", "role": "funder"}],
         DuplicateParty, "parties.1.org_id"),
        ([{"org_id": "owner", "role": "signatory"}, {"org_id": "nobody", "role": "funder"}],
         UnknownOrganization, "parties.1.org_id"),
        ([{"org_id": "owner", "role": "signatory"}, {"org_id": "gone", "role": "funder"}],
         ArchivedOrganization, "parties.1.org_id"),
        ([{"org_id": "owner", "role": "signatory"}, {"org_id": "unesco", "role": "boss"}],
         InvalidAgreement, "parties.1.role"),
        ([{"org_id": "owner", "role": "signatory"}, {"role": "funder"}], InvalidAgreement,
         "parties.1"),
        ("owner,unesco", InvalidAgreement, "parties"),
    ],
    ids=["one-party", "duplicate", "unknown", "archived", "bad-role", "no-org", "not-a-list"],
)  # fmt: skip
def test_party_rules(parties, error, field):
    with pytest.raises(error) as raised:
        draft(parties=parties, funding=[])
    assert type(raised.value) is error
    assert raised.value.errors[0]["field"] == field


def test_at_most_fifty_parties():
    many = {f"o{i}": OrgRef(f"o{i}", "un_entity", "international") for i in range(51)}
    parties = [{"org_id": f"o{i}", "role": "implementer"} for i in range(51)]
    with pytest.raises(InvalidAgreement, match="at most 50"):
        Agreement.draft(id="a", fields=fields(parties=parties, funding=[]),
                        orgs={**ORGS, **many}, now=NOW)  # fmt: skip
    ok = Agreement.draft(id="a", fields=fields(parties=parties[:50], funding=[]),
                         orgs={**ORGS, **many}, now=NOW)  # fmt: skip
    assert len(ok.parties) == 50


@pytest.mark.parametrize(
    ("owner", "error"),
    [("nobody", UnknownOrganization), ("unesco", OwnerNotNational), ("gone", ArchivedOrganization)],
)
def test_owner_rules(owner, error):
    with pytest.raises(error) as raised:
        draft(owner_org_id=owner)
    assert raised.value.errors[0]["field"] == "owner_org_id"


@pytest.mark.parametrize(
    ("themes", "message"),
    [
        ({"sdgs": [0]}, "SDG"),
        ({"sdgs": [18]}, "SDG"),
        ({"sdgs": [True]}, "SDG"),
        ({"sdgs": ["4"]}, "SDG"),
        ({"sectors": ["with space"]}, "not a code"),
        ({"priorities": ["-leading"]}, "not a code"),
        ({"sectors": "education"}, "list of codes"),
        ({"colours": ["red"]}, "unknown theme"),
        ({"sectors": [f"s{i}" for i in range(21)]}, "at most 20"),
        ("sdg 4", "object"),
    ],
)
def test_theme_rules(themes, message):
    with pytest.raises(InvalidAgreement, match=message):
        draft(themes=themes)


def test_themes_sorted_and_deduplicated_edges_accepted():
    a = draft(themes={"sdgs": [17, 1, 17], "sectors": ["b", "a", "b"], "priorities": None})
    assert (a.themes.sdgs, a.themes.sectors, a.themes.priorities) == ((1, 17), ("a", "b"), ())
    assert draft(themes=None).themes.sdgs == ()


@pytest.mark.parametrize(
    ("effective_from", "expires_on", "ok"),
    [("2024-01-01", "2023-12-31", False), ("2024-01-01", "2024-01-01", True),
     (None, "2020-01-01", True), ("2024-01-01", None, True)],
)  # fmt: skip
def test_expiry_before_effect_is_refused(effective_from, expires_on, ok):
    if ok:
        draft(effective_from=effective_from, expires_on=expires_on)
        return
    with pytest.raises(InvalidAgreement) as raised:
        draft(effective_from=effective_from, expires_on=expires_on)
    assert raised.value.errors[0]["field"] == "expires_on"


def test_dates_must_be_dates_after_1900():
    with pytest.raises(InvalidAgreement, match="YYYY-MM-DD"):
        draft(effective_from="next year")
    with pytest.raises(InvalidAgreement, match="before 1900"):
        draft(effective_from="1899-12-31")
    assert draft(effective_from=datetime(2024, 2, 1, 10, tzinfo=UTC)).effective_from == date(
        2024, 2, 1
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "greater than zero"), ("0.00", "greater than zero"), ("-5", "greater than zero"),
     (0.5, "written as text"), (True, "written as text"), (None, "written as text"),
     ("abc", "not a number"), ("NaN", "greater than zero"), ("Infinity", "greater than zero"),
     ("1e15", "too large"), ("1.00001", "4 decimal places")],
)  # fmt: skip
def test_amount_rules(value, message):
    with pytest.raises(InvalidAgreement, match=message):
        amount(value)


def test_amounts_are_decimals_written_out():
    assert amount("250000.00") == Decimal("250000.00")
    assert str(amount("1E+3")) == "1000"
    assert amount(7) == Decimal(7)
    assert amount("0.0001") == Decimal("0.0001")
    assert amount("999999999999999.9999") == Decimal("999999999999999.9999")


@pytest.mark.parametrize("code", ["ZZZ", "XXX", "XTS", "XAU", "US", "", None, 840])
def test_unknown_currencies_are_refused(code):
    with pytest.raises(InvalidAgreement, match="ISO 4217"):
        currency(code)


@pytest.mark.parametrize("code", ["USD", "qar", " SYP ", "EUR", "XDR", "ZWG"])
def test_currencies_in_use_are_accepted(code):
    assert currency(code) == code.strip().upper()


def test_a_funder_is_the_owner_or_a_party():
    with pytest.raises(InvalidAgreement) as raised:
        draft(funding=[{"funder_org_id": "embassy", "amount": "10", "currency": "USD"}])
    assert raised.value.errors[0]["field"] == "funding.0.funder_org_id"
    owner_funds = draft(funding=[{"funder_org_id": "owner", "amount": "10", "currency": "QAR"}])
    assert owner_funds.funding[0].funder_org_id == "owner"


def test_funding_shape_and_limit():
    with pytest.raises(InvalidAgreement, match="needs funder_org_id"):
        draft(funding=[{"amount": "10", "currency": "USD"}])
    with pytest.raises(InvalidAgreement, match="list of commitments"):
        draft(funding="lots")
    commitment = {"funder_org_id": "unesco", "amount": "1", "currency": "USD"}
    with pytest.raises(InvalidAgreement, match="at most 50"):
        draft(funding=[commitment] * 51)
    assert len(draft(funding=[commitment] * 50).funding) == 50


# --- the lifecycle ------------------------------------------------------------------------------


def test_transition_table_is_the_documented_lifecycle():
    assert {status: allowed_actions(status) for status in Status} == {
        Status.draft: ["submit", "sign", "terminate"],
        Status.returned: ["submit", "sign", "terminate"],
        Status.submitted: ["clear", "return", "sign", "terminate"],
        Status.cleared: ["sign", "terminate"],
        Status.signed: ["enter-into-force", "terminate", "expire", "renew"],
        Status.in_force: ["terminate", "expire", "renew"],
        Status.expired: ["renew"],
        Status.terminated: [],
    }
    assert TRANSITIONS[Status.submitted][Action.return_] is Status.returned


def test_clearance_path_records_who_when_and_conditions():
    a = draft()
    a.submit(NOW)
    a.clear(decided_by="amal", decided_by_org_id="icd", conditions=" In line with law ",
            comments=None, now=LATER)  # fmt: skip
    assert a.status is Status.cleared
    assert a.cleared is True
    assert a.clearance is not None
    assert (a.clearance.decision, a.clearance.decided_by, a.clearance.decided_by_org_id) == (
        Decision.cleared, "amal", "icd")  # fmt: skip
    assert a.clearance.decided_at == LATER
    assert a.clearance.conditions == "In line with law"
    a.sign(signed_on=date(2025, 3, 10), now=LATER)
    assert a.signed_uncleared is False
    assert names(a) == ["created", "submitted", "cleared", "signed"]
    assert [e.state["version"] for e in a.events] == [1, 2, 3, 4]
    assert a.events[2].changed_fields == ("status", "clearance", "cleared")


def test_signing_without_clearance_is_recorded_as_uncleared():
    for before in ("draft", "returned", "submitted"):
        a = draft()
        if before in ("returned", "submitted"):
            a.submit(NOW)
        if before == "returned":
            a.return_(decided_by="amal", decided_by_org_id="icd", comments="Fix", now=NOW)
        a.sign(signed_on=date(2025, 1, 1), now=NOW)
        assert (a.status, a.signed_uncleared, a.cleared) == (Status.signed, True, False), before


def test_return_needs_comments_and_goes_back_for_resubmission():
    a = draft()
    a.submit(NOW)
    with pytest.raises(InvalidAgreement, match="comments"):
        a.return_(decided_by="amal", decided_by_org_id="icd", comments="  ", now=NOW)
    assert a.status is Status.submitted
    a.return_(decided_by="amal", decided_by_org_id="icd", comments="Name the counterpart", now=NOW)
    assert a.status is Status.returned
    assert a.clearance is not None
    assert a.clearance.decision is Decision.returned
    assert a.clearance.comments == "Name the counterpart"
    assert a.cleared is False
    a.submit(NOW)
    assert a.status is Status.submitted


@pytest.mark.parametrize(
    ("status", "action"),
    [("draft", "clear"), ("draft", "enter-into-force"), ("cleared", "submit"),
     ("signed", "submit"), ("in_force", "sign"), ("expired", "terminate"),
     ("terminated", "renew"), ("draft", "expire"), ("submitted", "renew")],
)  # fmt: skip
def test_illegal_transitions_name_the_status_and_the_allowed_actions(status, action):
    a = draft()
    a.status = Status(status)
    with pytest.raises(IllegalTransition) as raised:
        match action:
            case "clear":
                a.clear(decided_by="x", decided_by_org_id=None, now=NOW)
            case "enter-into-force":
                a.enter_into_force(now=NOW)
            case "submit":
                a.submit(NOW)
            case "sign":
                a.sign(signed_on=date(2024, 1, 1), now=NOW)
            case "terminate":
                a.terminate(reason="r", now=NOW)
            case "renew":
                a.renew(successor_id="b", changes={}, orgs=ORGS, now=NOW)
            case "expire":
                a.expire(NOW)
    assert raised.value.status == 409
    assert raised.value.extra == {
        "current_status": status,
        "action": action,
        "allowed_actions": allowed_actions(Status(status)),
    }
    assert a.status is Status(status)
    assert names(a) == ["created"]


def test_sign_date_rules():
    a = draft(effective_from=None, expires_on="2024-06-30")
    with pytest.raises(InvalidAgreement, match="in the future"):
        a.sign(signed_on=NOW.date() + timedelta(days=1), now=NOW)
    with pytest.raises(InvalidAgreement, match="after expires_on"):
        a.sign(signed_on=date(2024, 7, 1), now=NOW)
    with pytest.raises(InvalidAgreement, match="before 1900"):
        a.sign(signed_on=date(1899, 1, 1), now=NOW)
    a.sign(signed_on=date(2024, 6, 30), now=NOW)
    assert a.signed_on == date(2024, 6, 30)
    today = draft()
    today.sign(signed_on=NOW.date(), now=NOW)
    assert today.signed_on == NOW.date()


def test_entering_into_force_takes_effective_from_or_the_signature_date():
    a = signed(effective_from=None)
    a.enter_into_force(now=NOW)
    assert (a.status, a.effective_from) == (Status.in_force, date(2024, 1, 10))
    assert a.events[-1].changed_fields == ("status", "effective_from")
    b = signed()
    b.enter_into_force(now=NOW)
    assert b.effective_from == date(2024, 1, 1)
    assert b.events[-1].changed_fields == ("status",)
    c = signed()
    with pytest.raises(InvalidAgreement, match="after expires_on"):
        c.enter_into_force(effective_from=date(2028, 1, 1), now=NOW)
    c.enter_into_force(effective_from=date(2024, 2, 1), now=NOW)
    assert c.effective_from == date(2024, 2, 1)


def test_termination_needs_a_reason_and_closes_the_agreement():
    a = in_force()
    with pytest.raises(InvalidAgreement, match="reason"):
        a.terminate(reason="", now=NOW)
    with pytest.raises(InvalidAgreement, match="future"):
        a.terminate(reason="r", terminated_on=NOW.date() + timedelta(days=1), now=NOW)
    a.terminate(reason="Programme ended early", now=NOW)
    assert a.status is Status.terminated
    assert a.termination is not None
    assert (a.termination.terminated_on, a.termination.reason) == (
        NOW.date(),
        "Programme ended early",
    )
    with pytest.raises(AgreementClosed):
        a.revise({"title": {"en": "New"}}, orgs=ORGS, now=NOW)
    assert allowed_actions(a.status) == []


def test_a_draft_can_be_abandoned():
    a = draft()
    a.terminate(reason="Not pursued", terminated_on=date(2025, 1, 1), now=NOW)
    assert a.status is Status.terminated


def test_expiry_only_after_the_last_valid_day():
    a = in_force(expires_on="2025-03-10")  # NOW is 2025-03-10: still valid today
    with pytest.raises(NotYetExpired) as raised:
        a.expire(NOW)
    assert raised.value.extra == {"current_status": "in_force"}
    a.expire(NOW + timedelta(days=1))
    assert a.status is Status.expired
    b = in_force(expires_on=None)
    with pytest.raises(NotYetExpired, match="no expiry date"):
        b.expire(NOW)


def test_renewal_creates_a_successor_that_supersedes():
    a = in_force()
    successor = a.renew(successor_id="a-2", changes={"effective_from": "2028-01-01",
                        "expires_on": "2031-12-31"}, orgs=ORGS, now=LATER)  # fmt: skip
    assert (successor.id, successor.supersedes, successor.status) == ("a-2", "a-1", Status.draft)
    assert (successor.effective_from, successor.expires_on) == (
        date(2028, 1, 1),
        date(2031, 12, 31),
    )
    assert successor.parties == a.parties
    assert successor.funding == a.funding
    assert successor.title == a.title
    assert successor.signed_on is None
    assert successor.clearance is None
    assert a.superseded_by == "a-2"
    assert a.status is Status.in_force
    assert names(a)[-1] == "renewed"
    assert names(successor) == ["created"]
    with pytest.raises(AlreadyRenewed):
        a.renew(successor_id="a-3", changes={}, orgs=ORGS, now=LATER)
    with pytest.raises(InvalidAgreement, match="status cannot be set on a renewal"):
        in_force().renew(successor_id="x", changes={"status": "signed"}, orgs=ORGS, now=LATER)


def test_renewal_refuses_an_archived_party():
    a = in_force()
    orgs = {**ORGS, "unesco": OrgRef("unesco", "un_entity", "international", status="archived")}
    with pytest.raises(ArchivedOrganization):
        a.renew(successor_id="a-2", changes={}, orgs=orgs, now=LATER)
    assert a.superseded_by is None


# --- revisions ----------------------------------------------------------------------------------


def test_revise_reports_only_real_changes_and_bumps_once():
    a = draft()
    assert a.revise({"title": {"en": "Cooperation agreement"}}, orgs={}, now=LATER) == []
    assert a.version == 1
    changed = a.revise({"title": {"en": "Renamed"}, "visibility": "restricted"}, orgs={}, now=LATER)
    assert changed == ["title", "visibility"]
    assert a.title.en == "Renamed"
    assert a.title.ar == "اتفاقية تعاون"
    assert (a.version, a.updated_at) == (2, LATER)
    assert names(a) == ["created", "updated"]
    assert a.events[-1].changed_fields == ("title", "visibility")


def test_a_refused_revision_changes_nothing():
    a = draft()
    with pytest.raises(InvalidAgreement):
        a.revise({"title": {"en": "Renamed"}, "expires_on": "2020-01-01"}, orgs={}, now=LATER)
    assert (a.title.en, a.expires_on, a.version) == ("Cooperation agreement", date(2027, 12, 31), 1)


def test_parties_change_rechecks_and_rederives():
    a = draft(funding=[])
    changed = a.revise({"parties": [{"org_id": "owner", "role": "signatory"},
                                    {"org_id": "embassy", "role": "funder"}]},
                       orgs=ORGS, now=LATER)  # fmt: skip
    assert changed == ["countries", "parties"]
    assert a.countries == frozenset({"QA", "GB"})


def test_an_existing_party_that_was_archived_since_can_stay():
    a = draft(funding=[])
    orgs = {**ORGS, "unesco": OrgRef("unesco", "un_entity", "international", status="archived")}
    changed = a.revise({"parties": [{"org_id": "owner", "role": "signatory"},
                                    {"org_id": "unesco", "role": "implementer"}]},
                       orgs=orgs, now=LATER)  # fmt: skip
    assert changed == ["parties"]


def test_removing_a_funder_or_a_responsible_party_is_refused():
    a = draft()
    with pytest.raises(InvalidAgreement) as raised:
        a.revise({"parties": [{"org_id": "owner", "role": "signatory"},
                              {"org_id": "embassy", "role": "funder"}]}, orgs=ORGS, now=LATER)  # fmt: skip
    assert raised.value.errors[0]["field"] == "funding.0.funder_org_id"
    b = draft(funding=[])
    b.add_milestone(milestone_id="m", fields={"title": "Report", "due_on": "2025-06-01",
                    "responsible_org_id": "unesco"}, now=NOW)  # fmt: skip
    with pytest.raises(InvalidAgreement, match="responsibility of unesco"):
        b.revise({"parties": [{"org_id": "owner", "role": "signatory"},
                              {"org_id": "embassy", "role": "funder"}]}, orgs=ORGS, now=LATER)  # fmt: skip


@pytest.mark.parametrize("status", ["submitted", "cleared", "signed", "in_force"])
def test_substance_is_locked_after_submission_description_is_not(status):
    a = draft()
    a.status = Status(status)
    with pytest.raises(AgreementLocked) as raised:
        a.revise({"expires_on": "2028-12-31", "title": {"en": "x"}}, orgs={}, now=LATER)
    assert raised.value.errors == [{"field": "expires_on", "message": "locked"}]
    assert a.expires_on == date(2027, 12, 31)
    assert a.revise({"themes": {"sdgs": [4]}, "summary": {"en": "s"}}, orgs={}, now=LATER) == [
        "summary", "themes"]  # fmt: skip
    # the same substantive value again is no change, so no refusal
    assert a.revise({"expires_on": "2027-12-31"}, orgs={}, now=LATER) == []


def test_a_returned_agreement_is_a_draft_again():
    a = draft()
    a.submit(NOW)
    a.return_(decided_by="x", decided_by_org_id=None, comments="c", now=NOW)
    assert a.revise({"expires_on": "2028-12-31"}, orgs={}, now=LATER) == ["expires_on"]


def test_changing_the_owner_rederives_ministry_and_country():
    a = draft(funding=[], parties=[{"org_id": "sy-dic", "role": "signatory"},
                                   {"org_id": "unesco", "role": "signatory"}])  # fmt: skip
    assert a.revise({"owner_org_id": "sy-dic"}, orgs=ORGS, now=LATER) == [
        "countries", "owner_country", "owner_ministry_id", "owner_org_id"]  # fmt: skip
    assert (a.owner_ministry_id, a.owner_country, a.countries) == (
        "sy-mlae",
        "SY",
        frozenset({"SY"}),
    )


# --- milestones ---------------------------------------------------------------------------------


def test_milestones_added_changed_and_completed():
    a = signed()
    m = a.add_milestone(milestone_id="m-1", fields={"title": " Annual report ", "due_on": "2025-06-01",
                        "responsible_org_id": "owner"}, now=NOW)  # fmt: skip
    assert (m.title, m.due_on, m.status, m.completed_on) == (
        "Annual report", date(2025, 6, 1), MilestoneStatus.pending, None)  # fmt: skip
    revised, changed = a.revise_milestone("m-1", {"status": "done"}, now=LATER)
    assert changed == ["status", "completed_on"]
    assert revised.completed_on == LATER.date()
    reopened, _ = a.revise_milestone("m-1", {"status": "in_progress"}, now=LATER)
    assert reopened.completed_on is None
    _, unchanged = a.revise_milestone("m-1", {"status": "in_progress"}, now=LATER)
    assert unchanged == []
    assert names(a) == ["created", "signed", "milestone-added", "milestone-updated",
                        "milestone-updated"]  # fmt: skip
    with pytest.raises(MilestoneNotFound):
        a.milestone("m-2")


@pytest.mark.parametrize(
    ("given", "field"),
    [({"title": None}, "title"), ({"due_on": None}, "due_on"),
     ({"responsible_org_id": "embassy"}, "responsible_org_id"), ({"status": "late"}, "status"),
     ({"colour": "red"}, "colour"), ({"title": "  "}, "title")],
)  # fmt: skip
def test_milestone_rules(given, field):
    a = draft()
    valid = {"title": "Report", "due_on": "2025-06-01", "responsible_org_id": "unesco"}
    with pytest.raises(InvalidAgreement) as raised:
        a.add_milestone(milestone_id="m", fields={**valid, **given}, now=NOW)
    assert raised.value.errors[0]["field"] == field
    assert a.milestones == ()


def test_no_milestones_on_a_closed_agreement():
    a = draft()
    a.terminate(reason="r", now=NOW)
    with pytest.raises(AgreementClosed):
        a.add_milestone(milestone_id="m", fields={"title": "t", "due_on": "2025-01-01",
                        "responsible_org_id": "owner"}, now=NOW)  # fmt: skip
