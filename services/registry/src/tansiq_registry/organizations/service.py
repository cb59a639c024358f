"""Use cases on organizations. Each write is one unit of work: the rows, the events (through
`uow.track`) and the audit entries commit together or not at all."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from tansiq_common.etag import require_if_match
from tansiq_common.problems import Conflict, Forbidden, NotFound, UnprocessableEntity
from tansiq_common.uow import UnitOfWork

from tansiq_registry.organizations.model import (
    AlreadyInStatus,
    HierarchyCycle,
    InvalidOrganization,
    Link,
    Organization,
    OrganizationError,
    Status,
)
from tansiq_registry.organizations.repository import OrganizationRepository, StaleVersion, parse_id
from tansiq_registry.organizations.tables import organization_moves

ENTITY = "organization"
REGISTRY_ADMIN = "registry_admin"

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _field_problem(field: str, message: str) -> UnprocessableEntity:
    return UnprocessableEntity(
        message, slug="validation-error", errors=[{"field": field, "message": message}]
    )


def domain(call: Callable[[], T]) -> T:
    """Run a domain operation, answering its rule violations as problems."""
    try:
        return call()
    except HierarchyCycle as exc:
        raise Conflict(exc.message, slug="hierarchy-cycle", errors=exc.errors) from None
    except AlreadyInStatus as exc:
        raise Conflict(exc.message, slug="status-conflict") from None
    except (InvalidOrganization, OrganizationError) as exc:
        raise UnprocessableEntity(exc.message, slug="validation-error", errors=exc.errors) from None


async def load(
    repo: OrganizationRepository, org_id: str, *, for_update: bool = False
) -> Organization:
    org = await repo.get(org_id, for_update=for_update)
    if org is None:
        raise NotFound(f"No organization {org_id}.", slug="organization-not-found")
    return org


async def _parent_chain(repo: OrganizationRepository, parent_id: Any) -> list[Link]:
    if parent_id is None:
        return []
    canonical = parse_id(str(parent_id))
    chain = await repo.chain(canonical) if canonical else []
    if not chain:
        raise _field_problem("parent_id", f"No organization {parent_id} to be the parent.")
    parent = await repo.get(chain[0].id)
    if parent is not None and parent.status is Status.archived:
        raise _field_problem("parent_id", "The parent organization is archived.")
    return chain


async def _check_references(repo: OrganizationRepository, fields: Mapping[str, Any]) -> None:
    lines = fields.get("reporting_lines") or ()
    wanted = [str(item["org_id"]) for item in lines if isinstance(item, Mapping)]
    existing = await repo.existing_ids(wanted)
    missing = [w for w in wanted if parse_id(w) not in existing]
    if missing:
        raise _field_problem("reporting_lines", f"No organization {missing[0]} to report to.")


async def _check_identifier(repo: OrganizationRepository, org: Organization) -> None:
    if org.iati_identifier is None:
        return
    other = await repo.find_by("iati_identifier", org.iati_identifier)
    if other is not None and other.id != org.id:
        raise Conflict(
            f"{org.iati_identifier} already identifies organization {other.id}.",
            slug="duplicate-identifier",
            extra={"existing_id": other.id},
        )


def _check_designation_rights(uow: UnitOfWork, before: frozenset[Any], org: Organization) -> None:
    if org.designations != before and REGISTRY_ADMIN not in uow.actor.roles:
        raise Forbidden(
            "Only a registry administrator designates a coordinating body.",
            slug="designation-forbidden",
        )


def _canonical(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Ids as the registry spells them, so equal ids compare equal."""
    out = dict(fields)
    if out.get("parent_id") is not None:
        out["parent_id"] = parse_id(str(out["parent_id"])) or str(out["parent_id"])
    if out.get("reporting_lines"):
        out["reporting_lines"] = [
            {**item, "org_id": parse_id(str(item["org_id"])) or str(item["org_id"])}
            if isinstance(item, Mapping)
            else item
            for item in out["reporting_lines"]
        ]
    return out


async def _write(call: Callable[[], Any]) -> Any:
    try:
        return await call()
    except IntegrityError as exc:
        # A concurrent writer won the race the pre-checks look for.
        if "iati_identifier" in str(exc.orig):
            raise Conflict(
                "The IATI identifier is already used.", slug="duplicate-identifier"
            ) from None
        if "source_key" in str(exc.orig):
            raise Conflict("The source key is already used.", slug="duplicate-source-key") from None
        raise


# --- inside an open unit of work (also used by import and seeding) -----------------------------


async def register_in(
    uow: UnitOfWork,
    fields: Mapping[str, Any],
    *,
    home_countries: Sequence[str],
    source_key: str | None = None,
    org_id: str | None = None,
) -> Organization:
    repo = OrganizationRepository(uow.session)
    fields = _canonical(fields)
    ancestors = await _parent_chain(repo, fields.get("parent_id"))
    await _check_references(repo, fields)
    org = domain(
        lambda: Organization.register(
            id=org_id or str(uuid.uuid4()),
            fields=fields,
            home_countries=home_countries,
            ancestors=ancestors,
            now=utcnow(),
            source_key=source_key,
        )
    )
    _check_designation_rights(uow, frozenset(), org)
    await _check_identifier(repo, org)
    await _write(lambda: repo.add(org))
    uow.track(org)
    uow.audit(f"{ENTITY}.created", ENTITY, org.id, sorted(fields))
    return org


async def revise_in(
    uow: UnitOfWork,
    org: Organization,
    changes: Mapping[str, Any],
    *,
    home_countries: Sequence[str],
) -> list[str]:
    """Apply `changes` to a loaded (and locked) organization; returns the changed fields."""
    if org.status is Status.archived:
        raise Conflict(
            "An archived organization cannot be changed; restore it first.",
            slug="organization-archived",
        )
    repo = OrganizationRepository(uow.session)
    changes = _canonical(changes)
    parent_id = changes.get("parent_id", org.parent_id)
    if "parent_id" in changes and parent_id == org.id:
        domain(
            lambda: _raise(
                HierarchyCycle(
                    "An organization cannot be its own parent.",
                    [{"field": "parent_id", "message": "would create a cycle"}],
                )
            )
        )
    ancestors = await _parent_chain(repo, parent_id)
    await _check_references(repo, changes)
    loaded_version, before_parent, before_designations = (
        org.version,
        org.parent_id,
        org.designations,
    )
    changed = domain(
        lambda: org.revise(
            changes, home_countries=home_countries, ancestors=ancestors, now=utcnow()
        )
    )
    if not changed:
        return []
    _check_designation_rights(uow, before_designations, org)
    await _check_identifier(repo, org)
    await _save(repo, org, loaded_version)
    touched = [org]
    if "parent_id" in changed:
        await uow.session.execute(
            sa.insert(organization_moves).values(
                org_id=org.id,
                from_parent_id=before_parent,
                to_parent_id=org.parent_id,
                moved_at=org.updated_at,
                moved_by=uow.actor.sub,
                version=org.version,
            )
        )
    if {"parent_id", "ministry_id", "scope"} & set(changed):
        touched += await _rehome_descendants(repo, org, ancestors)
    for each in touched:
        uow.track(each)
    uow.audit(f"{ENTITY}.{_action(changed)}", ENTITY, org.id, changed)
    for each in touched[1:]:
        uow.audit(f"{ENTITY}.rehomed", ENTITY, each.id, ["ministry_id"])
    return changed


def _raise(exc: Exception) -> None:
    raise exc


def _action(changed: Sequence[str]) -> str:
    if "parent_id" in changed:
        return "moved"
    if "designations" in changed:
        return "designated"
    return "updated"


async def _save(repo: OrganizationRepository, org: Organization, loaded_version: int) -> None:
    try:
        await _write(lambda: repo.save(org, loaded_version))
    except StaleVersion:
        raise Conflict(
            "The organization changed meanwhile; retry.", slug="concurrent-change"
        ) from None


async def _rehome_descendants(
    repo: OrganizationRepository, org: Organization, ancestors: Sequence[Link]
) -> list[Organization]:
    """A move or a change of scope can change the ministry of everything below."""
    chains: dict[str, list[Link]] = {org.id: [org.link, *ancestors]}
    changed: list[Organization] = []
    for child, _ in await repo.descendants(org.id, for_update=True):
        parent_chain = chains.get(child.parent_id or "")
        if parent_chain is None:
            continue
        loaded = child.version
        if child.rehome(parent_chain, org.updated_at):
            await _save(repo, child, loaded)
            changed.append(child)
        chains[child.id] = [child.link, *parent_chain]
    return changed


# --- use cases ---------------------------------------------------------------------------------


class OrganizationService:
    def __init__(self, uow: UnitOfWork, home_countries: Sequence[str]) -> None:
        self.uow = uow
        self.home_countries = list(home_countries)

    async def create(self, fields: Mapping[str, Any]) -> Organization:
        async with self.uow:
            return await register_in(self.uow, fields, home_countries=self.home_countries)

    async def update(
        self, org_id: str, changes: Mapping[str, Any], if_match: str | None
    ) -> Organization:
        async with self.uow:
            repo = OrganizationRepository(self.uow.session)
            org = await load(repo, org_id, for_update=True)
            require_if_match(if_match, org.version)
            await revise_in(self.uow, org, changes, home_countries=self.home_countries)
            return org

    async def archive(self, org_id: str, if_match: str | None) -> Organization:
        return await self._status(org_id, if_match, archive=True)

    async def restore(self, org_id: str, if_match: str | None) -> Organization:
        return await self._status(org_id, if_match, archive=False)

    async def _status(self, org_id: str, if_match: str | None, *, archive: bool) -> Organization:
        async with self.uow:
            repo = OrganizationRepository(self.uow.session)
            org = await load(repo, org_id, for_update=True)
            if if_match is not None:  # optional on actions, honoured when sent
                require_if_match(if_match, org.version)
            loaded = org.version
            now = utcnow()
            domain(lambda: org.archive(now) if archive else org.restore(now))
            await _save(repo, org, loaded)
            self.uow.track(org)
            action = "archived" if archive else "restored"
            self.uow.audit(f"{ENTITY}.{action}", ENTITY, org.id, ["status"])
            return org
