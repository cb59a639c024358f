"""Focal points of an organization: personal data.

Kept in their own table; never in events, and audit rows name the changed fields only.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from tansiq_common.auth import OrgScope, Role
from tansiq_common.etag import require_if_match
from tansiq_common.problems import Forbidden, NotFound
from tansiq_common.uow import UnitOfWork

from tansiq_registry.organizations.repository import OrganizationRepository, parse_id
from tansiq_registry.organizations.service import load, utcnow
from tansiq_registry.organizations.tables import contacts

ENTITY = "organization_contact"


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    title: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, max_length=40, pattern=r"^\+?[0-9 ()./-]{3,40}$")


class ContactOut(BaseModel):
    id: str
    org_id: str
    name: str
    title: str | None
    email: str | None
    phone: str | None
    version: int


def _out(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "org_id": str(row.org_id),
        "name": row.name,
        "title": row.title,
        "email": row.email,
        "phone": row.phone,
        "version": row.version,
    }


async def list_contacts(uow: UnitOfWork, org_id: str) -> list[dict[str, Any]]:
    async with uow:
        org = await load(OrganizationRepository(uow.session), org_id)
        rows = await uow.session.execute(
            sa.select(contacts).where(contacts.c.org_id == org.id).order_by(contacts.c.created_at)
        )
        return [_out(r) for r in rows]


def _ensure_may_manage(uow: UnitOfWork, scope: OrgScope, org_id: str) -> None:
    """Registry administrators manage every focal point; editors those of their own
    organization and the organizations below it."""
    roles = uow.actor.roles
    if Role.registry_admin in roles or (Role.editor in roles and scope.covers(org_id)):
        return
    raise Forbidden(
        "Editors manage the contacts of their own organization and those below it.",
        slug="contacts-forbidden",
    )


async def _load_managed(uow: UnitOfWork, scope: OrgScope, org_id: str) -> Any:
    org = await load(OrganizationRepository(uow.session), org_id)
    _ensure_may_manage(uow, scope, org.id)
    return org


async def add_contact(
    uow: UnitOfWork, scope: OrgScope, org_id: str, data: Mapping[str, Any]
) -> dict[str, Any]:
    async with uow:
        org = await _load_managed(uow, scope, org_id)
        now = utcnow()
        row = await uow.session.execute(
            sa.insert(contacts)
            .values(
                id=str(uuid.uuid4()),
                org_id=org.id,
                version=1,
                created_at=now,
                updated_at=now,
                **data,
            )
            .returning(contacts)
        )
        created = _out(row.one())
        uow.audit(f"{ENTITY}.created", ENTITY, created["id"], sorted(data))
        return created


async def get_contact(uow: UnitOfWork, org_id: str, contact_id: str) -> dict[str, Any]:
    async with uow:
        org = await load(OrganizationRepository(uow.session), org_id)
        row = await uow.session.execute(
            sa.select(contacts).where(
                contacts.c.id == _contact_id(contact_id), contacts.c.org_id == org.id
            )
        )
        found = row.first()
        if found is None:
            raise NotFound("No such contact.", slug="contact-not-found")
        return _out(found)


async def replace_contact(
    uow: UnitOfWork,
    scope: OrgScope,
    org_id: str,
    contact_id: str,
    data: Mapping[str, Any],
    if_match: str | None,
) -> dict[str, Any]:
    """Replace a focal point's details; the caller must name the version it read (If-Match)."""
    async with uow:
        org = await _load_managed(uow, scope, org_id)
        # Locked so two editors with the same ETag cannot both pass the check below.
        current = await uow.session.execute(
            sa.select(contacts.c.id, contacts.c.version)
            .where(contacts.c.id == _contact_id(contact_id), contacts.c.org_id == org.id)
            .with_for_update()
        )
        found = current.first()
        if found is None:
            raise NotFound("No such contact.", slug="contact-not-found")
        require_if_match(if_match, found.version)
        row = await uow.session.execute(
            sa.update(contacts)
            .where(contacts.c.id == found.id)
            .values(
                updated_at=utcnow(),
                version=contacts.c.version + 1,
                **{k: data.get(k) for k in ("name", "title", "email", "phone")},
            )
            .returning(contacts)
        )
        updated = row.one()
        uow.audit(f"{ENTITY}.updated", ENTITY, str(updated.id), sorted(data))
        return _out(updated)


async def remove_contact(uow: UnitOfWork, scope: OrgScope, org_id: str, contact_id: str) -> None:
    """Personal data is deleted, not archived, when a focal point leaves."""
    async with uow:
        org = await _load_managed(uow, scope, org_id)
        row = await uow.session.execute(
            sa.delete(contacts)
            .where(contacts.c.id == _contact_id(contact_id), contacts.c.org_id == org.id)
            .returning(contacts.c.id)
        )
        if row.first() is None:
            raise NotFound("No such contact.", slug="contact-not-found")
        uow.audit(f"{ENTITY}.deleted", ENTITY, contact_id, [])


def _contact_id(value: str) -> str:
    canonical = parse_id(value)
    if canonical is None:
        raise NotFound("No such contact.", slug="contact-not-found")
    return canonical
