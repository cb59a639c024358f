"""Who is calling: the roles (docs/architecture.md) and the principal a verified token names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    viewer = "viewer"  # read
    editor = "editor"  # write records of one's own organization and its descendants
    coordinator = "coordinator"  # a coordinating body's staff: read all, clear, manage findings
    registry_admin = "registry_admin"  # manage organizations
    integration = "integration"  # push engagements for the token's organization
    auditor = "auditor"  # read everything including audit logs, write nothing


ALL_ROLES: frozenset[Role] = frozenset(Role)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: token claims `sub`, `org` and `roles`.

    Satisfies `tansiq_common.uow.Actor`, so it is what a unit of work records in the audit log.
    Roles the token carries that Tansiq does not know are kept but grant nothing.
    """

    sub: str
    org: str
    roles: frozenset[str]
    # Every claim of the verified token (`exp`, a service's own such as `orgs`), read once at
    # verification; not part of who the caller is (equality, hash).
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def has_any(self, *roles: Role | str) -> bool:
        return any(str(role) in self.roles for role in roles)
