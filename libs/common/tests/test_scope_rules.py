"""The access scope rules (tansiq_common.auth.scope) as pure functions: no database, no token.

Each rule is checked on both sides of every condition it has, so that widening or narrowing
one (an `and` made `or`, a role added or dropped) fails here; `make mutants` measures it.
"""

from __future__ import annotations

import pytest
from tansiq_common.auth.principal import Principal, Role
from tansiq_common.auth.scope import (
    NO_COUNTRY,
    OrgScope,
    acts_as_coordinator,
    home_country,
    may_write_for,
    reads_audit,
    reads_country,
    reads_personal_data,
    sees_everything,
)

ALL = tuple(Role)


def caller(*roles: Role | str, org: str = "icd") -> Principal:
    return Principal(sub="amal", org=org, roles=frozenset(str(r) for r in roles))


# A coordinating body of Qatar (the ICD, under the ministry MOFA), a plain national directorate,
# an international organization, and an organization the registry does not know.
ICD = OrgScope(
    org_id="icd",
    ministry_id="mofa",
    descendants=frozenset({"icd", "icd-unit"}),
    is_coordinating_body=True,
    country="QA",
    national=True,
)
DIRECTORATE = OrgScope(
    org_id="dir",
    ministry_id="moe",
    descendants=frozenset({"dir", "dir-section", "dir-section-office"}),
    country="QA",
    national=True,
)
UN_AGENCY = OrgScope(org_id="undp", descendants=frozenset({"undp"}), country="QA")
STATELESS = OrgScope(org_id="odd", descendants=frozenset({"odd"}), is_coordinating_body=True)
UNKNOWN = OrgScope.empty("ghost")


def test_an_empty_scope_covers_nothing_and_confers_nothing():
    assert OrgScope.empty("ghost") == UNKNOWN == OrgScope(org_id="ghost")
    assert OrgScope.empty("nobody").org_id == "nobody"
    assert UNKNOWN.ministry_id is None
    assert UNKNOWN.descendants == frozenset()
    assert UNKNOWN.is_coordinating_body is False
    assert UNKNOWN.country is None
    assert UNKNOWN.national is False
    assert UNKNOWN.known is False
    assert not UNKNOWN.covers("ghost")
    assert not UNKNOWN.covers(None)


def test_known_means_the_directory_holds_the_organization():
    assert ICD.known is True
    assert OrgScope("x", descendants=frozenset({"x"})).known is True


def test_covers_is_membership_of_the_descendants():
    assert DIRECTORATE.covers("dir")
    assert DIRECTORATE.covers("dir-section-office")
    assert not DIRECTORATE.covers("moe")  # its ministry is above it, not below
    assert not DIRECTORATE.covers("icd")
    assert not DIRECTORATE.covers(None)
    assert not DIRECTORATE.covers("")


def test_home_country_is_that_of_a_national_organization_only():
    assert home_country(ICD) == "QA"
    assert home_country(DIRECTORATE) == "QA"
    assert home_country(UN_AGENCY) is None  # in Qatar, but not one of its public bodies
    assert home_country(UNKNOWN) is None


@pytest.mark.parametrize("role", ALL)
def test_only_the_coordinator_role_in_a_coordinating_body_acts_as_coordinator(role):
    assert acts_as_coordinator(caller(role), ICD) is (role is Role.coordinator)
    assert acts_as_coordinator(caller(role), DIRECTORATE) is False
    assert acts_as_coordinator(caller(role), UNKNOWN) is False


def test_roles_the_token_carries_but_tansiq_does_not_know_grant_nothing():
    stranger = caller("superuser", "Coordinator", "admin")
    for scope in (ICD, DIRECTORATE, UNKNOWN):
        assert not acts_as_coordinator(stranger, scope)
        assert not sees_everything(stranger, scope)
        assert not reads_audit(stranger, scope)
        assert not may_write_for(stranger, scope, scope.org_id)
    assert not reads_personal_data(stranger, UN_AGENCY)


@pytest.mark.parametrize("role", ALL)
def test_auditors_see_everything_anywhere_and_coordinators_only_in_a_coordinating_body(role):
    assert sees_everything(caller(role), ICD) is (role in (Role.auditor, Role.coordinator))
    assert sees_everything(caller(role), DIRECTORATE) is (role is Role.auditor)
    assert sees_everything(caller(role), UNKNOWN) is (role is Role.auditor)


def test_sees_everything_with_several_roles():
    assert sees_everything(caller(Role.viewer, Role.auditor), DIRECTORATE)
    assert sees_everything(caller(Role.viewer, Role.coordinator), ICD)
    assert not sees_everything(caller(Role.viewer, Role.coordinator), DIRECTORATE)


def test_a_coordinator_reads_their_own_country():
    assert reads_country(caller(Role.coordinator), ICD) == "QA"


def test_an_auditor_of_a_known_organization_reads_its_country():
    assert reads_country(caller(Role.auditor), DIRECTORATE) == "QA"
    # An international body of the registry is known too: its country bounds its auditors.
    assert reads_country(caller(Role.auditor), UN_AGENCY) == "QA"


def test_an_auditor_the_registry_does_not_know_is_a_global_auditor():
    assert reads_country(caller(Role.auditor), UNKNOWN) is None


def test_a_known_organization_without_a_country_reads_no_country_not_every_country():
    assert NO_COUNTRY == ""
    assert reads_country(caller(Role.coordinator), STATELESS) == NO_COUNTRY
    assert reads_country(caller(Role.auditor), STATELESS) == NO_COUNTRY
    # A coordinating body unknown to the directory cannot happen (the designation lives there),
    # but the rule holds without `known`: a coordinator never reads every country.
    detached = OrgScope("loose", is_coordinating_body=True, country="SY")
    assert reads_country(caller(Role.coordinator), detached) == "SY"
    assert reads_country(caller(Role.coordinator), OrgScope("x", is_coordinating_body=True)) == ""


@pytest.mark.parametrize("role", ALL)
def test_the_audit_trail_is_for_auditors_and_coordinators_of_a_coordinating_body(role):
    assert reads_audit(caller(role), ICD) is (role in (Role.auditor, Role.coordinator))
    assert reads_audit(caller(role), DIRECTORATE) is (role is Role.auditor)
    assert reads_audit(caller(role), UNKNOWN) is (role is Role.auditor)


@pytest.mark.parametrize("role", ALL)
def test_personal_data_is_for_national_staff_coordinators_and_auditors(role):
    # Any role of a known national organization reads focal points.
    assert reads_personal_data(caller(role), DIRECTORATE) is True
    assert reads_personal_data(caller(role), ICD) is True
    # Staff of an international body, or of an organization the registry does not know, only
    # when they see everything (auditors; coordinators never are: no coordinating body there).
    assert reads_personal_data(caller(role), UN_AGENCY) is (role is Role.auditor)
    assert reads_personal_data(caller(role), UNKNOWN) is (role is Role.auditor)


def test_national_but_unknown_confers_no_personal_data():
    # Fail closed: `national` without `known` (an archived organization's emptied scope keeps
    # neither, but a hand-built one might) is not enough.
    assert not reads_personal_data(caller(Role.viewer), OrgScope("x", national=True, country="QA"))
    assert reads_personal_data(caller(Role.coordinator), STATELESS)
    assert not reads_personal_data(caller(Role.viewer), STATELESS)


@pytest.mark.parametrize("role", ALL)
def test_only_editors_write_and_only_within_their_organization_and_below(role):
    may = role is Role.editor
    assert may_write_for(caller(role), DIRECTORATE, "dir") is may
    assert may_write_for(caller(role), DIRECTORATE, "dir-section-office") is may
    assert may_write_for(caller(role), DIRECTORATE, "moe") is False
    assert may_write_for(caller(role), DIRECTORATE, "icd") is False
    assert may_write_for(caller(role), DIRECTORATE, None) is False
    assert may_write_for(caller(role), UNKNOWN, "ghost") is False


def test_an_editor_who_is_also_a_coordinator_writes_only_for_their_own_tree():
    both = caller(Role.editor, Role.coordinator)
    assert may_write_for(both, ICD, "icd-unit")
    assert not may_write_for(both, ICD, "dir")
