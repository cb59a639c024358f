"""Who may do what to an agreement (docs/architecture.md, access model). Pure rules over the
caller's principal and organization scope; the service applies them."""

from __future__ import annotations

from tansiq_common.auth import OrgScope, Principal, acts_as_coordinator, may_write_for
from tansiq_common.domain import NotAllowed


class NotOwnersEditor(NotAllowed):
    slug = "not-owner-editor"


class NotClearingCoordinator(NotAllowed):
    slug = "not-clearing-coordinator"


def may_edit(principal: Principal, scope: OrgScope, owner_org_id: str) -> bool:
    """An editor of the owner or of an organization above it (its ministry, say)."""
    return may_write_for(principal, scope, owner_org_id)


def may_decide_clearance(principal: Principal, scope: OrgScope, owner_country: str | None) -> bool:
    """A coordinator of a coordinating body of the owner's country; no one else, and no
    coordinating body decides for another country's agreements."""
    return (
        acts_as_coordinator(principal, scope)
        and owner_country is not None
        and scope.country == owner_country
    )


def check_may_edit(principal: Principal | None, scope: OrgScope | None, owner_org_id: str) -> None:
    """Raises unless the caller may write for the owner; `None` is the system itself (seeding,
    the expiry job), which may."""
    if principal is None or scope is None:
        return
    if not may_edit(principal, scope, owner_org_id):
        raise NotOwnersEditor(
            f"Only editors of the owner ({owner_org_id}) or of an organization above it may "
            "change this agreement."
        )


def check_may_decide_clearance(
    principal: Principal | None, scope: OrgScope | None, owner_country: str | None
) -> None:
    if principal is None or scope is None:
        return
    if not may_decide_clearance(principal, scope, owner_country):
        raise NotClearingCoordinator(
            "Clearance is decided by a coordinator of a coordinating body of the owner's "
            f"country ({owner_country or 'unknown'})."
        )
