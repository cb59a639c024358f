"""Evaluating records: run the rules over what the replicas hold and bring findings, counters and
re-check times in line, inside the caller's unit of work.

Incremental: the evaluator takes the records that are due — those an event touched (the
consumer marks them) and those whose re-check time has come — together with the records whose
findings name them and, for rule C3, the engagements around them. Nothing is recomputed from
scratch.

One evaluation at a time across every replica and the scheduled pass (a transaction-scoped
advisory lock, taken before anything is written): rule C3 compares engagements with each other,
and two transactions each writing one side of a pair must not both miss the other.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from tansiq_common.uow import UnitOfWork

from tansiq_reporting.findings.model import Finding, Status
from tansiq_reporting.findings.repository import FindingRepository
from tansiq_reporting.findings.rules import (
    AGREEMENT,
    ENGAGEMENT,
    Evaluation,
    RecordRef,
    RuleParameters,
    agreement_access,
    attribute_engagement,
    engagement_access,
    evaluate_agreement,
    evaluate_engagement,
    overlaps,
    went_through_coordinating_body,
)
from tansiq_reporting.readmodels import store
from tansiq_reporting.readmodels.counters import (
    Contribution,
    Counted,
    record_counts,
    rules_mask,
    stored_counted,
)
from tansiq_reporting.readmodels.model import Agreement, Engagement, Org

log = logging.getLogger(__name__)

# Consumers NOTIFY it when they mark records due; the evaluator LISTENs.
DUE_CHANNEL = "tansiq_reporting_due"

EVALUATION_LOCK = int.from_bytes(
    hashlib.sha256(b"tansiq.reporting.evaluation").digest()[:8], "big", signed=True
)


async def lock_evaluation(session: AsyncSession) -> None:
    """Wait for the evaluation lock; held until the transaction ends (taken once per
    transaction: a consumer's batch of events asks for it with every event)."""
    transaction = session.get_transaction()
    if transaction is not None and session.info.get("evaluation_locked") is transaction:
        return
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(EVALUATION_LOCK)))
    session.info["evaluation_locked"] = session.get_transaction()


@dataclass
class EvaluationReport:
    agreements: int = 0
    engagements: int = 0
    opened: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)


class _Orgs:
    """Organizations loaded once per evaluation."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.known: dict[str, Org] = {}
        self._asked: set[str] = set()

    async def need(self, ids: Iterable[str]) -> Mapping[str, Org]:
        missing = set(ids) - self._asked
        if missing:
            self._asked |= missing
            self.known.update(await store.load_orgs(self.session, missing))
        return self.known


class Evaluator:
    def __init__(self, uow: UnitOfWork, params: RuleParameters, now: datetime) -> None:
        self.uow = uow
        self.params = params
        self.now = now
        self.findings = FindingRepository(uow)
        self.marks: dict[str, dict[str, int]] = {AGREEMENT: {}, ENGAGEMENT: {}}

    @property
    def session(self) -> AsyncSession:
        return self.uow.session

    async def evaluate(
        self, agreement_ids: Iterable[str] = (), engagement_ids: Iterable[str] = ()
    ) -> EvaluationReport:
        await lock_evaluation(self.session)
        agreements_wanted = set(agreement_ids)
        engagements_wanted = set(engagement_ids)
        # Findings that name one of these records besides their anchor depend on it too.
        touched = [RecordRef(AGREEMENT, i) for i in agreements_wanted] + [
            RecordRef(ENGAGEMENT, i) for i in engagements_wanted
        ]
        for anchor in await self.findings.anchors_naming(touched):
            (agreements_wanted if anchor.type == AGREEMENT else engagements_wanted).add(anchor.id)

        orgs = _Orgs(self.session)
        # Each record's due marks as first read: its mark is cleared only if none came since.
        self.marks = {AGREEMENT: {}, ENGAGEMENT: {}}
        engagements = await store.load_engagements(
            self.session, engagements_wanted, self.marks[ENGAGEMENT]
        )
        around = await self._neighbourhoods(engagements.values(), orgs)
        await orgs.need(i for ns in around.values() for n in ns for i in n.org_ids)
        # C3 is symmetric: an engagement that now pairs with a changed one gains a finding too.
        # (One that paired with it before names it in its finding: `anchors_naming` above.)
        extra = {
            o.other.id: o.other
            for e in engagements.values()
            for o in overlaps(e, around.get(e.id, ()), orgs.known, self.params)
            if o.other.id not in engagements
        }
        around.update(await self._neighbourhoods(extra.values(), orgs))
        engagements.update(extra)
        # (Every neighbour's organizations at once: one query, not one per neighbourhood.)
        await orgs.need(i for ns in around.values() for n in ns for i in n.org_ids)

        agreements = await store.load_agreements(
            self.session, agreements_wanted, self.marks[AGREEMENT]
        )
        await orgs.need(i for a in agreements.values() for i in a.org_ids)
        ids = sorted(agreements)
        contacts = await store.contacts(self.session, ids, self.now)
        successors = await store.with_successor(self.session, ids)

        evaluations: list[tuple[Evaluation, Agreement | Engagement]] = []
        for a in agreements.values():
            last, upcoming = contacts.get(a.id, (None, None))
            result = evaluate_agreement(
                a,
                orgs.known,
                self.params,
                self.now,
                last_contact=last,
                next_contact=upcoming,
                has_successor=a.id in successors,
            )
            evaluations.append((result, a))
        for e in engagements.values():
            result = evaluate_engagement(e, orgs.known, around.get(e.id, ()), self.params, self.now)
            evaluations.append((result, e))

        report = EvaluationReport(agreements=len(agreements), engagements=len(engagements))
        states = await self._reconcile([ev for ev, _ in evaluations], report)
        await self._count(evaluations, states, orgs.known)
        return report

    async def _neighbourhoods(
        self, engagements: Iterable[Engagement], orgs: _Orgs
    ) -> dict[str, list[Engagement]]:
        pending = list(engagements)
        await orgs.need(i for e in pending for i in e.org_ids)
        wanted = []
        for e in pending:
            where = attribute_engagement(e, orgs.known)
            wanted.append((e, where.partner_ids if where else ()))
        return await store.neighbourhoods(
            self.session, wanted, self.params.c3_window_days, self.marks[ENGAGEMENT]
        )

    async def _reconcile(
        self, evaluations: Sequence[Evaluation], report: EvaluationReport
    ) -> dict[RecordRef, list[Finding]]:
        existing = await self.findings.anchored_at(ev.record for ev in evaluations)
        candidates = {c.finding_id: c for ev in evaluations for c in ev.candidates}
        added: list[Finding] = []
        changed: list[Finding] = []
        for finding_id, candidate in sorted(candidates.items()):
            finding = existing.get(finding_id)
            if finding is None:
                finding = Finding.open(candidate, self.now)
                added.append(finding)
                existing[finding_id] = finding
                report.opened.append(finding_id)
            else:
                reopens = finding.status is Status.resolved
                if finding.observe(candidate, self.now):
                    changed.append(finding)
                    if reopens:
                        report.opened.append(finding_id)
        for finding_id, finding in sorted(existing.items()):
            if finding_id not in candidates and finding.resolve(self.now):
                changed.append(finding)
                report.resolved.append(finding_id)
        await self.findings.add_all(added)
        await self.findings.save_all(changed)
        by_anchor: dict[RecordRef, list[Finding]] = {}
        for finding in existing.values():
            by_anchor.setdefault(finding.anchor, []).append(finding)
        return by_anchor

    async def _count(
        self,
        evaluations: Sequence[tuple[Evaluation, Agreement | Engagement]],
        states: Mapping[RecordRef, Sequence[Finding]],
        orgs: Mapping[str, Org],
    ) -> None:
        for kind in (AGREEMENT, ENGAGEMENT):
            mine = [(ev, r) for ev, r in evaluations if ev.record.type == kind]
            if not mine:
                continue
            before = await stored_counted(self.session, kind, [ev.record.id for ev, _ in mine])
            changes = {}
            for ev, record in mine:
                findings = states.get(ev.record, ())
                changes[ev.record.id] = _counted(ev, record, findings, orgs)
            await record_counts(self.session, kind, changes, before, self.marks[kind])


def _counted(
    ev: Evaluation,
    record: Agreement | Engagement,
    findings: Sequence[Finding],
    orgs: Mapping[str, Org],
) -> Counted:
    where = ev.attribution
    if isinstance(record, Engagement):
        access = engagement_access(record, orgs)
        coordinated = where is not None and went_through_coordinating_body(record, orgs, where)
        counts_as_record = not record.cancelled
        contact = record.start if record.held else None
    else:
        access = agreement_access(record, orgs)
        coordinated = False
        counts_as_record = True
        contact = None
    contribution = None
    if where is not None and counts_as_record:
        day = record.record_date
        contribution = Contribution(
            country=where.country or "",
            ministry_id=where.ministry_id,
            month=day.strftime("%Y-%m") if day else "",
            rules=rules_mask(f.rule for f in findings if f.counts),
            partners=where.partner_ids,
            contact=contact,
        )
    return Counted(
        contribution=contribution,
        countries=access.countries,
        coordinated=coordinated,
        recheck_at=ev.recheck_at,
    )


# The records an event marked due, then those whose re-check time has come, of both kinds, and
# whether a rebuild is under way: one round trip (read after the evaluation lock is held).
DUE = sa.text(
    """
    SELECT 'rebuilding' AS kind, NULL AS id, 0 AS rank, NULL::timestamptz AS at
    WHERE (SELECT rebuilding FROM rebuild_state)
    UNION ALL (SELECT 'agreement', id, 1, NULL FROM rm_agreements
               WHERE due ORDER BY id LIMIT :n)
    UNION ALL (SELECT 'agreement', id, 2, recheck_at FROM rm_agreements
               WHERE recheck_at <= :now AND NOT due ORDER BY recheck_at, id LIMIT :n)
    UNION ALL (SELECT 'engagement', id, 1, NULL FROM rm_engagements
               WHERE due ORDER BY id LIMIT :n)
    UNION ALL (SELECT 'engagement', id, 2, recheck_at FROM rm_engagements
               WHERE recheck_at <= :now AND NOT due ORDER BY recheck_at, id LIMIT :n)
    ORDER BY rank, at, id
    """
).bindparams(sa.bindparam("now", type_=sa.DateTime(timezone=True)))


async def due_records(
    session: AsyncSession, now: datetime, limit: int
) -> tuple[list[str], list[str]] | None:
    """The records an event marked due, then those whose re-check time has come, `limit` of
    each kind at most; None while a rebuild is under way (it runs the pass itself)."""
    found: dict[str, list[str]] = {AGREEMENT: [], ENGAGEMENT: []}
    for row in await session.execute(DUE, {"now": now, "n": limit}):
        if row.kind == "rebuilding":
            return None
        ids = found[row.kind]
        if len(ids) < limit:  # the marked ones first
            ids.append(row.id)
    return found[AGREEMENT], found[ENGAGEMENT]
