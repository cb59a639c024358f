"""The organization aggregate: its fields, derived fields, hierarchy rules and events.

Pure Python: no FastAPI, no SQL. The service layer loads what a rule needs (the chain of
ancestors above a new parent, the descendants of a moved organization) and hands it in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from tansiq_common.codec import state_fields
from tansiq_common.countries import is_country
from tansiq_common.domain import DomainError, NotFoundError, RuleConflict, VersionedAggregate


class Kind(StrEnum):
    ministry = "ministry"
    directorate = "directorate"
    agency = "agency"
    public_foundation = "public_foundation"
    centre = "centre"
    diplomatic_mission = "diplomatic_mission"
    un_entity = "un_entity"
    international_organization = "international_organization"
    regional_organization = "regional_organization"
    foreign_government = "foreign_government"
    ngo = "ngo"
    private_sector = "private_sector"
    academic = "academic"
    other = "other"


# Kinds that belong to a country's government or public sector when that country is a home one.
PUBLIC_SECTOR_KINDS = frozenset(
    {Kind.ministry, Kind.directorate, Kind.agency, Kind.public_foundation, Kind.centre}
)


class Scope(StrEnum):
    national = "national"
    international = "international"


class Status(StrEnum):
    active = "active"
    archived = "archived"


class Line(StrEnum):
    technical = "technical"
    administrative = "administrative"
    supervision = "supervision"


class Designation(StrEnum):
    coordinating_body = "coordinating_body"


# IATI OrganisationType codelist.
IATI_ORG_TYPES: Mapping[int, str] = {
    10: "Government",
    11: "Local Government",
    15: "Other Public Sector",
    21: "International NGO",
    22: "National NGO",
    23: "Regional NGO",
    24: "Partner Country based NGO",
    30: "Public Private Partnership",
    40: "Multilateral",
    60: "Foundation",
    70: "Private Sector",
    71: "Private Sector in Provider Country",
    72: "Private Sector in Aid Recipient Country",
    73: "Private Sector in Third Country",
    80: "Academic, Training and Research",
    90: "Other",
}

_IATI_TYPE_BY_KIND: Mapping[Kind, int] = {
    Kind.ministry: 10,
    Kind.directorate: 10,
    Kind.agency: 10,
    Kind.diplomatic_mission: 10,
    Kind.foreign_government: 10,
    Kind.public_foundation: 15,
    Kind.centre: 15,
    Kind.un_entity: 40,
    Kind.international_organization: 40,
    Kind.regional_organization: 40,
    Kind.private_sector: 70,
    Kind.academic: 80,
    Kind.other: 90,
}

# PREFIX-ID: a registration agency (country or X-code, dash, agency) then the identifier it
# issued, e.g. XM-DAC-41304, GB-COH-01234567, QA-MOCI-12345.
IATI_IDENTIFIER = re.compile(r"^[A-Z]{2}-[A-Z0-9]{2,}-[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
ACRONYM_MAX = 40
NAME_MAX = 300

TOPIC = "registry.organization.v1"
AGGREGATE_TYPE = "organization"


class InvalidOrganization(DomainError):
    """A field has a value the registry refuses (422, `validation-error`)."""


# The name earlier code and tests know the base by.
OrganizationError = InvalidOrganization


class HierarchyCycle(RuleConflict):
    slug = "hierarchy-cycle"


class AlreadyInStatus(RuleConflict):
    slug = "status-conflict"


class OrganizationArchived(RuleConflict):
    slug = "organization-archived"


class OrganizationNotFound(NotFoundError):
    slug = "organization-not-found"


class InvalidReference(InvalidOrganization):
    """A field names an organization that cannot take that place (unknown, archived)."""


def _invalid(field_name: str, message: str) -> InvalidOrganization:
    return InvalidOrganization(message, [{"field": field_name, "message": message}])


def derive_scope(kind: Kind, country: str | None, home_countries: Iterable[str]) -> Scope:
    if kind in PUBLIC_SECTOR_KINDS and country is not None and country in set(home_countries):
        return Scope.national
    return Scope.international


def derive_iati_org_type(kind: Kind, country: str | None, home_countries: Iterable[str]) -> int:
    if kind == Kind.ngo:
        # 22 National NGO for an NGO of a home country, 21 International NGO otherwise.
        return 22 if country is not None and country in set(home_countries) else 21
    return _IATI_TYPE_BY_KIND[kind]


@dataclass(frozen=True)
class Names:
    ar: str | None = None
    en: str | None = None


@dataclass(frozen=True)
class ReportingLine:
    org_id: str
    line: Line


@dataclass(frozen=True)
class Link:
    """What the hierarchy rules need to know of another organization."""

    id: str
    scope: Scope
    parent_id: str | None = None
    status: Status = Status.active


# --- the aggregate -----------------------------------------------------------------------------

# Fields a client may set; the rest are derived or owned by the registry.
EDITABLE_FIELDS = (
    "kind",
    "names",
    "acronym",
    "country",
    "parent_id",
    "iati_identifier",
    "iati_org_type",
    "website",
    "reporting_lines",
    "designations",
)
# State that changes only through the aggregate's own bookkeeping.
_BOOKKEEPING = frozenset({"version", "updated_at", "created_at"})


@dataclass
class Organization(VersionedAggregate):
    """An organization; its events carry `snapshot()` (never its contacts).

    The dataclass fields are the one field list: the codec derives the event/response state and
    the table row from them.
    """

    TOPIC: ClassVar[str] = TOPIC
    AGGREGATE_TYPE: ClassVar[str] = AGGREGATE_TYPE

    id: str
    kind: Kind
    names: Names
    scope: Scope
    iati_org_type: int
    created_at: datetime
    updated_at: datetime
    acronym: str | None = None
    country: str | None = None
    parent_id: str | None = None
    ministry_id: str | None = None
    iati_identifier: str | None = None
    website: str | None = None
    reporting_lines: tuple[ReportingLine, ...] = ()
    designations: frozenset[Designation] = frozenset()
    status: Status = Status.active
    source_key: str | None = None
    version: int = 1
    events: list[Any] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def register(
        cls,
        *,
        id: str,
        fields: Mapping[str, Any],
        home_countries: Sequence[str],
        ancestors: Sequence[Link],
        now: datetime,
        source_key: str | None = None,
    ) -> Organization:
        """A new organization; `ancestors`: its parent and the parent's ancestors, nearest first."""
        org = cls(
            id=id,
            kind=_kind(fields.get("kind")),
            names=Names(),
            scope=Scope.international,
            iati_org_type=90,
            created_at=now,
            updated_at=now,
            source_key=source_key,
        )
        org._apply(fields, home_countries, ancestors)
        org.record("created", sorted(fields), now, bump=False)
        return org

    def revise(
        self,
        changes: Mapping[str, Any],
        *,
        home_countries: Sequence[str],
        ancestors: Sequence[Link],
        now: datetime,
    ) -> list[str]:
        """Apply a partial change; returns the names of the fields that really changed.

        `ancestors` is the parent it will have (the new one when `parent_id` changes) and that
        parent's ancestors, nearest first.
        """
        if self.status is Status.archived:
            raise OrganizationArchived(
                "An archived organization cannot be changed; restore it first."
            )
        before = self.snapshot()
        trial = replace(self, events=[])
        trial._apply(changes, home_countries, ancestors, partial=True)
        after = trial.snapshot()
        changed = sorted(k for k in after if after[k] != before[k] and k not in _BOOKKEEPING)
        if not changed:
            return []
        for name, _ in state_fields(Organization):
            setattr(self, name, getattr(trial, name))
        if "parent_id" in changed:
            name = "moved"
        elif "designations" in changed:
            name = "designated"
        else:
            name = "updated"
        self.record(name, changed, now)
        return changed

    def rehome(self, ancestors: Sequence[Link], now: datetime) -> bool:
        """A move above this organization may change its ministry; True if it did."""
        ministry_id = ministry_of(self.id, self.scope, ancestors)
        if ministry_id == self.ministry_id:
            return False
        self.ministry_id = ministry_id
        self.record("updated", ("ministry_id",), now)
        return True

    def archive(self, now: datetime) -> None:
        if self.status is Status.archived:
            raise AlreadyInStatus("The organization is already archived.")
        self.status = Status.archived
        self.record("archived", ("status",), now)

    def restore(self, now: datetime) -> None:
        if self.status is Status.active:
            raise AlreadyInStatus("The organization is not archived.")
        self.status = Status.active
        self.record("restored", ("status",), now)

    @property
    def link(self) -> Link:
        return Link(self.id, self.scope, self.parent_id, self.status)

    # -- internals --

    def _apply(
        self,
        fields: Mapping[str, Any],
        home_countries: Sequence[str],
        ancestors: Sequence[Link],
        *,
        partial: bool = False,
    ) -> None:
        unknown = set(fields) - set(EDITABLE_FIELDS)
        if unknown:
            name = sorted(unknown)[0]
            raise _invalid(name, f"{name} cannot be set by a client.")
        if "kind" in fields:
            self.kind = _kind(fields["kind"])
        if "names" in fields:
            self.names = _names(fields["names"], self.names if partial else Names())
        if not (self.names.ar or self.names.en):
            raise _invalid("names", "An Arabic or an English name is required.")
        if "acronym" in fields:
            self.acronym = _text(fields["acronym"], "acronym", ACRONYM_MAX)
        if "country" in fields:
            self.country = _country(fields["country"])
        if "iati_identifier" in fields:
            self.iati_identifier = _iati_identifier(fields["iati_identifier"])
        if "website" in fields:
            self.website = _text(fields["website"], "website", 2048)
        if "reporting_lines" in fields:
            self.reporting_lines = _reporting_lines(fields["reporting_lines"] or (), self.id)
        if "designations" in fields:
            try:
                self.designations = frozenset(Designation(d) for d in fields["designations"] or ())
            except ValueError as exc:
                raise _invalid("designations", "unknown designation.") from exc
        self.scope = derive_scope(self.kind, self.country, home_countries)
        given_type = fields.get("iati_org_type")
        if given_type is not None:
            if given_type not in IATI_ORG_TYPES:
                raise _invalid("iati_org_type", f"{given_type} is not an IATI OrganisationType.")
            self.iati_org_type = int(given_type)
        elif not partial or {"kind", "country", "iati_org_type"} & set(fields):
            self.iati_org_type = derive_iati_org_type(self.kind, self.country, home_countries)
        if "parent_id" in fields:
            self.parent_id = fields["parent_id"]
            if self.parent_id is not None:
                _check_parent(self.id, self.parent_id, ancestors)
        self.ministry_id = ministry_of(self.id, self.scope, ancestors)


def _check_parent(own_id: str, parent_id: str, ancestors: Sequence[Link]) -> None:
    """The parent exists (it heads `ancestors`), is active, and is not the organization itself
    or one of its descendants (a loop in the hierarchy)."""
    if parent_id == own_id or any(a.id == own_id for a in ancestors):
        raise HierarchyCycle(
            "The organization cannot be placed under itself or one of its descendants.",
            [{"field": "parent_id", "message": "would create a cycle"}],
        )
    if not ancestors or ancestors[0].id != parent_id:
        raise InvalidReference(
            f"No organization {parent_id} to be the parent.",
            [{"field": "parent_id", "message": f"No organization {parent_id} to be the parent."}],
        )
    if ancestors[0].status is Status.archived:
        raise InvalidReference(
            "The parent organization is archived.",
            [{"field": "parent_id", "message": "The parent organization is archived."}],
        )


def ministry_of(org_id: str, scope: Scope, ancestors: Sequence[Link]) -> str | None:
    """The topmost national organization in the unbroken national chain from `org_id` up.

    A ministry is its own ministry; an international body has none; a national body under an
    international parent (an odd case) is its own ministry.
    """
    if scope is not Scope.national:
        return None
    top = org_id
    for ancestor in ancestors:
        if ancestor.scope is not Scope.national:
            break
        top = ancestor.id
    return top


def _kind(value: Any) -> Kind:
    if value is None or value == "":
        raise _invalid("kind", "kind is required.")
    try:
        return Kind(value)
    except ValueError as exc:
        raise _invalid("kind", f"unknown kind {value!r}.") from exc


def _names(value: Any, current: Names) -> Names:
    if value is None:
        return Names()
    if not isinstance(value, Mapping):
        raise _invalid("names", "names must be an object with ar and/or en.")
    ar = _text(value["ar"], "names.ar", NAME_MAX) if "ar" in value else current.ar
    en = _text(value["en"], "names.en", NAME_MAX) if "en" in value else current.en
    return Names(ar=ar, en=en)


def _text(value: Any, field_name: str, max_length: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(field_name, f"{field_name} must be text.")
    value = value.strip()
    if len(value) > max_length:
        raise _invalid(field_name, f"{field_name} is longer than {max_length} characters.")
    return value or None


def _country(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not is_country(value.strip().upper()):
        raise _invalid("country", f"{value!r} is not an ISO 3166-1 alpha-2 country code.")
    return value.strip().upper()


def _iati_identifier(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not IATI_IDENTIFIER.match(value.strip()):
        raise _invalid(
            "iati_identifier",
            f"{value!r} is not an IATI organisation identifier (PREFIX-ID, e.g. XM-DAC-41304).",
        )
    return value.strip()


def _reporting_lines(value: Iterable[Any], own_id: str) -> tuple[ReportingLine, ...]:
    lines: list[ReportingLine] = []
    for item in value:
        if isinstance(item, ReportingLine):
            rl = item
        else:
            try:
                rl = ReportingLine(str(item["org_id"]), Line(item["line"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise _invalid(
                    "reporting_lines", "each reporting line needs org_id and line."
                ) from exc
        if rl.org_id == own_id:
            raise _invalid("reporting_lines", "an organization cannot report to itself.")
        if rl not in lines:
            lines.append(rl)
    return tuple(lines)
