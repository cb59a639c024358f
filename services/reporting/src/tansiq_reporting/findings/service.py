"""Coordinators' decisions on findings: acknowledge, or accept as an exception with a
justification. Recorded on the finding, published, and audited."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from tansiq_common.auth import OrgScope, Principal, acts_as_coordinator
from tansiq_common.etag import require_if_match
from tansiq_common.uow import UnitOfWork

from tansiq_reporting.findings.evaluation import lock_evaluation
from tansiq_reporting.findings.model import (
    COUNTING,
    Finding,
    FindingNotFound,
    NotFindingsCoordinator,
)
from tansiq_reporting.findings.repository import FindingRepository
from tansiq_reporting.findings.tables import findings
from tansiq_reporting.readmodels.counters import recount_rules, rules_mask

ENTITY = "finding"


def utcnow() -> datetime:
    return datetime.now(UTC)


class FindingService:
    def __init__(self, uow: UnitOfWork, principal: Principal, scope: OrgScope) -> None:
        self.uow = uow
        self.principal = principal
        self.scope = scope

    async def acknowledge(self, finding_id: str, if_match: str | None) -> Finding:
        async with self.uow:
            repo = FindingRepository(self.uow)
            finding = await self._load(repo, finding_id, if_match)
            finding.acknowledge(self.uow.actor.sub, self.uow.actor.org, utcnow())
            await repo.save(finding)
            self.uow.audit(
                f"{ENTITY}.acknowledged", ENTITY, finding.id, ["status", "acknowledgement"]
            )
            await self._recount(finding)
        return finding

    async def accept(self, finding_id: str, justification: str, if_match: str | None) -> Finding:
        async with self.uow:
            repo = FindingRepository(self.uow)
            finding = await self._load(repo, finding_id, if_match)
            finding.accept(self.uow.actor.sub, self.uow.actor.org, justification, utcnow())
            await repo.save(finding)
            self.uow.audit(
                f"{ENTITY}.accepted",
                ENTITY,
                finding.id,
                {"status": finding.status.value, "justification": justification.strip()},
            )
            await self._recount(finding)
        return finding

    async def _load(
        self, repo: FindingRepository, finding_id: str, if_match: str | None
    ) -> Finding:
        # Decisions wait for any evaluation under way, so both see the other's result.
        await lock_evaluation(self.uow.session)
        finding = await repo.get(finding_id, for_update=True)
        if finding is None:
            raise FindingNotFound(f"No finding {finding_id}.")
        # Coordinators of a coordinating body decide on their own country's findings only.
        if not acts_as_coordinator(self.principal, self.scope) or (
            self.scope.country != finding.country
        ):
            raise NotFindingsCoordinator(
                "Only a coordinator of a coordinating body of the finding's country decides on it."
            )
        if if_match is not None:  # optional on actions, honoured when sent
            require_if_match(if_match, finding.version)
        return finding

    async def _recount(self, finding: Finding) -> None:
        """An accepted finding stops counting against the ministry's score."""
        anchor = finding.anchor
        rows = await self.uow.session.execute(
            sa.select(findings.c.rule).where(
                findings.c.anchor_type == anchor.type,
                findings.c.anchor_id == anchor.id,
                findings.c.status.in_([s.value for s in COUNTING]),
            )
        )
        await recount_rules(
            self.uow.session, anchor.type, anchor.id, rules_mask(r.rule for r in rows)
        )
