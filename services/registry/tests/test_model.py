from datetime import UTC, datetime

import pytest
from tansiq_common.events.outbox import DomainEvent
from tansiq_registry.organizations.model import (
    HierarchyCycle,
    InvalidOrganization,
    Link,
    Organization,
    Scope,
    derive_iati_org_type,
    derive_scope,
    ministry_of,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
HOME = ["QA", "SY"]


def register(**fields):
    ancestors = fields.pop("ancestors", [])
    base = {"kind": "ministry", "names": {"en": "X"}, "country": "QA"}
    return Organization.register(
        id=fields.pop("id", "o1"),
        fields={**base, **fields},
        home_countries=HOME,
        ancestors=ancestors,
        now=NOW,
    )


def test_scope_and_iati_type_are_derived():
    assert derive_scope("ministry", "QA", HOME) is Scope.national
    assert derive_scope("ministry", "FR", HOME) is Scope.international
    assert derive_scope("un_entity", "QA", HOME) is Scope.international
    assert derive_iati_org_type("un_entity", None, HOME) == 40
    assert derive_iati_org_type("centre", "QA", HOME) == 15
    assert derive_iati_org_type("ngo", "QA", HOME) == 22
    assert derive_iati_org_type("ngo", "FR", HOME) == 21


def test_ministry_is_topmost_national_ancestor():
    chain = [Link("d", Scope.national), Link("m", Scope.national), Link("un", Scope.international)]
    assert ministry_of("c", Scope.national, chain) == "m"
    assert ministry_of("c", Scope.international, chain) is None
    assert ministry_of("m", Scope.national, []) == "m"


def test_register_emits_created_with_full_state():
    org = register(iati_identifier="QA-GOV-1")
    [event] = org.events
    assert isinstance(event, DomainEvent)
    assert event.event_type == "tansiq.registry.organization.created.v1"
    assert event.topic == "registry.organization.v1"
    assert event.payload()["version"] == 1
    assert event.payload()["ministry_id"] == "o1"
    assert event.payload()["iati_identifier"] == "QA-GOV-1"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"names": {}}, "names"),
        ({"country": "XX"}, "country"),
        ({"iati_identifier": "41114"}, "iati_identifier"),
        ({"iati_org_type": 12}, "iati_org_type"),
    ],
)
def test_invalid_fields_are_named(fields, field):
    with pytest.raises(InvalidOrganization) as info:
        register(**fields)
    assert info.value.errors[0]["field"] == field


def test_revise_rejects_a_cycle_and_reports_changes():
    org = register()
    org.events.clear()
    with pytest.raises(HierarchyCycle):
        org.revise(
            {"parent_id": "child"},
            home_countries=HOME,
            now=NOW,
            ancestors=[Link("child", Scope.national), Link("o1", Scope.national)],
        )
    assert org.version == 1
    assert not org.events
    assert org.revise({"acronym": "M"}, home_countries=HOME, ancestors=[], now=NOW) == ["acronym"]
    assert org.version == 2
    assert org.events[0].event_type.endswith(".updated.v1")
    assert org.revise({"acronym": "M"}, home_countries=HOME, ancestors=[], now=NOW) == []
    assert org.version == 2
