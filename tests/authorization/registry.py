"""Who may call each registry route, as data (see model.py).

Callers: the coordinator belongs to Qatar's coordinating body (the ICD); every other role to
Qatar's Ministry of Education, so the registry administrator is a national one. Targets: `own`
is the caller's organization (or a new body under it), `same_country` another Qatari ministry's,
`other_country` a Syrian body's.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from tansiq_common.auth import Role
from tansiq_common.uow import SystemActor, UnitOfWork
from tansiq_registry.contacts.repository import ContactRepository
from tansiq_registry.organizations.demo import seed
from tansiq_registry.organizations.service import OrganizationService, utcnow

from .model import GOVERNMENT_READERS, READERS, Call, Route, Target

ADMIN = frozenset({Role.registry_admin})
CONTACT_WRITERS = frozenset({Role.registry_admin, Role.editor})
EDITOR_OWN_ONLY: dict[Target, int | str] = {
    "same_country": "contacts-forbidden",
    "other_country": "contacts-forbidden",
}
NATIONAL_ADMIN = {"other_country": "country-boundary"}


def _platform(success: int) -> dict[Role, int | str]:
    """A registry administrator whose token names no registered organization is a platform
    administrator: any country, focal points included."""
    return {Role.registry_admin: success}


class World:
    """The demo organizations, and fresh records made for calls that change them."""

    HOMES: ClassVar[dict[Role, str]] = {Role.coordinator: "demo:qa-mofa-icd"}
    HOME = "demo:qa-mehe"
    TARGETS: ClassVar[dict[str, str]] = {
        "same_country": "demo:qa-moph",
        "other_country": "demo:sy-mlae",
    }

    def __init__(self, db: Any, home_countries: list[str]) -> None:
        self.db = db
        self.home_countries = home_countries
        self.ids: dict[str, str] = {}

    async def load(self) -> None:
        report = await seed(self.db, self.home_countries)
        self.ids = report["ids"]

    def org_of(self, role: Role) -> str:
        return self.ids[self.HOMES.get(role, self.HOME)]

    def target(self, role: Role, target: Target) -> str:
        return self.org_of(role) if target == "own" else self.ids[self.TARGETS[target]]

    def country(self, role: Role, target: Target) -> str:
        return "SY" if target == "other_country" else "QA"

    async def fresh(self, role: Role, target: Target, *, archived: bool = False) -> str:
        """A new body under the target organization (so in its country)."""
        uow = UnitOfWork(self.db.sessionmaker, actor=SystemActor())
        service = OrganizationService(uow, self.home_countries)
        async with uow:
            org = await service.register(
                {
                    "kind": "directorate",
                    "names": {"en": f"Unit {uuid.uuid4().hex[:6]}"},
                    "country": self.country(role, target),
                    "parent_id": self.target(role, target),
                }
            )
        if archived:
            await OrganizationService(
                UnitOfWork(self.db.sessionmaker, actor=SystemActor()), self.home_countries
            ).archive(org.id, None)
        return org.id

    async def contact(self, org_id: str) -> str:
        async with UnitOfWork(self.db.sessionmaker) as uow:
            made = await ContactRepository(uow).add(org_id, {"name": "Focal"}, utcnow())
        return str(made["id"])


def _body(role: Role, target: Target, world: World) -> dict[str, Any]:
    return {
        "kind": "agency",
        "names": {"en": f"Agency {uuid.uuid4().hex[:6]}"},
        "country": world.country(role, target),
    }


async def _list(w: World, role: Role, t: Target) -> Call:
    return Call("GET", "/v1/organizations?limit=5")


async def _create(w: World, role: Role, t: Target) -> Call:
    return Call("POST", "/v1/organizations", json=_body(role, t, w))


async def _import(w: World, role: Role, t: Target) -> Call:
    csv = f"source_key,kind,name_en,country\nmatrix:{uuid.uuid4().hex},agency,Imported,QA\n"
    return Call(
        "POST",
        "/v1/organizations/import",
        content=csv.encode(),
        headers={"Content-Type": "text/csv"},
    )


async def _get(w: World, role: Role, t: Target) -> Call:
    return Call("GET", f"/v1/organizations/{w.target(role, t)}")


async def _patch(w: World, role: Role, t: Target) -> Call:
    return Call(
        "PATCH",
        f"/v1/organizations/{await w.fresh(role, t)}",
        json={"acronym": "MX"},
        headers={"If-Match": '"1"', "Content-Type": "application/merge-patch+json"},
    )


async def _archive(w: World, role: Role, t: Target) -> Call:
    return Call("POST", f"/v1/organizations/{await w.fresh(role, t)}/actions/archive")


async def _restore(w: World, role: Role, t: Target) -> Call:
    org = await w.fresh(role, t, archived=True)
    return Call("POST", f"/v1/organizations/{org}/actions/restore")


async def _hierarchy(w: World, role: Role, t: Target) -> Call:
    return Call("GET", f"/v1/organizations/{w.target(role, t)}/hierarchy")


async def _contacts(w: World, role: Role, t: Target) -> Call:
    return Call("GET", f"/v1/organizations/{w.target(role, t)}/contacts")


async def _add_contact(w: World, role: Role, t: Target) -> Call:
    return Call(
        "POST", f"/v1/organizations/{w.target(role, t)}/contacts", json={"name": "Focal point"}
    )


async def _contact(w: World, role: Role, t: Target) -> Call:
    org = w.target(role, t)
    return Call("GET", f"/v1/organizations/{org}/contacts/{await w.contact(org)}")


async def _replace_contact(w: World, role: Role, t: Target) -> Call:
    org = w.target(role, t)
    return Call(
        "PUT",
        f"/v1/organizations/{org}/contacts/{await w.contact(org)}",
        json={"name": "Renamed"},
        headers={"If-Match": '"1"'},
    )


async def _remove_contact(w: World, role: Role, t: Target) -> Call:
    org = w.target(role, t)
    return Call("DELETE", f"/v1/organizations/{org}/contacts/{await w.contact(org)}")


async def _audit(w: World, role: Role, t: Target) -> Call:
    return Call("GET", "/v1/audit?limit=5")


def _own_only(success: int) -> dict[Target, int | str]:
    return {**EDITOR_OWN_ONLY, "own": success}


ROUTES = [
    Route("GET", "/v1/organizations", READERS, _list),
    Route("POST", "/v1/organizations", ADMIN, _create, 201, {Role.registry_admin: NATIONAL_ADMIN},
          foreign=_platform(201)),
    Route("POST", "/v1/organizations/import", ADMIN, _import, foreign=_platform(200)),
    Route("GET", "/v1/organizations/{org_id}", READERS, _get),
    Route("PATCH", "/v1/organizations/{org_id}", ADMIN, _patch, 200,
          {Role.registry_admin: NATIONAL_ADMIN}, foreign=_platform(200)),
    Route("POST", "/v1/organizations/{org_id}/actions/archive", ADMIN, _archive, 200,
          {Role.registry_admin: NATIONAL_ADMIN}, foreign=_platform(200)),
    Route("POST", "/v1/organizations/{org_id}/actions/restore", ADMIN, _restore, 200,
          {Role.registry_admin: NATIONAL_ADMIN}, foreign=_platform(200)),
    Route("GET", "/v1/organizations/{org_id}/hierarchy", READERS, _hierarchy),
    Route("GET", "/v1/organizations/{org_id}/contacts", GOVERNMENT_READERS, _contacts),
    Route("POST", "/v1/organizations/{org_id}/contacts", CONTACT_WRITERS, _add_contact, 201,
          {Role.editor: _own_only(201), Role.registry_admin: {}}, foreign=_platform(201)),
    Route("GET", "/v1/organizations/{org_id}/contacts/{contact_id}", GOVERNMENT_READERS, _contact),
    Route("PUT", "/v1/organizations/{org_id}/contacts/{contact_id}", CONTACT_WRITERS,
          _replace_contact, 200, {Role.editor: _own_only(200), Role.registry_admin: {}},
          foreign=_platform(200)),
    Route("DELETE", "/v1/organizations/{org_id}/contacts/{contact_id}", CONTACT_WRITERS,
          _remove_contact, 204, {Role.editor: _own_only(204), Role.registry_admin: {}},
          foreign=_platform(204)),
    Route("GET", "/v1/audit", frozenset({Role.auditor, Role.coordinator}), _audit),
]  # fmt: skip
