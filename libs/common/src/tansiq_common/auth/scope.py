"""Organization scope: which organizations a caller acts for, from the registry's hierarchy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tansiq_common.auth.principal import Principal, Role


@dataclass(frozen=True)
class OrgScope:
    """Where a caller's organization sits in the registry.

    - `descendants` holds the organization itself and every organization below it through
      `parent_id` (the organization is its own descendant at depth 0), so
      `org_id in scope.descendants` is the editor's write rule.
    - `ministry_id` is the topmost national ancestor (a ministry is its own ministry); None when
      the organization is unknown or not national.
    - `is_coordinating_body`: the organization or one of its ancestors carries the
      `coordinating_body` designation, i.e. its staff are a coordinating body's staff.

    An organization the directory does not know, or an archived one, has an empty scope: it
    covers nothing, is no coordinating body and has no country (an archived organization confers
    nothing).
    """

    org_id: str
    ministry_id: str | None = None
    descendants: frozenset[str] = frozenset()
    is_coordinating_body: bool = False
    # The organization's country (ISO 3166-1 alpha-2), and whether it is one of that country's
    # own public bodies (`scope: national` in the registry): the country boundary
    # (docs/architecture.md).
    country: str | None = None
    national: bool = False

    @classmethod
    def empty(cls, org_id: str) -> OrgScope:
        return cls(org_id=org_id)

    @property
    def known(self) -> bool:
        return bool(self.descendants)

    def covers(self, org_id: str | None) -> bool:
        return org_id is not None and org_id in self.descendants


class OrganizationDirectory(Protocol):
    """Source of organization scopes: the registry's own table, or a replica elsewhere."""

    async def scope_of(self, org_id: str) -> OrgScope: ...


def home_country(scope: OrgScope) -> str | None:
    """The country whose records a caller reads in full: that of their national organization."""
    return scope.country if scope.national else None


def acts_as_coordinator(principal: Principal, scope: OrgScope) -> bool:
    """The coordinator role counts only for staff of a coordinating body (docs/architecture.md)."""
    return principal.has_any(Role.coordinator) and scope.is_coordinating_body


def sees_everything(principal: Principal, scope: OrgScope) -> bool:
    """Coordinators (of a coordinating body) and auditors read every record, restricted or not,
    within `reads_country(...)`: their own country's, or every country for a global auditor."""
    return principal.has_any(Role.auditor) or acts_as_coordinator(principal, scope)


# A country code no record carries: the boundary of one whose organization has no country.
NO_COUNTRY = ""


def reads_country(principal: Principal, scope: OrgScope) -> str | None:
    """The country boundary of one who sees everything (`sees_everything`): a coordinator reads
    their own country's records, an auditor of an organization the registry knows that
    organization's country's; an auditor whose token names no organization of the registry is a
    global auditor (None: no boundary), as a registry administrator without one is a platform
    administrator."""
    if acts_as_coordinator(principal, scope) or scope.known:
        return scope.country or NO_COUNTRY
    return None


def reads_audit(principal: Principal, scope: OrgScope) -> bool:
    """Audit logs: auditors, and coordinators of a coordinating body; no one else."""
    return principal.has_any(Role.auditor) or acts_as_coordinator(principal, scope)


def reads_personal_data(principal: Principal, scope: OrgScope) -> bool:
    """Focal points: callers of a known, active, national organization, coordinators (of a
    coordinating body) and auditors."""
    return (scope.known and scope.national) or sees_everything(principal, scope)


def may_write_for(principal: Principal, scope: OrgScope, org_id: str | None) -> bool:
    """An editor writes records owned by their organization or one of its descendants."""
    return principal.has_any(Role.editor) and scope.covers(org_id)
