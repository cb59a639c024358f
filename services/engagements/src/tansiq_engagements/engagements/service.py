"""Use cases on engagements. Each write is one unit of work: the row, its events (collected from
the aggregates the repository saw) and the audit entries commit together or not at all.

The same steps serve the API's writes and both ingestion doors (the batch endpoint and the
Kafka topic), so there is one set of rules whoever writes.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from tansiq_common.auth import OrgScope, Principal, may_write_for
from tansiq_common.domain import NotAllowed
from tansiq_common.etag import require_if_match
from tansiq_common.uow import UnitOfWork

from tansiq_engagements.engagements.model import (
    MANUAL,
    ActionItem,
    Engagement,
    EngagementNotFound,
    InvalidSource,
    References,
    check_source,
)
from tansiq_engagements.engagements.repository import (
    DuplicateExternalId,
    EngagementRepository,
    parse_id,
)
from tansiq_engagements.lookups import Lookups

ENTITY = "engagement"
# Ids of ingested engagements are derived from their key: the same item gets the same id through
# either door, on every retry, in every environment.
INGEST_NAMESPACE = uuid.UUID("6f1d4b8e-2c1a-5e7b-9a43-3c0e5d2b7f10")

Outcome = Literal["created", "updated", "unchanged"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def engagement_id_for(source: str, external_id: str | None) -> str:
    if external_id is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(INGEST_NAMESPACE, f"{source}\n{external_id}"))


class OutsideOrganization(NotAllowed):
    slug = "organization-scope"


def audit_entry(
    outcome: Outcome, engagement: Engagement, fields: Any
) -> tuple[str, str, str, list[str]]:
    """(action, entity type, id, changed fields) of an upsert that created or updated
    `engagement` from the item `fields`: what its audit entry records, through either door."""
    if outcome == "created":
        return f"{ENTITY}.created", ENTITY, engagement.id, sorted(fields)
    event = engagement.events[-1]
    return f"{ENTITY}.{event.name}", ENTITY, engagement.id, list(event.changed_fields)


class EngagementService:
    """Writes on engagements, as `principal` (None: the system, e.g. the ingest consumer).

    `leads`: the organizations an integration job may push engagements for (None: any); an
    editor's writes are checked against their scope (`may_write_for`) instead.
    """

    def __init__(
        self,
        uow: UnitOfWork,
        lookups: Lookups,
        *,
        principal: Principal | None = None,
        scope: OrgScope | None = None,
        bearer: str | None = None,
        leads: Collection[str] | None = None,
    ) -> None:
        self.uow = uow
        self.lookups = lookups
        self.principal = principal
        self.scope = scope
        self.bearer = bearer
        self.leads = leads
        self.repo = EngagementRepository(uow)

    # -- use cases (each its own transaction) --

    async def create(self, fields: Mapping[str, Any]) -> Engagement:
        async with self.uow:
            return await self.register(fields)

    async def update(
        self, engagement_id: str, changes: Mapping[str, Any], if_match: str | None
    ) -> Engagement:
        async with self.uow:
            engagement = await self._load(engagement_id)
            require_if_match(if_match, engagement.version)
            self._may_write(engagement.lead_org_id)
            await self._revise(engagement, canonical(changes))
            return engagement

    async def put_report(
        self,
        engagement_id: str,
        text: str,
        attachments: Sequence[Mapping[str, Any]],
        if_match: str | None,
    ) -> tuple[Engagement, bool]:
        """File or replace the report; True when it was filed now for the first time.
        Replacing one needs If-Match (nobody overwrites a report they have not read)."""
        async with self.uow:
            engagement = await self._load(engagement_id)
            if engagement.report is not None or if_match is not None:
                require_if_match(if_match, engagement.version)
            self._may_write(engagement.lead_org_id)
            first = engagement.report is None
            actor = self.uow.actor
            if engagement.submit_report(
                text=text, attachments=attachments, by=actor.sub, by_org=actor.org, now=utcnow()
            ):
                await self.repo.save(engagement)
                action = "reported" if first else "report_revised"
                self.uow.audit(f"{ENTITY}.{action}", ENTITY, engagement.id, ["report"])
            return engagement, first

    async def add_action_item(
        self, engagement_id: str, fields: Mapping[str, Any], if_match: str | None
    ) -> tuple[Engagement, ActionItem]:
        async with self.uow:
            engagement = await self._load(engagement_id)
            if if_match is not None:  # optional when adding, honoured when sent
                require_if_match(if_match, engagement.version)
            self._may_write(engagement.lead_org_id)
            fields = canonical(fields)
            refs = await self.organizations([fields.get("owner_org_id")])
            item = engagement.add_action_item(
                item_id=str(uuid.uuid4()), fields=fields, refs=refs, now=utcnow()
            )
            await self.repo.save(engagement)
            self.uow.audit(
                f"{ENTITY}.action_item_added", ENTITY, engagement.id, {"action_item_id": item.id}
            )
            return engagement, item

    async def update_action_item(
        self,
        engagement_id: str,
        item_id: str,
        changes: Mapping[str, Any],
        if_match: str | None,
    ) -> tuple[Engagement, ActionItem]:
        """The lead's editors change anything; the owner organization's editors change the
        status (they are the ones doing the work)."""
        async with self.uow:
            engagement = await self._load(engagement_id)
            require_if_match(if_match, engagement.version)
            item = engagement.action_item(item_id)
            changes = canonical(changes)
            owner_may = self._writes_for(item.owner_org_id) and set(changes) <= {"status"}
            if not (self._writes_for(engagement.lead_org_id) or owner_may):
                raise OutsideOrganization(
                    "Editors of the lead organization change action items; those of the "
                    "owner organization change only their status."
                )
            refs = await self.organizations([changes.get("owner_org_id")])
            changed = engagement.revise_action_item(item_id, changes, refs=refs, now=utcnow())
            if changed:
                await self.repo.save(engagement)
                self.uow.audit(
                    f"{ENTITY}.action_item_updated",
                    ENTITY,
                    engagement.id,
                    {"action_item_id": item_id, "fields": changed},
                )
            return engagement, engagement.action_item(item_id)

    # -- steps inside an open unit of work --

    async def register(self, fields: Mapping[str, Any]) -> Engagement:
        fields = canonical(fields)
        source, external_id = check_source(
            fields.pop("source", MANUAL), fields.pop("external_id", None)
        )
        if external_id is not None:
            existing = await self.repo.find_by_key(source, external_id)
            if existing is not None:
                raise DuplicateExternalId(
                    f"Engagement {existing} already has source {source} and external_id "
                    f"{external_id}; integration jobs update it through /v1/ingest/engagements.",
                    extra={"existing_id": existing},
                )
        refs = await self._references(fields, None)
        self._may_write(_known(fields.get("lead_org_id"), refs))
        engagement = Engagement.create(
            id=engagement_id_for(source, external_id),
            fields=fields,
            refs=refs,
            now=utcnow(),
            source=source,
            external_id=external_id,
        )
        await self.repo.add(engagement)
        self.uow.audit(f"{ENTITY}.created", ENTITY, engagement.id, sorted(fields))
        return engagement

    async def upsert(self, item: Mapping[str, Any]) -> tuple[Outcome, Engagement]:
        """An ingestion item: create the engagement of its (source, external_id), or bring it
        in line with the item. The item is all its system knows: what it leaves out is reset
        (the report and action items, which no system pushes, stay)."""
        fields, key = ingest_fields(item)
        existing = (await self.repo.by_keys([key])).get(key)
        refs = await self._references(fields, existing)
        outcome, engagement = self.plan_upsert(fields, key, existing, refs)
        if outcome == "created":
            if await self.repo.insert_if_absent(engagement):
                self.audit_outcome(outcome, engagement, fields)
                return outcome, engagement
            # The same item went in through the other door meanwhile: that insert committed,
            # and this push is an update of it.
            existing = (await self.repo.by_keys([key])).get(key)
            if existing is None:
                raise DuplicateExternalId(
                    f"Engagement id {engagement.id} is taken by another record."
                )
            refs = await self._references(fields, existing)
            outcome, engagement = self.plan_upsert(fields, key, existing, refs)
        if outcome == "updated":
            await self.repo.save(engagement)
            self.audit_outcome(outcome, engagement, fields)
        return outcome, engagement

    def plan_upsert(
        self,
        fields: Mapping[str, Any],
        key: tuple[str, str],
        existing: Engagement | None,
        refs: References,
    ) -> tuple[Outcome, Engagement]:
        """The rules of an upsert, with nothing written: the engagement created, or `existing`
        revised in place (raises the broken rule, leaving `existing` as it was)."""
        if existing is None:
            self._may_lead(_known(fields.get("lead_org_id"), refs))
            source, external_id = key
            engagement = Engagement.create(
                id=engagement_id_for(source, external_id),
                fields=fields,
                refs=refs,
                now=utcnow(),
                source=source,
                external_id=external_id,
            )
            return "created", engagement
        self._may_lead(existing.lead_org_id)
        if "lead_org_id" in fields:
            self._may_lead(_known(fields["lead_org_id"], refs))
        changed = existing.revise(fields, refs=refs, now=utcnow())
        return ("updated" if changed else "unchanged"), existing

    def audit_outcome(self, outcome: Outcome, engagement: Engagement, fields: Any) -> None:
        if outcome != "unchanged":
            self.uow.audit(*audit_entry(outcome, engagement, fields))

    async def references_for(
        self, items: Sequence[Mapping[str, Any]], existing: Sequence[Engagement]
    ) -> References:
        """What exists of everything a batch of items (and the engagements they update) names:
        one lookup per kind of record for the whole batch."""
        orgs: list[Any] = []
        agreements: list[str] = []
        related: list[str] = []
        for fields in items:
            orgs.append(fields.get("lead_org_id"))
            orgs += [
                p.get("org_id") for p in fields.get("participants") or () if isinstance(p, Mapping)
            ]
            agreements += [str(a) for a in fields.get("agreement_ids") or ()]
            related += [str(e) for e in fields.get("related_engagement_ids") or ()]
        for engagement in existing:
            orgs += engagement.party_org_ids
        found = await self.organizations(orgs)
        known_agreements = await self.lookups.agreements.find_many(
            self.uow, agreements, bearer=self.bearer
        )
        known_related = await self.repo.existing_visible_ids(related, self.scope, self.principal)
        return References(
            organizations=found.organizations,
            agreement_ids=frozenset(known_agreements),
            engagement_ids=frozenset(known_related),
        )

    async def _revise(self, engagement: Engagement, changes: Mapping[str, Any]) -> list[str]:
        refs = await self._references(changes, engagement)
        if "lead_org_id" in changes:
            self._may_write(_known(changes["lead_org_id"], refs))
        changed = engagement.revise(changes, refs=refs, now=utcnow())
        if changed:
            await self.repo.save(engagement)
            self.uow.audit(f"{ENTITY}.{engagement.events[-1].name}", ENTITY, engagement.id, changed)
        return changed

    async def _load(self, engagement_id: str) -> Engagement:
        engagement = await self.repo.get_visible(engagement_id, self.scope, self.principal)
        if engagement is None:
            raise EngagementNotFound(f"No engagement {engagement_id}.")
        return engagement

    async def _references(
        self, fields: Mapping[str, Any], current: Engagement | None
    ) -> References:
        """What exists of what the engagement names after the change: every organization
        (their ministries and countries are derived), and the links the change adds."""
        lead = fields.get("lead_org_id", current.lead_org_id if current else None)
        if "participants" in fields:
            participants = [
                p.get("org_id") for p in fields["participants"] or () if isinstance(p, Mapping)
            ]
        else:
            participants = [p.org_id for p in current.participants] if current else []
        refs = await self.organizations([lead, *participants])
        kept_agreements = set(current.agreement_ids) if current else set()
        new_agreements = [
            str(a) for a in fields.get("agreement_ids") or () if str(a) not in kept_agreements
        ]
        agreements = await self.lookups.agreements.find_many(
            self.uow, new_agreements, bearer=self.bearer
        )
        kept_related = set(current.related_engagement_ids) if current else set()
        new_related = [
            str(e) for e in fields.get("related_engagement_ids") or () if str(e) not in kept_related
        ]
        related = await self.repo.existing_visible_ids(new_related, self.scope, self.principal)
        return References(
            organizations=refs.organizations,
            agreement_ids=frozenset(agreements),
            engagement_ids=frozenset(related),
        )

    async def organizations(self, ids: Sequence[Any]) -> References:
        """The organizations among `ids` that exist, with what the rules need of them."""
        wanted = [str(i) for i in ids if isinstance(i, str) and i]
        found = await self.lookups.organizations.find_many(self.uow, wanted, bearer=self.bearer)
        return References(organizations=found)

    # -- who may write --

    def _writes_for(self, org_id: str | None) -> bool:
        if self.principal is None or self.scope is None:
            return True  # the system itself
        return may_write_for(self.principal, self.scope, org_id)

    def _may_write(self, org_id: Any) -> None:
        if org_id is None:
            return  # no such organization: the aggregate refuses it
        if not self._writes_for(org_id if isinstance(org_id, str) else None):
            raise OutsideOrganization(
                "Editors write engagements led by their organization or one below it."
            )

    def _may_lead(self, org_id: Any) -> None:
        """An integration job pushes engagements led by the organizations it is for."""
        if org_id is not None and self.leads is not None and org_id not in self.leads:
            raise OutsideOrganization(
                f"This integration token does not push engagements led by {org_id}."
            )


def ingest_fields(item: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[str, str]]:
    """An ingestion item's fields (ids canonical) and its key (source, external_id)."""
    fields = canonical(item)
    source, external_id = check_source(fields.pop("source", None), fields.pop("external_id", None))
    if source == MANUAL or external_id is None:
        message = "Integration jobs push records of their own system, not `manual` ones."
        raise InvalidSource(message, [{"field": "source", "message": message}])
    return fields, (source, external_id)


def _known(org_id: Any, refs: References) -> Any:
    """The organization to check rights on; one that does not exist is left for the aggregate
    to refuse (422 unknown-organization, not a 403 that would hide the mistake)."""
    return org_id if org_id in refs.organizations else None


def canonical(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Ids as the registry and this service spell them (lower-case UUIDs), so equal ids
    compare equal; what is no UUID stays as given and names nothing."""
    out = dict(fields)
    for name in ("lead_org_id", "owner_org_id"):
        if isinstance(out.get(name), str):
            out[name] = _id(out[name])
    if isinstance(out.get("participants"), list | tuple):
        out["participants"] = [
            {**p, "org_id": _id(p.get("org_id"))} if isinstance(p, Mapping) else p
            for p in out["participants"]
        ]
    for name in ("agreement_ids", "related_engagement_ids"):
        if isinstance(out.get(name), list | tuple):
            out[name] = [_id(v) for v in out[name]]
    return out


def _id(value: Any) -> Any:
    return _canonical_id(value) if isinstance(value, str) else value


@functools.lru_cache(maxsize=8192)
def _canonical_id(value: str) -> str:
    # A batch names the same few organizations in every item: each spelled once.
    return parse_id(value) or value
