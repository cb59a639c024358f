"""What the agreement rules tell a client, exactly: every refusal's class and `errors` (the field
named and the message), every transition's changed fields, and the boundaries of each limit.
The problem+json `errors` are part of the API; these tests pin them (and kill the mutants that
would blur them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tansiq_agreements.agreements.model import (
    MAX_MILESTONES,
    Agreement,
    AgreementClosed,
    AgreementLocked,
    AlreadyRenewed,
    ArchivedOrganization,
    DuplicateParty,
    IllegalTransition,
    InvalidAgreement,
    Kind,
    MilestoneNotFound,
    NotYetExpired,
    OrgRef,
    OwnerNotNational,
    Status,
    UnknownOrganization,
    amount,
    currency,
)

NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
ORGS = {
    "owner": OrgRef("owner", "public_foundation", "national", "QA", "ministry"),
    "unesco": OrgRef("unesco", "un_entity", "international", None, None),
    "embassy": OrgRef("embassy", "diplomatic_mission", "international", "GB", None),
    "gone": OrgRef("gone", "un_entity", "international", status="archived"),
    "gone-national": OrgRef("gone-national", "ministry", "national", "QA", status="archived"),
}
TWO = [{"org_id": "owner", "role": "signatory"}, {"org_id": "unesco", "role": "signatory"}]


def fields(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "mou",
        "title": {"en": "Cooperation"},
        "owner_org_id": "owner",
        "parties": TWO,
        "effective_from": "2024-01-01",
        "expires_on": "2027-12-31",
    }
    base.update(overrides)
    return base


def draft(**overrides: Any) -> Agreement:
    return Agreement.draft(id="a", fields=fields(**overrides), orgs=ORGS, now=NOW)


def one(field: str, message: str) -> list[dict[str, str]]:
    return [{"field": field, "message": message}]


def in_status(status: str, **overrides: Any) -> Agreement:
    a = draft(**overrides)
    a.status = Status(status)
    return a


def milestone(a: Agreement, **given: Any) -> Any:
    valid = {"title": "Report", "due_on": "2025-06-01", "responsible_org_id": "unesco"}
    return a.add_milestone(milestone_id="m", fields={**valid, **given}, now=NOW)


REFUSALS: list[tuple[str, Callable[[], Any], type[Exception], list[dict[str, str]], str]] = [
    # (case, what is tried, error class, errors, message)
    ("kind-missing", lambda: draft(kind=None), InvalidAgreement,
     one("kind", "kind is required."), "kind is required."),
    ("owner-missing", lambda: draft(owner_org_id=None), InvalidAgreement,
     one("owner_org_id", "owner_org_id is required."), "owner_org_id is required."),
    ("owner-null-on-revise", lambda: draft().revise({"owner_org_id": None}, orgs=ORGS, now=NOW),
     InvalidAgreement, one("owner_org_id", "owner_org_id is required."),
     "owner_org_id is required."),
    ("unknown-field", lambda: draft(status="x"), InvalidAgreement,
     one("status", "status cannot be set by a client."), "status cannot be set by a client."),
    ("bad-kind", lambda: draft(kind="treaty"), InvalidAgreement,
     one("kind", "'treaty' is not a kind."), "'treaty' is not a kind."),
    ("kind-null-on-revise", lambda: draft().revise({"kind": None}, orgs={}, now=NOW),
     InvalidAgreement, one("kind", "kind is required."), "kind is required."),
    ("no-title", lambda: draft(title={"en": " "}), InvalidAgreement,
     one("title", "An Arabic or an English title is required."),
     "An Arabic or an English title is required."),
    ("title-not-object", lambda: draft(title="x"), InvalidAgreement,
     one("title", "title must be an object with ar and/or en."),
     "title must be an object with ar and/or en."),
    ("title-too-long", lambda: draft(title={"ar": "x" * 501}), InvalidAgreement,
     one("title.ar", "title.ar is longer than 500 characters."),
     "title.ar is longer than 500 characters."),
    ("title-not-text", lambda: draft(title={"en": 1}), InvalidAgreement,
     one("title.en", "title.en must be text."), "title.en must be text."),
    ("summary-nul", lambda: draft(summary={"en": "a\x00"}), InvalidAgreement,
     one("summary.en", "summary.en contains a NUL character."),
     "summary.en contains a NUL character."),
    ("visibility-null", lambda: draft(visibility=None), InvalidAgreement,
     one("visibility", "visibility is required."), "visibility is required."),
    ("visibility-bad", lambda: draft(visibility="secret"), InvalidAgreement,
     one("visibility", "'secret' is not a visibility."), "'secret' is not a visibility."),
    ("owner-unknown", lambda: draft(owner_org_id="nobody"), UnknownOrganization,
     one("owner_org_id", "no organization nobody"), "No organization nobody in the registry."),
    ("owner-archived", lambda: draft(owner_org_id="gone-national"), ArchivedOrganization,
     one("owner_org_id", "archived"),
     "The organization gone-national is archived; it cannot own an agreement."),
    ("owner-international", lambda: draft(owner_org_id="unesco"), OwnerNotNational,
     one("owner_org_id", "not a national organization"),
     "The owner must be a national organization; unesco is not."),
    ("parties-not-list", lambda: draft(parties="owner"), InvalidAgreement,
     one("parties", "parties must be a list of {org_id, role}."),
     "parties must be a list of {org_id, role}."),
    ("party-without-org", lambda: draft(parties=[{"role": "funder"}]), InvalidAgreement,
     one("parties.0", "each party needs org_id and role."), "each party needs org_id and role."),
    ("party-bad-role", lambda: draft(parties=[{"org_id": "owner", "role": "x"}]),
     InvalidAgreement, one("parties.0.role", "'x' is not a parties.0.role."),
     "'x' is not a parties.0.role."),
    ("party-duplicate",
     lambda: draft(parties=[*TWO, {"org_id": "owner", "role": "funder"}]), DuplicateParty,
     one("parties.2.org_id", "duplicate party"),
     "The organization owner is named twice as a party."),
    ("one-party", lambda: draft(parties=TWO[:1]), InvalidAgreement,
     one("parties", "An agreement has at least 2 parties."),
     "An agreement has at least 2 parties."),
    ("party-unknown", lambda: draft(parties=[*TWO, {"org_id": "x", "role": "funder"}]),
     UnknownOrganization, one("parties.2.org_id", "no organization x"),
     "No organization x in the registry."),
    ("party-archived", lambda: draft(parties=[*TWO, {"org_id": "gone", "role": "funder"}]),
     ArchivedOrganization, one("parties.2.org_id", "archived"),
     "The organization gone is archived; it cannot be added as a party."),
    ("themes-not-object", lambda: draft(themes=[4]), InvalidAgreement,
     one("themes", "themes must be an object with sdgs, sectors and priorities."),
     "themes must be an object with sdgs, sectors and priorities."),
    ("themes-unknown-list", lambda: draft(themes={"goals": [4]}), InvalidAgreement,
     one("themes", "unknown theme list 'goals'."), "unknown theme list 'goals'."),
    ("sdg-18", lambda: draft(themes={"sdgs": [18]}), InvalidAgreement,
     one("themes.sdgs", "18 is not an SDG goal (1 to 17)."), "18 is not an SDG goal (1 to 17)."),
    ("sectors-not-list", lambda: draft(themes={"sectors": "health"}), InvalidAgreement,
     one("themes.sectors", "themes.sectors must be a list of codes."),
     "themes.sectors must be a list of codes."),
    ("priority-bad", lambda: draft(themes={"priorities": ["a b"]}), InvalidAgreement,
     one("themes.priorities", "'a b' is not a code (letters, digits, . _ / -; at most 40)."),
     "'a b' is not a code (letters, digits, . _ / -; at most 40)."),
    ("sectors-21", lambda: draft(themes={"sectors": [f"s{i}" for i in range(21)]}),
     InvalidAgreement, one("themes.sectors", "themes.sectors has at most 20 codes."),
     "themes.sectors has at most 20 codes."),
    ("bad-date", lambda: draft(expires_on="soon"), InvalidAgreement,
     one("expires_on", "expires_on must be a date (YYYY-MM-DD)."),
     "expires_on must be a date (YYYY-MM-DD)."),
    ("date-1899", lambda: draft(effective_from="1899-12-31"), InvalidAgreement,
     one("effective_from", "effective_from is before 1900."), "effective_from is before 1900."),
    ("expiry-before-effect", lambda: draft(expires_on="2023-12-31"), InvalidAgreement,
     one("expires_on", "expires_on is before effective_from."),
     "expires_on is before effective_from."),
    ("funding-not-list", lambda: draft(funding="much"), InvalidAgreement,
     one("funding", "funding must be a list of commitments."),
     "funding must be a list of commitments."),
    ("funding-no-funder", lambda: draft(funding=[{"amount": "1", "currency": "USD"}]),
     InvalidAgreement,
     one("funding.0", "each commitment needs funder_org_id, amount and currency."),
     "each commitment needs funder_org_id, amount and currency."),
    ("funding-amount", lambda: draft(funding=[{"funder_org_id": "unesco", "amount": "0",
                                                "currency": "USD"}]),
     InvalidAgreement, one("funding.0.amount", "funding.0.amount must be greater than zero."),
     "funding.0.amount must be greater than zero."),
    ("funding-currency", lambda: draft(funding=[{"funder_org_id": "unesco", "amount": "1",
                                                  "currency": "ABC"}]),
     InvalidAgreement, one("funding.0.currency", "'ABC' is not an ISO 4217 currency code."),
     "'ABC' is not an ISO 4217 currency code."),
    ("funding-51", lambda: draft(funding=[{"funder_org_id": "unesco", "amount": "1",
                                           "currency": "USD"}] * 51),
     InvalidAgreement, one("funding", "An agreement has at most 50 funding commitments."),
     "An agreement has at most 50 funding commitments."),
    ("funder-not-party", lambda: draft(funding=[{"funder_org_id": "embassy", "amount": "1",
                                                 "currency": "USD"}]),
     InvalidAgreement,
     one("funding.0.funder_org_id", "The funder embassy is neither the owner nor a party."),
     "The funder embassy is neither the owner nor a party."),
    ("amount-float", lambda: amount(1.5), InvalidAgreement,
     one("amount", "amount must be a decimal number written as text."),
     "amount must be a decimal number written as text."),
    ("amount-text", lambda: amount("ten"), InvalidAgreement,
     one("amount", "'ten' is not a number."), "'ten' is not a number."),
    ("amount-large", lambda: amount("1000000000000000"), InvalidAgreement,
     one("amount", "amount is too large."), "amount is too large."),
    ("amount-places", lambda: amount("0.00001"), InvalidAgreement,
     one("amount", "amount has more than 4 decimal places."),
     "amount has more than 4 decimal places."),
    ("currency", lambda: currency("usd1"), InvalidAgreement,
     one("currency", "'usd1' is not an ISO 4217 currency code."),
     "'usd1' is not an ISO 4217 currency code."),
    ("sign-future", lambda: draft().sign(signed_on=date(2025, 3, 11), now=NOW), InvalidAgreement,
     one("signed_on", "signed_on is in the future."), "signed_on is in the future."),
    ("sign-1899", lambda: draft().sign(signed_on=date(1899, 12, 31), now=NOW), InvalidAgreement,
     one("signed_on", "signed_on is before 1900."), "signed_on is before 1900."),
    ("sign-after-expiry", lambda: draft(expires_on="2024-06-30").sign(
        signed_on=date(2024, 7, 1), now=NOW), InvalidAgreement,
     one("signed_on", "signed_on is after expires_on."), "signed_on is after expires_on."),
    ("return-no-comments", lambda: in_status("submitted").return_(
        decided_by="x", decided_by_org_id=None, comments=" ", now=NOW), InvalidAgreement,
     one("comments", "Say why the agreement is returned (comments)."),
     "Say why the agreement is returned (comments)."),
    ("clear-long-conditions", lambda: in_status("submitted").clear(
        decided_by="x", decided_by_org_id=None, conditions="c" * 2001, now=NOW),
     InvalidAgreement, one("conditions", "conditions is longer than 2000 characters."),
     "conditions is longer than 2000 characters."),
    ("clear-long-comments", lambda: in_status("submitted").clear(
        decided_by="x", decided_by_org_id=None, comments="c" * 2001, now=NOW),
     InvalidAgreement, one("comments", "comments is longer than 2000 characters."),
     "comments is longer than 2000 characters."),
    ("return-long-comments", lambda: in_status("submitted").return_(
        decided_by="x", decided_by_org_id=None, comments="c" * 2001, now=NOW),
     InvalidAgreement, one("comments", "comments is longer than 2000 characters."),
     "comments is longer than 2000 characters."),
    ("force-1899", lambda: in_status("signed").enter_into_force(
        effective_from=date(1899, 1, 1), now=NOW), InvalidAgreement,
     one("effective_from", "effective_from is before 1900."), "effective_from is before 1900."),
    ("force-after-expiry", lambda: in_status("signed").enter_into_force(
        effective_from=date(2028, 1, 1), now=NOW), InvalidAgreement,
     one("effective_from", "effective_from is after expires_on."),
     "effective_from is after expires_on."),
    ("force-without-a-date", lambda: in_status("signed", effective_from=None).enter_into_force(
        now=NOW), InvalidAgreement, one("effective_from", "effective_from is required."),
     "effective_from is required."),
    ("terminate-no-reason", lambda: draft().terminate(reason="", now=NOW), InvalidAgreement,
     one("reason", "Say why the agreement is terminated (reason)."),
     "Say why the agreement is terminated (reason)."),
    ("terminate-long-reason", lambda: draft().terminate(reason="r" * 2001, now=NOW),
     InvalidAgreement, one("reason", "reason is longer than 2000 characters."),
     "reason is longer than 2000 characters."),
    ("terminate-future", lambda: draft().terminate(
        reason="r", terminated_on=date(2025, 3, 11), now=NOW), InvalidAgreement,
     one("terminated_on", "terminated_on is in the future."), "terminated_on is in the future."),
    ("terminate-1899", lambda: draft().terminate(
        reason="r", terminated_on=date(1899, 3, 11), now=NOW), InvalidAgreement,
     one("terminated_on", "terminated_on is before 1900."), "terminated_on is before 1900."),
    ("renew-unknown-field", lambda: in_status("signed").renew(
        successor_id="b", changes={"status": "x"}, orgs=ORGS, now=NOW), InvalidAgreement,
     one("status", "status cannot be set on a renewal."), "status cannot be set on a renewal."),
    ("milestone-no-title", lambda: milestone(draft(), title=None), InvalidAgreement,
     one("title", "title is required."), "title is required."),
    ("milestone-blank-title", lambda: milestone(draft(), title=" "), InvalidAgreement,
     one("title", "A milestone needs a title."), "A milestone needs a title."),
    ("milestone-long-title", lambda: milestone(draft(), title="t" * 301), InvalidAgreement,
     one("title", "title is longer than 300 characters."), "title is longer than 300 characters."),
    ("milestone-bad-date", lambda: milestone(draft(), due_on="later"), InvalidAgreement,
     one("due_on", "due_on must be a date (YYYY-MM-DD)."), "due_on must be a date (YYYY-MM-DD)."),
    ("milestone-no-responsible", lambda: milestone(draft(), responsible_org_id="embassy"),
     InvalidAgreement,
     one("responsible_org_id", "The responsible organization must be the owner or a party."),
     "The responsible organization must be the owner or a party."),
    ("milestone-unknown-field", lambda: milestone(draft(), colour="red"), InvalidAgreement,
     one("colour", "colour cannot be set on a milestone."), "colour cannot be set on a milestone."),
    ("milestone-bad-status", lambda: milestone(draft(), status="late"), InvalidAgreement,
     one("status", "'late' is not a status."), "'late' is not a status."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("attempt", "error", "errors", "message"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_each_refusal_names_its_field_and_says_why(attempt, error, errors, message):
    with pytest.raises(error) as raised:
        attempt()
    assert type(raised.value) is error
    assert raised.value.errors == errors
    assert raised.value.message == message


def test_a_milestone_revised_to_a_blank_due_date_is_refused():
    a = draft()
    milestone(a)
    with pytest.raises(InvalidAgreement) as raised:
        a.revise_milestone("m", {"due_on": None}, now=NOW)
    assert raised.value.errors == one("due_on", "A milestone needs a due date.")


def test_removing_the_responsible_party_names_the_milestone():
    a = draft()
    milestone(a)
    parties = [{"org_id": "owner", "role": "signatory"}, {"org_id": "embassy", "role": "funder"}]
    with pytest.raises(InvalidAgreement) as raised:
        a.revise({"parties": parties}, orgs=ORGS, now=NOW)
    assert raised.value.errors == one(
        "parties", "Milestone m is the responsibility of unesco, which would no longer be a party."
    )


def test_expiry_before_signature_is_refused_and_the_same_day_is_not():
    a = draft(effective_from=None, expires_on=None)
    a.sign(signed_on=date(2024, 5, 1), now=NOW)
    with pytest.raises(InvalidAgreement) as raised:
        a.revise({"expires_on": "2024-04-30"}, orgs={}, now=NOW)
    # (refused as locked after signature; the date rule itself is checked on the trial first)
    assert raised.value.errors == one("expires_on", "expires_on is before signed_on.")
    b = draft(effective_from=None, expires_on=None)
    b.sign(signed_on=date(2024, 5, 1), now=NOW)
    b.status = Status.draft  # a corrected record: the same day is valid
    assert b.revise({"expires_on": "2024-05-01"}, orgs={}, now=NOW) == ["expires_on"]


def test_illegal_transition_messages_list_the_actions():
    with pytest.raises(IllegalTransition) as raised:
        in_status("cleared").submit(NOW)
    assert raised.value.message == (
        "An agreement that is cleared cannot submit; allowed: sign, terminate."
    )
    with pytest.raises(IllegalTransition) as closed:
        in_status("terminated").submit(NOW)
    assert closed.value.message == (
        "An agreement that is terminated cannot submit; allowed: nothing, it is closed."
    )


def test_closed_and_expiry_refusals_carry_the_status():
    with pytest.raises(AgreementClosed) as raised:
        in_status("expired").revise({"title": {"en": "x"}}, orgs={}, now=NOW)
    assert raised.value.extra == {"current_status": "expired"}
    assert raised.value.message == "The agreement is expired; it can no longer change."
    with pytest.raises(AgreementClosed):
        in_status("terminated").revise_milestone("m", {}, now=NOW)
    with pytest.raises(NotYetExpired) as early:
        in_status("in_force").expire(NOW)
    assert (
        early.value.message == "The agreement is valid until 2027-12-31; it cannot expire before."
    )
    with pytest.raises(NotYetExpired) as never:
        in_status("in_force", expires_on=None).expire(NOW)
    assert (
        never.value.message
        == "The agreement is valid until no expiry date; it cannot expire before."
    )


def test_locked_fields_are_named_with_the_status():
    a = in_status("cleared")
    with pytest.raises(AgreementLocked) as raised:
        a.revise({"kind": "framework_agreement"}, orgs={}, now=NOW)
    assert raised.value.errors == [{"field": "kind", "message": "locked"}]
    assert raised.value.extra == {"current_status": "cleared"}
    assert raised.value.message == (
        "kind cannot change once the agreement is cleared: only a draft (or one returned by "
        "the coordinating body) can; title, summary, themes and visibility can change until it "
        "is closed."
    )


def test_renewing_twice_names_the_successor():
    a = in_status("in_force")
    a.renew(successor_id="b", changes={}, orgs=ORGS, now=NOW)
    with pytest.raises(AlreadyRenewed) as raised:
        a.renew(successor_id="c", changes={}, orgs=ORGS, now=NOW)
    assert raised.value.extra == {"superseded_by": "b"}
    assert raised.value.message == "The agreement was renewed already, by b."


def test_an_unknown_milestone_is_named():
    with pytest.raises(MilestoneNotFound) as raised:
        draft().milestone("m-9")
    assert raised.value.message == "No milestone m-9 in agreement a."


# --- what each transition records -------------------------------------------------------------


def changes_of(a: Agreement) -> list[tuple[str, tuple[str, ...], int]]:
    return [(e.name, e.changed_fields, e.state["version"]) for e in a.events]


def test_every_transition_records_its_name_fields_and_version():
    later = NOW + timedelta(minutes=5)
    a = draft(effective_from=None)
    a.submit(later)
    a.return_(decided_by="amal", decided_by_org_id="icd", comments="Fix", now=later)
    a.submit(later)
    a.clear(decided_by="amal", decided_by_org_id="icd", now=later)
    a.sign(signed_on=date(2024, 1, 10), now=later)
    a.enter_into_force(now=later)
    successor = a.renew(successor_id="b", changes={}, orgs=ORGS, now=later)
    a.terminate(reason="Replaced", now=later)
    assert changes_of(a) == [
        ("created", tuple(sorted(fields(effective_from=None))), 1),
        ("submitted", ("status",), 2),
        ("returned", ("status", "clearance"), 3),
        ("submitted", ("status",), 4),
        ("cleared", ("status", "clearance", "cleared"), 5),
        ("signed", ("status", "signed_on", "signed_uncleared"), 6),
        ("entered-into-force", ("status", "effective_from"), 7),
        ("renewed", ("superseded_by",), 8),
        ("terminated", ("status", "termination"), 9),
    ]  # fmt: skip
    assert all(e.state["updated_at"] == later.isoformat() for e in a.events[1:])
    assert a.clearance is not None
    assert (a.clearance.decided_by, a.clearance.decided_by_org_id, a.clearance.decided_at) == (
        "amal", "icd", later)  # fmt: skip
    assert successor.events[0].state["supersedes"] == "a"
    assert successor.created_at == later
    expired = in_status("in_force", expires_on="2025-03-09")
    expired.expire(NOW)
    assert changes_of(expired)[-1] == ("expired", ("status",), 2)


def test_milestone_events_and_completion():
    a = draft()
    m = milestone(a, status="done")
    assert (m.title, m.due_on, m.responsible_org_id, m.completed_on) == (
        "Report", date(2025, 6, 1), "unesco", NOW.date())  # fmt: skip
    milestone_two = a.add_milestone(
        milestone_id="n", fields={"title": "Two", "due_on": "2025-07-01",
                                  "responsible_org_id": "owner"}, now=NOW)  # fmt: skip
    revised, changed = a.revise_milestone(
        "n", {"title": " Second ", "due_on": "2025-08-01", "responsible_org_id": "unesco"},
        now=NOW)  # fmt: skip
    assert changed == ["title", "due_on", "responsible_org_id"]
    assert (revised.title, revised.due_on, revised.responsible_org_id) == (
        "Second", date(2025, 8, 1), "unesco")  # fmt: skip
    # the other milestone is left as it was
    assert a.milestones[0] == m
    assert a.milestones[1] == revised
    assert milestone_two.id == "n"
    assert changes_of(a)[1:] == [
        ("milestone-added", ("milestones",), 2),
        ("milestone-added", ("milestones",), 3),
        ("milestone-updated", ("milestones",), 4),
    ]


def test_milestone_limit_is_two_hundred():
    a = draft()
    for i in range(MAX_MILESTONES):
        a.add_milestone(milestone_id=f"m{i}", fields={"title": "t", "due_on": "2025-01-01",
                        "responsible_org_id": "owner"}, now=NOW)  # fmt: skip
    with pytest.raises(InvalidAgreement) as raised:
        a.add_milestone(milestone_id="x", fields={"title": "t", "due_on": "2025-01-01",
                        "responsible_org_id": "owner"}, now=NOW)  # fmt: skip
    assert raised.value.errors == one("milestones", "An agreement has at most 200 milestones.")


# --- boundaries ---------------------------------------------------------------------------------


def test_1900_and_equal_dates_are_accepted():
    assert draft(effective_from="1900-01-01").effective_from == date(1900, 1, 1)
    a = draft(effective_from=None, expires_on="2024-06-30")
    a.sign(signed_on=date(1900, 1, 1), now=NOW)
    a.enter_into_force(effective_from=date(2024, 6, 30), now=NOW)  # the last valid day
    assert a.effective_from == date(2024, 6, 30)
    b = draft()
    b.terminate(reason="r", terminated_on=date(1900, 1, 1), now=NOW)
    assert b.termination is not None
    assert b.termination.terminated_on == date(1900, 1, 1)


def test_twenty_codes_and_kind_changes_are_accepted():
    codes = [f"s{i:02}" for i in range(20)]
    assert draft(themes={"sectors": codes}).themes.sectors == tuple(codes)
    a = draft()
    assert a.revise({"kind": "framework_agreement"}, orgs={}, now=NOW) == ["kind"]
    assert a.kind is Kind.framework_agreement


def test_amounts_given_as_decimals_are_kept_and_written_out():
    assert amount(Decimal("12.50")) == Decimal("12.50")
    assert str(amount(Decimal("1E+2"))) == "100"
    assert str(amount(" 7.5 ")) == "7.5"
