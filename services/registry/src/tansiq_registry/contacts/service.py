"""Use cases on focal points. Personal data: who may read them is checked here, every read is
audited, and audit rows name changed fields only, never their values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tansiq_common.auth import OrgScope, Principal, Role, reads_personal_data
from tansiq_common.domain import NotAllowed, NotFoundError
from tansiq_common.etag import require_if_match
from tansiq_common.repository import parse_id
from tansiq_common.uow import UnitOfWork

from tansiq_registry.contacts.repository import ContactRepository
from tansiq_registry.organizations.model import OrganizationNotFound
from tansiq_registry.organizations.repository import OrganizationRepository
from tansiq_registry.organizations.service import utcnow

ENTITY = "organization_contact"


class ContactNotFound(NotFoundError):
    slug = "contact-not-found"


class ContactsForbidden(NotAllowed):
    slug = "contacts-forbidden"


class PersonalDataForbidden(NotAllowed):
    slug = "personal-data-forbidden"


class ContactService:
    def __init__(self, uow: UnitOfWork, principal: Principal, scope: OrgScope) -> None:
        self.uow = uow
        self.principal = principal
        self.scope = scope

    async def list(self, org_id: str) -> list[dict[str, Any]]:
        async with self.uow:
            org_id = await self._organization(org_id)
            self._ensure_may_read()
            found = await ContactRepository(self.uow).list_for(org_id)
            for contact in found:
                self.uow.audit(f"{ENTITY}.read", ENTITY, contact["id"])
            return found

    async def get(self, org_id: str, contact_id: str) -> dict[str, Any]:
        async with self.uow:
            org_id = await self._organization(org_id)
            self._ensure_may_read()
            contact = await ContactRepository(self.uow).get(org_id, _id(contact_id))
            if contact is None:
                raise ContactNotFound("No such contact.")
            self.uow.audit(f"{ENTITY}.read", ENTITY, contact["id"])
            return contact

    async def add(self, org_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
        async with self.uow:
            org_id = await self._managed(org_id)
            created = await ContactRepository(self.uow).add(org_id, data, utcnow())
            self.uow.audit(f"{ENTITY}.created", ENTITY, created["id"], sorted(data))
            return created

    async def replace(
        self, org_id: str, contact_id: str, data: Mapping[str, Any], if_match: str | None
    ) -> dict[str, Any]:
        """Replace a focal point's details; the caller must name the version it read."""
        async with self.uow:
            org_id = await self._managed(org_id)
            repo = ContactRepository(self.uow)
            # Locked so two editors with the same ETag cannot both pass the check below.
            current = await repo.get(org_id, _id(contact_id), for_update=True)
            if current is None:
                raise ContactNotFound("No such contact.")
            require_if_match(if_match, current["version"])
            updated = await repo.replace(current["id"], data, utcnow())
            self.uow.audit(f"{ENTITY}.updated", ENTITY, updated["id"], sorted(data))
            return updated

    async def remove(self, org_id: str, contact_id: str) -> None:
        """Personal data is deleted, not archived, when a focal point leaves."""
        async with self.uow:
            org_id = await self._managed(org_id)
            canonical = _id(contact_id)
            if not await ContactRepository(self.uow).delete(org_id, canonical):
                raise ContactNotFound("No such contact.")
            # The canonical id, so `GET /v1/audit?entity_id=<id>` finds it however it was spelt.
            self.uow.audit(f"{ENTITY}.deleted", ENTITY, canonical)

    # -- rules --

    async def _organization(self, org_id: str) -> str:
        """The canonical id of an organization that exists (archived ones too)."""
        canonical = parse_id(org_id)
        if canonical is None or not await OrganizationRepository(self.uow).existing_ids(
            [canonical]
        ):
            raise OrganizationNotFound(f"No organization {org_id}.")
        return canonical

    def _ensure_may_read(self) -> None:
        if not reads_personal_data(self.principal, self.scope):
            raise PersonalDataForbidden(
                "Focal points are readable by staff of an active national organization, "
                "coordinators and auditors."
            )

    async def _managed(self, org_id: str) -> str:
        """Registry administrators manage every focal point; editors those of their own
        organization and the organizations below it (an archived organization confers nothing)."""
        canonical = await self._organization(org_id)
        p = self.principal
        if p.has_any(Role.registry_admin) or (
            p.has_any(Role.editor) and self.scope.covers(canonical)
        ):
            return canonical
        raise ContactsForbidden(
            "Editors manage the contacts of their own organization and those below it."
        )


def _id(value: str) -> str:
    canonical = parse_id(value)
    if canonical is None:
        raise ContactNotFound("No such contact.")
    return canonical
