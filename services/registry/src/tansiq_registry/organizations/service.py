"""Use cases on organizations. Each write is one unit of work: the rows, the events (collected
from the aggregates the repository saw) and the audit entries commit together or not at all."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tansiq_common.auth import OrgScope, Role
from tansiq_common.domain import NotAllowed
from tansiq_common.etag import require_if_match
from tansiq_common.uow import UnitOfWork

from tansiq_registry.organizations.model import (
    InvalidReference,
    Link,
    Organization,
    OrganizationNotFound,
    Scope,
)
from tansiq_registry.organizations.repository import (
    DuplicateIdentifier,
    OrganizationRepository,
    parse_id,
)

ENTITY = "organization"

_RECORD_MOVE = (
    "INSERT INTO organization_moves (org_id, from_parent_id, to_parent_id, moved_at, moved_by, "
    "version) VALUES ($1, $2, $3, $4, $5, $6)"
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class OutsideCountry(NotAllowed):
    slug = "country-boundary"


class DesignationForbidden(NotAllowed):
    slug = "designation-forbidden"


async def load(
    repo: OrganizationRepository, org_id: str, *, for_update: bool = False
) -> Organization:
    org = await repo.get(org_id, for_update=for_update)
    if org is None:
        raise OrganizationNotFound(f"No organization {org_id}.")
    return org


def check_country(scope: OrgScope | None, org: Organization) -> None:
    """A registry administrator of a national organization manages their own country's national
    bodies and international ones, never another country's national bodies. One whose token
    names no organization of the registry (`scope` unknown, or None for the system itself) is a
    platform administrator: any country."""
    if scope is None or not scope.known or not scope.national:
        return
    if org.scope is Scope.national and org.country != scope.country:
        raise OutsideCountry(
            f"Registry administrators of {scope.country} manage {scope.country}'s national "
            "bodies and international ones, not another country's national bodies."
        )


class OrganizationService:
    """Writes on organizations inside a unit of work (an open one, for import and seeding)."""

    def __init__(
        self, uow: UnitOfWork, home_countries: Sequence[str], scope: OrgScope | None = None
    ) -> None:
        self.uow = uow
        self.home_countries = list(home_countries)
        self.scope = scope
        self.repo = OrganizationRepository(uow)

    # -- use cases (each its own transaction) --

    async def create(self, fields: Mapping[str, Any]) -> Organization:
        async with self.uow:
            return await self.register(fields)

    async def update(
        self, org_id: str, changes: Mapping[str, Any], if_match: str | None
    ) -> Organization:
        async with self.uow:
            org = await load(self.repo, org_id, for_update=True)
            require_if_match(if_match, org.version)
            await self.revise(org, changes)
            return org

    async def archive(self, org_id: str, if_match: str | None) -> Organization:
        return await self._set_status(org_id, if_match, archive=True)

    async def restore(self, org_id: str, if_match: str | None) -> Organization:
        return await self._set_status(org_id, if_match, archive=False)

    # -- steps inside an open unit of work --

    async def register(
        self,
        fields: Mapping[str, Any],
        *,
        source_key: str | None = None,
        org_id: str | None = None,
    ) -> Organization:
        repo = self.repo
        fields = _canonical(fields)
        ancestors = await self._parent_chain(repo, fields.get("parent_id"))
        await _check_references(repo, fields)
        org = Organization.register(
            id=org_id or str(uuid.uuid4()),
            fields=fields,
            home_countries=self.home_countries,
            ancestors=ancestors,
            now=utcnow(),
            source_key=source_key,
        )
        check_country(self.scope, org)
        self._check_designation_rights(frozenset(), org)
        await _check_identifier(repo, org)
        await repo.add(org)
        self.uow.audit(f"{ENTITY}.created", ENTITY, org.id, sorted(fields))
        return org

    async def revise(self, org: Organization, changes: Mapping[str, Any]) -> list[str]:
        """Apply `changes` to an organization loaded for update; returns the changed fields."""
        check_country(self.scope, org)
        repo = self.repo
        changes = _canonical(changes)
        parent_id = changes.get("parent_id", org.parent_id)
        ancestors = await self._parent_chain(repo, parent_id, own_id=org.id)
        await _check_references(repo, changes)
        before_parent, before_designations = org.parent_id, org.designations
        changed = org.revise(
            changes, home_countries=self.home_countries, ancestors=ancestors, now=utcnow()
        )
        if not changed:
            return []
        check_country(self.scope, org)
        self._check_designation_rights(before_designations, org)
        await _check_identifier(repo, org)
        await repo.save(org)
        rehomed: list[Organization] = []
        if "parent_id" in changed:
            await self.uow.execute(
                _RECORD_MOVE,
                org.id,
                before_parent,
                org.parent_id,
                org.updated_at,
                self.uow.actor.sub,
                org.version,
            )
        if {"parent_id", "ministry_id", "scope"} & set(changed):
            rehomed = await _rehome_descendants(repo, org, ancestors)
        self.uow.audit(f"{ENTITY}.{_action(changed)}", ENTITY, org.id, changed)
        for each in rehomed:
            self.uow.audit(f"{ENTITY}.rehomed", ENTITY, each.id, ["ministry_id"])
        return changed

    async def _set_status(
        self, org_id: str, if_match: str | None, *, archive: bool
    ) -> Organization:
        async with self.uow:
            repo = self.repo
            org = await load(repo, org_id, for_update=True)
            if if_match is not None:  # optional on actions, honoured when sent
                require_if_match(if_match, org.version)
            check_country(self.scope, org)
            now = utcnow()
            if archive:
                org.archive(now)
            else:
                org.restore(now)
            await repo.save(org)
            action = "archived" if archive else "restored"
            self.uow.audit(f"{ENTITY}.{action}", ENTITY, org.id, ["status"])
            return org

    async def _parent_chain(
        self, repo: OrganizationRepository, parent_id: Any, *, own_id: str | None = None
    ) -> list[Link]:
        """The parent's chain, nearest first; a parent that names nothing is refused here
        (the aggregate checks it is active and not the organization itself or below it)."""
        if parent_id is None or parent_id == own_id:
            return []
        found = await repo.chain(str(parent_id))
        if not found:
            message = f"No organization {parent_id} to be the parent."
            raise InvalidReference(message, [{"field": "parent_id", "message": message}])
        return found

    def _check_designation_rights(self, before: frozenset[Any], org: Organization) -> None:
        if org.designations != before and Role.registry_admin not in self.uow.actor.roles:
            raise DesignationForbidden(
                "Only a registry administrator designates a coordinating body."
            )


async def _check_references(repo: OrganizationRepository, fields: Mapping[str, Any]) -> None:
    lines = fields.get("reporting_lines") or ()
    wanted = [str(item["org_id"]) for item in lines if isinstance(item, Mapping)]
    existing = await repo.existing_ids(wanted)
    missing = [w for w in wanted if parse_id(w) not in existing]
    if missing:
        message = f"No organization {missing[0]} to report to."
        raise InvalidReference(message, [{"field": "reporting_lines", "message": message}])


async def _check_identifier(repo: OrganizationRepository, org: Organization) -> None:
    if org.iati_identifier is None:
        return
    other = await repo.find_by("iati_identifier", org.iati_identifier)
    if other is not None and other.id != org.id:
        raise DuplicateIdentifier(
            f"{org.iati_identifier} already identifies organization {other.id}.",
            extra={"existing_id": other.id},
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


def _action(changed: Sequence[str]) -> str:
    if "parent_id" in changed:
        return "moved"
    if "designations" in changed:
        return "designated"
    return "updated"


async def _rehome_descendants(
    repo: OrganizationRepository, org: Organization, ancestors: Sequence[Link]
) -> list[Organization]:
    """A move or a change of scope can change the ministry of everything below."""
    chains: dict[str, list[Link]] = {org.id: [org.link, *ancestors]}
    changed: list[Organization] = []
    for child, _ in await repo.descendants(org.id):
        parent_chain = chains.get(child.parent_id or "")
        if parent_chain is None:
            continue
        if child.rehome(parent_chain, org.updated_at):
            await repo.save(child)
            changed.append(child)
        chains[child.id] = [child.link, *parent_chain]
    return changed
