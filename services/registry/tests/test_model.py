"""The organization aggregate's rules, pure: no database, no HTTP (`make mutants` runs these).

Derived fields (scope, IATI type, ministry), validation of each field with the message a client
reads, the hierarchy checks, and the events and versions each change produces.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tansiq_common.domain import StateEvent
from tansiq_common.events.outbox import DomainEvent
from tansiq_registry.organizations.model import (
    AlreadyInStatus,
    Designation,
    HierarchyCycle,
    InvalidOrganization,
    InvalidReference,
    Kind,
    Line,
    Link,
    Names,
    Organization,
    OrganizationArchived,
    ReportingLine,
    Scope,
    Status,
    derive_iati_org_type,
    derive_scope,
    ministry_of,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
HOME = ["QA", "SY"]

MOFA = Link("mofa", Scope.national)
ICD = Link("icd", Scope.national, "mofa")
UNDP = Link("undp", Scope.international)


def register(**fields: Any) -> Organization:
    ancestors = fields.pop("ancestors", [])
    base = {"kind": "ministry", "names": {"en": "X"}, "country": "QA"}
    return Organization.register(
        id=fields.pop("id", "o1"),
        fields={**base, **fields},
        home_countries=HOME,
        ancestors=ancestors,
        now=NOW,
    )


def revise(org: Organization, ancestors: list[Link] | None = None, **changes: Any) -> list[str]:
    return org.revise(changes, home_countries=HOME, ancestors=ancestors or [], now=LATER)


def error_of(call: Any, *args: Any, **kwargs: Any) -> dict[str, str]:
    with pytest.raises(InvalidOrganization) as info:
        call(*args, **kwargs)
    assert info.value.status == 422
    assert info.value.slug == "validation-error"
    [error] = info.value.errors
    assert error["message"] == info.value.message
    return error


# --- derived fields -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", [Kind.ministry, Kind.directorate, Kind.agency, Kind.public_foundation, Kind.centre]
)
def test_a_public_sector_kind_of_a_home_country_is_national(kind):
    assert derive_scope(kind, "QA", HOME) is Scope.national
    assert derive_scope(kind, "SY", HOME) is Scope.national
    assert derive_scope(kind, "FR", HOME) is Scope.international
    assert derive_scope(kind, None, HOME) is Scope.international
    assert derive_scope(kind, "QA", []) is Scope.international


@pytest.mark.parametrize(
    "kind",
    [
        k
        for k in Kind
        if k not in ("ministry", "directorate", "agency", "public_foundation", "centre")
    ],
)
def test_every_other_kind_is_international_even_at_home(kind):
    assert derive_scope(kind, "QA", HOME) is Scope.international


def test_home_countries_may_be_any_iterable():
    assert derive_scope(Kind.ministry, "QA", iter(["SY", "QA"])) is Scope.national
    assert derive_iati_org_type(Kind.ngo, "QA", iter(["SY", "QA"])) == 22


@pytest.mark.parametrize(
    ("kind", "iati_type"),
    [
        (Kind.ministry, 10),
        (Kind.directorate, 10),
        (Kind.agency, 10),
        (Kind.diplomatic_mission, 10),
        (Kind.foreign_government, 10),
        (Kind.public_foundation, 15),
        (Kind.centre, 15),
        (Kind.un_entity, 40),
        (Kind.international_organization, 40),
        (Kind.regional_organization, 40),
        (Kind.private_sector, 70),
        (Kind.academic, 80),
        (Kind.other, 90),
    ],
)
def test_the_iati_type_follows_the_kind(kind, iati_type):
    assert derive_iati_org_type(kind, "QA", HOME) == iati_type
    assert derive_iati_org_type(kind, None, HOME) == iati_type


def test_an_ngo_is_national_at_home_and_international_elsewhere():
    assert derive_iati_org_type(Kind.ngo, "QA", HOME) == 22
    assert derive_iati_org_type(Kind.ngo, "FR", HOME) == 21
    assert derive_iati_org_type(Kind.ngo, None, HOME) == 21


def test_the_ministry_is_the_top_of_the_unbroken_national_chain():
    chain = [Link("d", Scope.national), Link("m", Scope.national), Link("un", Scope.international)]
    assert ministry_of("c", Scope.national, chain) == "m"
    assert ministry_of("c", Scope.international, chain) is None
    assert ministry_of("m", Scope.national, []) == "m"
    # A national body right under an international one is its own ministry.
    assert ministry_of("c", Scope.national, [UNDP, MOFA]) == "c"
    # The walk stops at the first international link even if national ones follow.
    national_above = [Link("d", Scope.national), UNDP, Link("m", Scope.national)]
    assert ministry_of("c", Scope.national, national_above) == "d"


# --- registering --------------------------------------------------------------------------------


def test_register_derives_everything_and_emits_created_with_the_full_state():
    org = register(iati_identifier="QA-GOV-1", acronym="MOFA")
    assert org.id == "o1"
    assert org.kind is Kind.ministry
    assert org.names == Names(en="X")
    assert org.scope is Scope.national
    assert org.iati_org_type == 10
    assert org.ministry_id == "o1"
    assert org.status is Status.active
    assert org.version == 1
    assert org.created_at == org.updated_at == NOW
    assert org.source_key is None
    [event] = org.events
    assert isinstance(event, StateEvent)
    assert isinstance(event, DomainEvent)
    assert event.event_type == "tansiq.registry.organization.created.v1"
    assert event.topic == "registry.organization.v1"
    assert event.aggregate_type == "organization"
    assert event.aggregate_id == "o1"
    assert event.changed_fields == ("acronym", "country", "iati_identifier", "kind", "names")
    assert event.payload() == org.snapshot()
    assert event.payload()["version"] == 1
    assert event.payload()["iati_identifier"] == "QA-GOV-1"


def test_register_keeps_the_source_key():
    org = Organization.register(
        id="o9",
        fields={"kind": "un_entity", "names": {"ar": "اليونسكو"}},
        home_countries=HOME,
        ancestors=[],
        now=NOW,
        source_key="unesco",
    )
    assert org.source_key == "unesco"
    assert org.scope is Scope.international
    assert org.ministry_id is None
    assert org.iati_org_type == 40


def test_a_given_iati_type_wins_over_the_derived_one():
    assert register(iati_org_type=15).iati_org_type == 15
    assert register(iati_org_type=None).iati_org_type == 10


def test_register_under_a_parent_takes_the_parents_ministry():
    org = register(kind="directorate", parent_id="icd", ancestors=[ICD, MOFA])
    assert org.parent_id == "icd"
    assert org.ministry_id == "mofa"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"names": {}}, {"field": "names", "message": "An Arabic or an English name is required."}),
        (
            {"names": {"en": "  ", "ar": None}},
            {"field": "names", "message": "An Arabic or an English name is required."},
        ),
        (
            {"names": "Ministry"},
            {"field": "names", "message": "names must be an object with ar and/or en."},
        ),
        (
            {"country": "XX"},
            {"field": "country", "message": "'XX' is not an ISO 3166-1 alpha-2 country code."},
        ),
        (
            {"country": 7},
            {"field": "country", "message": "7 is not an ISO 3166-1 alpha-2 country code."},
        ),
        (
            {"iati_identifier": "41114"},
            {
                "field": "iati_identifier",
                "message": "'41114' is not an IATI organisation identifier (PREFIX-ID, e.g. "
                "XM-DAC-41304).",
            },
        ),
        (
            {"iati_identifier": 41114},
            {
                "field": "iati_identifier",
                "message": "41114 is not an IATI organisation identifier (PREFIX-ID, e.g. "
                "XM-DAC-41304).",
            },
        ),
        (
            {"iati_org_type": 12},
            {"field": "iati_org_type", "message": "12 is not an IATI OrganisationType."},
        ),
        ({"acronym": 5}, {"field": "acronym", "message": "acronym must be text."}),
        (
            {"acronym": "A" * 41},
            {"field": "acronym", "message": "acronym is longer than 40 characters."},
        ),
        (
            {"names": {"en": "n" * 301}},
            {"field": "names.en", "message": "names.en is longer than 300 characters."},
        ),
        (
            {"names": {"ar": "ن" * 301}},
            {"field": "names.ar", "message": "names.ar is longer than 300 characters."},
        ),
        (
            {"website": "https://" + "w" * 2041},
            {"field": "website", "message": "website is longer than 2048 characters."},
        ),
        (
            {"designations": ["supreme_body"]},
            {"field": "designations", "message": "unknown designation."},
        ),
        (
            {"reporting_lines": [{"org_id": "x"}]},
            {"field": "reporting_lines", "message": "each reporting line needs org_id and line."},
        ),
        (
            {"reporting_lines": [{"org_id": "x", "line": "spiritual"}]},
            {"field": "reporting_lines", "message": "each reporting line needs org_id and line."},
        ),
        (
            {"reporting_lines": ["x:technical"]},
            {"field": "reporting_lines", "message": "each reporting line needs org_id and line."},
        ),
        (
            {"reporting_lines": [{"org_id": "o1", "line": "technical"}]},
            {"field": "reporting_lines", "message": "an organization cannot report to itself."},
        ),
        ({"version": 7}, {"field": "version", "message": "version cannot be set by a client."}),
        (
            {"status": "archived", "scope": "national"},
            {"field": "scope", "message": "scope cannot be set by a client."},
        ),
    ],
)
def test_invalid_fields_are_named_with_their_message(fields, error):
    assert error_of(register, **fields) == error


KIND_ERRORS = [
    ({"kind": None}, {"field": "kind", "message": "kind is required."}),
    ({"kind": ""}, {"field": "kind", "message": "kind is required."}),  # an empty CSV cell
    ({"kind": "castle"}, {"field": "kind", "message": "unknown kind 'castle'."}),
]


@pytest.mark.parametrize(("fields", "error"), KIND_ERRORS)
def test_a_missing_or_unknown_kind_is_named(fields, error):
    assert error_of(revise, register(), **fields) == error


@pytest.mark.parametrize(("fields", "error"), KIND_ERRORS)
def test_registering_with_a_missing_or_unknown_kind_is_named(fields, error):
    assert error_of(register, **fields) == error


def test_text_is_trimmed_and_empty_text_is_no_value():
    org = register(acronym="  MOFA ", website="", names={"en": " Ministry ", "ar": ""})
    assert org.acronym == "MOFA"
    assert org.website is None
    assert org.names == Names(ar=None, en="Ministry")


def test_text_at_its_limit_is_accepted():
    org = register(acronym="A" * 40, names={"en": "n" * 300, "ar": "ن" * 300})
    assert org.acronym == "A" * 40
    assert org.names.en == "n" * 300
    assert org.names.ar == "ن" * 300
    assert register(website="https://" + "w" * 2040).website == "https://" + "w" * 2040


def test_a_country_is_upper_cased_and_blank_is_none():
    assert register(country=" qa ").country == "QA"
    org = register(kind="un_entity", country="")
    assert org.country is None
    assert register(kind="un_entity", country=None).country is None


def test_an_iati_identifier_is_trimmed_and_blank_is_none():
    assert register(iati_identifier=" XM-DAC-41304 ").iati_identifier == "XM-DAC-41304"
    assert register(iati_identifier="   ").iati_identifier is None
    assert register(iati_identifier=None).iati_identifier is None
    assert register(iati_identifier="GB-COH-01234567").iati_identifier == "GB-COH-01234567"


def test_reporting_lines_are_deduplicated_in_order():
    org = register(
        reporting_lines=[
            {"org_id": "b", "line": "technical"},
            {"org_id": "a", "line": "administrative"},
            {"org_id": "b", "line": "technical"},
            ReportingLine("a", Line.supervision),
            {"org_id": 5, "line": "technical"},
        ]
    )
    assert org.reporting_lines == (
        ReportingLine("b", Line.technical),
        ReportingLine("a", Line.administrative),
        ReportingLine("a", Line.supervision),
        ReportingLine("5", Line.technical),
    )
    assert register(reporting_lines=None).reporting_lines == ()
    with pytest.raises(InvalidOrganization):
        register(reporting_lines=[ReportingLine("o1", Line.technical)])


def test_designations_are_a_set_and_none_is_empty():
    org = register(designations=["coordinating_body", "coordinating_body"])
    assert org.designations == frozenset({Designation.coordinating_body})
    assert register(designations=None).designations == frozenset()


def test_an_organization_needs_a_name_even_when_names_are_not_sent():
    error = error_of(
        Organization.register,
        id="o1",
        fields={"kind": "un_entity"},
        home_countries=HOME,
        ancestors=[],
        now=NOW,
    )
    assert error == {"field": "names", "message": "An Arabic or an English name is required."}


def test_an_organization_needs_a_kind_even_when_none_is_sent():
    error = error_of(
        Organization.register,
        id="o1",
        fields={"names": {"en": "Somewhere"}},
        home_countries=HOME,
        ancestors=[],
        now=NOW,
    )
    assert error == {"field": "kind", "message": "kind is required."}


def test_the_first_unknown_field_in_name_order_is_named():
    assert error_of(register, zeta=1, alpha=2)["field"] == "alpha"


# --- the hierarchy ------------------------------------------------------------------------------


def test_a_parent_must_head_the_ancestors_given():
    error = error_of(register, parent_id="icd", ancestors=[])
    assert error == {"field": "parent_id", "message": "No organization icd to be the parent."}
    with pytest.raises(InvalidReference):
        register(parent_id="icd", ancestors=[MOFA])


def test_an_archived_parent_is_refused():
    archived = replace(ICD, status=Status.archived)
    error = error_of(register, parent_id="icd", ancestors=[archived, MOFA])
    assert error == {"field": "parent_id", "message": "The parent organization is archived."}


def test_an_organization_cannot_be_its_own_parent():
    with pytest.raises(HierarchyCycle) as info:
        register(parent_id="o1", ancestors=[Link("o1", Scope.national)])
    assert info.value.status == 409
    assert info.value.slug == "hierarchy-cycle"
    assert info.value.message == (
        "The organization cannot be placed under itself or one of its descendants."
    )
    assert info.value.errors == [{"field": "parent_id", "message": "would create a cycle"}]


def test_revise_refuses_a_cycle_and_changes_nothing():
    org = register()
    org.events.clear()
    with pytest.raises(HierarchyCycle):
        revise(
            org,
            [Link("child", Scope.national, "o1"), Link("o1", Scope.national)],
            parent_id="child",
        )
    assert org.version == 1
    assert org.parent_id is None
    assert not org.events


def test_a_move_is_recorded_as_moved_and_takes_the_new_ministry():
    org = register(kind="directorate", parent_id="icd", ancestors=[ICD, MOFA])
    org.events.clear()
    moe = Link("moe", Scope.national)
    assert revise(org, [moe], parent_id="moe", designations=["coordinating_body"]) == [
        "designations",
        "ministry_id",
        "parent_id",
    ]
    assert org.parent_id == "moe"
    assert org.ministry_id == "moe"
    [event] = org.events
    assert event.name == "moved"
    assert event.changed_fields == ("designations", "ministry_id", "parent_id")


def test_leaving_the_parent_makes_a_national_body_its_own_ministry():
    org = register(kind="directorate", parent_id="icd", ancestors=[ICD, MOFA])
    assert revise(org, parent_id=None) == ["ministry_id", "parent_id"]
    assert org.parent_id is None
    assert org.ministry_id == "o1"


def test_rehome_follows_a_move_above():
    org = register(kind="centre", parent_id="icd", ancestors=[ICD, MOFA])
    org.events.clear()
    assert org.rehome([ICD, MOFA], LATER) is False
    assert org.events == []
    assert org.version == 1
    moved_icd = Link("icd", Scope.national, "moe")
    assert org.rehome([moved_icd, Link("moe", Scope.national)], LATER) is True
    assert org.ministry_id == "moe"
    assert org.version == 2
    assert org.updated_at == LATER
    [event] = org.events
    assert (event.name, event.changed_fields) == ("updated", ("ministry_id",))
    assert event.payload()["ministry_id"] == "moe"


def test_rehome_under_an_international_parent_makes_it_its_own_ministry():
    org = register(kind="centre", parent_id="icd", ancestors=[ICD, MOFA])
    assert org.ministry_id == "mofa"
    # The parent stays; above it, the chain now starts with an international body.
    assert org.rehome([UNDP], LATER) is True
    assert org.ministry_id == "o1"


def test_the_link_is_what_the_hierarchy_rules_need():
    org = register(kind="directorate", parent_id="icd", ancestors=[ICD, MOFA])
    assert org.link == Link("o1", Scope.national, "icd", Status.active)
    org.archive(LATER)
    assert org.link.status is Status.archived


# --- revising -----------------------------------------------------------------------------------


def test_revise_reports_the_fields_that_changed_and_bumps_the_version_once():
    org = register()
    org.events.clear()
    assert revise(org, acronym="M", website="https://mofa.example") == ["acronym", "website"]
    assert org.version == 2
    assert org.updated_at == LATER
    assert org.created_at == NOW
    [event] = org.events
    assert event.event_type == "tansiq.registry.organization.updated.v1"
    assert event.changed_fields == ("acronym", "website")
    assert event.payload()["version"] == 2
    assert event.payload()["acronym"] == "M"


def test_a_revision_that_changes_nothing_records_nothing():
    org = register(acronym="M")
    org.events.clear()
    assert revise(org, acronym="M") == []
    assert revise(org, acronym=" M ", names={"en": "X"}, country="qa") == []
    assert revise(org) == []
    assert org.version == 1
    assert org.updated_at == NOW
    assert org.events == []


def test_a_designation_is_recorded_as_designated():
    org = register()
    org.events.clear()
    assert revise(org, designations=["coordinating_body"]) == ["designations"]
    assert [e.name for e in org.events] == ["designated"]
    assert org.designations == frozenset({Designation.coordinating_body})


def test_a_partial_names_change_keeps_the_other_language():
    org = register(names={"en": "Ministry", "ar": "وزارة"})
    assert revise(org, names={"ar": "الوزارة"}) == ["names"]
    assert org.names == Names(ar="الوزارة", en="Ministry")
    assert revise(org, names={"en": None}) == ["names"]
    assert org.names == Names(ar="الوزارة", en=None)
    error = error_of(revise, org, names={"ar": None})
    assert error["field"] == "names"
    assert error_of(revise, org, names=None)["field"] == "names"


def test_registering_ignores_a_name_it_was_not_given():
    org = register(names={"en": "Ministry"})
    assert org.names == Names(ar=None, en="Ministry")


def test_the_iati_type_is_derived_again_only_when_what_it_depends_on_changes():
    org = register(kind="ngo", country="FR", iati_org_type=60)
    assert org.iati_org_type == 60
    assert revise(org, acronym="N") == ["acronym"]
    assert org.iati_org_type == 60  # kept: neither kind nor country changed
    assert revise(org, country="QA") == ["country", "iati_org_type"]
    assert org.iati_org_type == 22
    assert revise(org, kind="academic") == ["iati_org_type", "kind"]
    assert org.iati_org_type == 80
    assert revise(org, iati_org_type=None) == []  # null: derive it again, still 80
    assert revise(org, iati_org_type=60) == ["iati_org_type"]
    assert org.iati_org_type == 60
    # A null type alone, with kind and country unchanged: derived again (academic: 80).
    assert revise(org, iati_org_type=None) == ["iati_org_type"]
    assert org.iati_org_type == 80


def test_a_change_of_country_can_change_the_scope_and_the_ministry():
    org = register()
    assert revise(org, country="FR") == [
        "country",
        "ministry_id",
        "scope",
    ]
    assert org.scope is Scope.international
    assert org.ministry_id is None


def test_a_failed_revision_leaves_the_organization_as_it_was():
    org = register(acronym="M")
    before = org.snapshot()
    with pytest.raises(InvalidOrganization):
        revise(org, acronym="N", country="XX")
    assert org.snapshot() == before
    assert org.acronym == "M"


def test_an_archived_organization_cannot_be_revised():
    org = register()
    org.archive(LATER)
    with pytest.raises(OrganizationArchived) as info:
        revise(org, acronym="M")
    assert info.value.status == 409
    assert info.value.slug == "organization-archived"
    assert str(info.value) == "An archived organization cannot be changed; restore it first."
    assert org.acronym is None


# --- archive and restore ------------------------------------------------------------------------


def test_archive_and_restore_toggle_the_status_with_an_event_each():
    org = register()
    org.events.clear()
    org.archive(LATER)
    assert org.snapshot()["status"] == "archived"
    assert org.version == 2
    assert org.updated_at == LATER
    later_still = LATER + timedelta(minutes=1)
    org.restore(later_still)
    assert org.snapshot()["status"] == "active"
    assert org.status is Status.active
    assert org.version == 3
    assert org.updated_at == later_still
    assert [(e.name, e.changed_fields) for e in org.events] == [
        ("archived", ("status",)),
        ("restored", ("status",)),
    ]
    assert [e.payload()["status"] for e in org.events] == ["archived", "active"]


def test_archiving_twice_or_restoring_an_active_organization_is_a_conflict():
    org = register()
    with pytest.raises(AlreadyInStatus) as info:
        org.restore(LATER)
    assert (info.value.status, info.value.slug) == (409, "status-conflict")
    assert str(info.value) == "The organization is not archived."
    org.archive(LATER)
    with pytest.raises(AlreadyInStatus) as info:
        org.archive(LATER)
    assert str(info.value) == "The organization is already archived."
    assert org.version == 2
