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

    An organization the directory does not know has an empty scope: it covers nothing.
    """

    org_id: str
    ministry_id: str | None = None
    descendants: frozenset[str] = frozenset()
    is_coordinating_body: bool = False

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


def acts_as_coordinator(principal: Principal, scope: OrgScope) -> bool:
    """The coordinator role counts only for staff of a coordinating body (docs/architecture.md)."""
    return principal.has_any(Role.coordinator) and scope.is_coordinating_body


def sees_everything(principal: Principal, scope: OrgScope) -> bool:
    """Coordinators (of a coordinating body) and auditors read every record, restricted or not."""
    return principal.has_any(Role.auditor) or acts_as_coordinator(principal, scope)


def may_write_for(principal: Principal, scope: OrgScope, org_id: str | None) -> bool:
    """An editor writes records owned by their organization or one of its descendants."""
    return principal.has_any(Role.editor) and scope.covers(org_id)
