"""Use cases on agreements. Each write is one unit of work: the row, its history rows, its events
(collected from the aggregates the repository saw) and its audit entries commit together or not
at all."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tansiq_common.auth import OrgScope, Principal
from tansiq_common.etag import require_if_match
from tansiq_common.uow import SystemActor, UnitOfWork

from tansiq_agreements.agreements.access import check_may_decide_clearance, check_may_edit
from tansiq_agreements.agreements.model import (
    Agreement,
    AgreementNotFound,
    Milestone,
    OrgRef,
)
from tansiq_agreements.agreements.organizations import OrganizationLookup
from tansiq_agreements.agreements.repository import AgreementRepository, parse_id

log = logging.getLogger(__name__)

EXPIRY_ACTOR = SystemActor(sub="agreements-expiry")


def utcnow() -> datetime:
    return datetime.now(UTC)


class AgreementService:
    """Writes on agreements as `principal` (None: the system itself, for seeding and jobs).

    Each method is one transaction; inside `async with service.unit():` several are one (the
    demo data creates, submits, clears and signs an agreement all or nothing).
    """

    def __init__(
        self,
        uow: UnitOfWork,
        orgs: OrganizationLookup,
        *,
        principal: Principal | None = None,
        scope: OrgScope | None = None,
        bearer: str | None = None,
    ) -> None:
        self.uow = uow
        self.orgs = orgs
        self.principal = principal
        self.scope = scope
        self.bearer = bearer
        self.repo = AgreementRepository(uow)
        self._in_unit = False

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[None]:
        """The unit of work the methods inside the block share (a new one, or the open one)."""
        if self._in_unit:
            yield
            return
        self._in_unit = True
        try:
            async with self.uow:
                yield
        finally:
            self._in_unit = False

    async def create(
        self, fields: Mapping[str, Any], *, source_key: str | None = None
    ) -> Agreement:
        async with self.unit():
            fields = _canonical(fields)
            # Before any lookup: a caller who may not write for the owner asks the registry
            # nothing through us.
            check_may_edit(self.principal, self.scope, str(fields.get("owner_org_id")))
            orgs = await self._find_orgs(
                [fields.get("owner_org_id"), *_party_ids(fields.get("parties") or ())]
            )
            agreement = Agreement.draft(
                id=str(uuid.uuid4()),
                fields=fields,
                orgs=orgs,
                now=utcnow(),
                source_key=source_key,
            )
            await self.repo.add(agreement)
            await self.repo.write_history(agreement)
            return agreement

    async def update(
        self, agreement_id: str, changes: Mapping[str, Any], if_match: str | None
    ) -> Agreement:
        async with self.unit():
            agreement = await self._load_for_edit(agreement_id, if_match, required=True)
            changes = _canonical(changes)
            orgs: dict[str, OrgRef] = {}
            if "owner_org_id" in changes or "parties" in changes:
                owner = changes.get("owner_org_id", agreement.owner_org_id)
                # The new owner too must be one the editor writes for.
                check_may_edit(self.principal, self.scope, str(owner))
                parties = changes.get("parties", agreement.parties)
                orgs = await self._find_orgs([owner, *_party_ids(parties)])
            if agreement.revise(changes, orgs=orgs, now=utcnow()):
                await self._save(agreement)
            return agreement

    async def submit(self, agreement_id: str, if_match: str | None) -> Agreement:
        async with self.unit():
            agreement = await self._load_for_edit(agreement_id, if_match)
            agreement.submit(utcnow())
            await self._save(agreement)
            return agreement

    async def clear(
        self,
        agreement_id: str,
        if_match: str | None,
        *,
        conditions: str | None = None,
        comments: str | None = None,
        on_behalf_of: str | None = None,
    ) -> Agreement:
        """`on_behalf_of`: the coordinating body a system change (the demo data) decides for;
        a user decides for their own organization."""
        async with self.unit():
            agreement = await self._load_for_clearance(agreement_id, if_match)
            agreement.clear(
                decided_by=self.uow.actor.sub,
                decided_by_org_id=self._deciding_org(on_behalf_of),
                conditions=conditions,
                comments=comments,
                now=utcnow(),
            )
            clearance = agreement.clearance
            await self._save(
                agreement,
                {
                    "cleared": _given(
                        conditions=clearance.conditions if clearance else None,
                        comments=clearance.comments if clearance else None,
                    )
                },
            )
            return agreement

    async def return_(
        self,
        agreement_id: str,
        if_match: str | None,
        *,
        comments: str,
        on_behalf_of: str | None = None,
    ) -> Agreement:
        async with self.unit():
            agreement = await self._load_for_clearance(agreement_id, if_match)
            agreement.return_(
                decided_by=self.uow.actor.sub,
                decided_by_org_id=self._deciding_org(on_behalf_of),
                comments=comments,
                now=utcnow(),
            )
            clearance = agreement.clearance
            await self._save(
                agreement, {"returned": _given(comments=clearance.comments if clearance else None)}
            )
            return agreement

    async def sign(self, agreement_id: str, if_match: str | None, *, signed_on: date) -> Agreement:
        async with self.unit():
            agreement = await self._load_for_edit(agreement_id, if_match)
            agreement.sign(signed_on=signed_on, now=utcnow())
            await self._save(
                agreement,
                {
                    "signed": _given(
                        signed_on=signed_on, without_clearance=agreement.signed_uncleared
                    )
                },
            )
            return agreement

    async def enter_into_force(
        self, agreement_id: str, if_match: str | None, *, effective_from: date | None = None
    ) -> Agreement:
        async with self.unit():
            agreement = await self._load_for_edit(agreement_id, if_match)
            agreement.enter_into_force(effective_from=effective_from, now=utcnow())
            await self._save(
                agreement,
                {"entered-into-force": _given(effective_from=agreement.effective_from)},
            )
            return agreement

    async def terminate(
        self,
        agreement_id: str,
        if_match: str | None,
        *,
        reason: str,
        terminated_on: date | None = None,
    ) -> Agreement:
        async with self.unit():
            agreement = await self._load_for_edit(agreement_id, if_match)
            agreement.terminate(reason=reason, terminated_on=terminated_on, now=utcnow())
            termination = agreement.termination
            given = (
                _given(reason=termination.reason, terminated_on=termination.terminated_on)
                if termination
                else {}
            )
            await self._save(agreement, {"terminated": given})
            return agreement

    async def expire(self, agreement_id: str, if_match: str | None) -> Agreement:
        async with self.unit():
            agreement = await self._load_for_edit(agreement_id, if_match)
            agreement.expire(utcnow())
            await self._save(agreement, {"expired": _given(expires_on=agreement.expires_on)})
            return agreement

    async def renew(
        self,
        agreement_id: str,
        if_match: str | None,
        changes: Mapping[str, Any],
        *,
        source_key: str | None = None,
    ) -> Agreement:
        """The successor: a new draft that supersedes the agreement."""
        async with self.unit():
            agreement = await self._load_for_edit(agreement_id, if_match)
            changes = _canonical(changes)
            owner = changes.get("owner_org_id", agreement.owner_org_id)
            parties = changes.get("parties", agreement.parties)
            orgs = await self._find_orgs([owner, *_party_ids(parties)])
            successor = agreement.renew(
                successor_id=str(uuid.uuid4()),
                changes=changes,
                orgs=orgs,
                now=utcnow(),
                source_key=source_key,
            )
            check_may_edit(self.principal, self.scope, successor.owner_org_id)
            await self._save(agreement, {"renewed": {"successor_id": successor.id}})
            await self.repo.add(successor)
            await self.repo.write_history(successor, {"created": {"supersedes": agreement.id}})
            return successor

    async def add_milestone(
        self, agreement_id: str, fields: Mapping[str, Any], if_match: str | None
    ) -> tuple[Agreement, Milestone]:
        async with self.unit():
            agreement = await self._load_for_edit(agreement_id, if_match)
            milestone = agreement.add_milestone(
                milestone_id=str(uuid.uuid4()), fields=_canonical(fields), now=utcnow()
            )
            await self._save(agreement, {"milestone-added": {"milestone_id": milestone.id}})
            return agreement, milestone

    async def update_milestone(
        self,
        agreement_id: str,
        milestone_id: str,
        changes: Mapping[str, Any],
        if_match: str | None,
    ) -> tuple[Agreement, Milestone]:
        async with self.unit():
            agreement = await self._load_for_edit(agreement_id, if_match, required=True)
            milestone, changed = agreement.revise_milestone(
                parse_id(milestone_id) or milestone_id, _canonical(changes), now=utcnow()
            )
            if changed:
                await self._save(
                    agreement,
                    {"milestone-updated": {"milestone_id": milestone.id, "changed": changed}},
                )
            return agreement, milestone

    # -- steps --

    async def _load(self, agreement_id: str) -> Agreement:
        agreement = await self.repo.get_visible(
            agreement_id, principal=self.principal, scope=self.scope, for_update=True
        )
        if agreement is None:
            raise AgreementNotFound(f"No agreement {agreement_id}.")
        return agreement

    async def _load_for_edit(
        self, agreement_id: str, if_match: str | None, *, required: bool = False
    ) -> Agreement:
        """Loaded and locked; the caller writes for its owner; If-Match honoured when sent
        (required on PATCH)."""
        agreement = await self._load(agreement_id)
        check_may_edit(self.principal, self.scope, agreement.owner_org_id)
        if required or if_match is not None:
            require_if_match(if_match, agreement.version)
        return agreement

    async def _load_for_clearance(self, agreement_id: str, if_match: str | None) -> Agreement:
        agreement = await self._load(agreement_id)
        check_may_decide_clearance(self.principal, self.scope, agreement.owner_country)
        if if_match is not None:
            require_if_match(if_match, agreement.version)
        return agreement

    async def _find_orgs(self, ids: Iterable[Any]) -> dict[str, OrgRef]:
        wanted = [str(i) for i in ids if i is not None]
        return await self.orgs.find_many(self.uow, wanted, bearer=self.bearer)

    def _deciding_org(self, on_behalf_of: str | None) -> str | None:
        if self.scope is not None:
            return self.scope.org_id
        return on_behalf_of or self.uow.actor.org

    async def _save(
        self, agreement: Agreement, details: Mapping[str, Mapping[str, Any]] | None = None
    ) -> None:
        await self.repo.save(agreement)
        await self.repo.write_history(agreement, details)


async def expire_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime | None = None,
    batch: int = 100,
) -> list[str]:
    """Expire every signed or in-force agreement whose `expires_on` has passed; the ids expired.

    Idempotent (an expired agreement is no longer due) and safe with several replicas running
    it at once: each batch locks its rows with SKIP LOCKED, so a row is expired by exactly one
    of them, and the status is checked again under the lock.
    """
    now = now or utcnow()
    expired: list[str] = []
    while True:
        uow = UnitOfWork(sessionmaker, actor=EXPIRY_ACTOR)
        async with uow:
            repo = AgreementRepository(uow)
            due = await repo.due_to_expire(now.date(), batch)
            for agreement in (await repo.get_many(due, for_update=True)).values():
                agreement.expire(now)
                await repo.save(agreement)
                given = _given(expires_on=agreement.expires_on, automatic=True)
                await repo.write_history(agreement, {"expired": given})
                expired.append(agreement.id)
        if len(due) < batch:
            return expired


def _given(**values: Any) -> dict[str, Any]:
    """What a transition was given, JSON-ready, for its history row."""
    return {
        key: value.isoformat() if isinstance(value, date) else value
        for key, value in values.items()
        if value is not None
    }


def _party_ids(parties: Any) -> list[str]:
    ids: list[str] = []
    for party in parties or ():
        org_id = (
            party.get("org_id") if isinstance(party, Mapping) else getattr(party, "org_id", None)
        )
        if org_id is not None:
            ids.append(str(org_id))
    return ids


def _canonical(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Organization ids as the registry spells them (lower-case UUIDs), so equal ids compare
    equal; an id that is no UUID is kept as given and found nowhere."""
    out = dict(fields)

    def canon(value: Any) -> Any:
        return (parse_id(str(value)) or str(value)) if value is not None else None

    for key in ("owner_org_id", "responsible_org_id"):
        if out.get(key) is not None:
            out[key] = canon(out[key])
    if isinstance(out.get("parties"), list):
        out["parties"] = [
            {**p, "org_id": canon(p.get("org_id"))} if isinstance(p, Mapping) else p
            for p in out["parties"]
        ]
    if isinstance(out.get("funding"), list):
        out["funding"] = [
            {**f, "funder_org_id": canon(f.get("funder_org_id"))} if isinstance(f, Mapping) else f
            for f in out["funding"]
        ]
    return out
