"""The reporting consumer: every domain topic into the replicas (`tansiq replay reporting`
rebuilds them, see tansiq_reporting.rebuild).

Each event fills its replica and marks the records it touched *due*, in its own transaction,
and wakes the evaluator (NOTIFY), which re-evaluates due records in batches right after
(`findings.schedule`): evaluating a whole batch at once costs a fraction of evaluating each
event alone. The consumer never waits for the evaluator: it writes the records and their mark,
the evaluator their findings, counters and re-check times, and clears a mark only on the
version it evaluated.

Organizations: the replica derives each one's ministry and coordinating-body standing from the
hierarchy it holds, recomputed for the whole subtree when an organization moves; every record
naming an organization whose standing changed is marked due. So an engagement that arrives
before its organizations counts nowhere at first, and is attributed and evaluated as soon as
they arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from tansiq_common.events.consumer import ConsumerSpec
from tansiq_common.events.contracts import (
    AGREEMENT_TOPIC,
    ENGAGEMENT_TOPIC,
    ORGANIZATION_TOPIC,
    TopicContract,
)
from tansiq_common.events.envelope import Envelope

from tansiq_reporting.findings.evaluation import DUE_CHANNEL
from tansiq_reporting.readmodels import store
from tansiq_reporting.readmodels.model import (
    Agreement,
    Engagement,
    Org,
    agreement_from_event,
    engagement_from_event,
    organization_from_event,
)
from tansiq_reporting.readmodels.tables import READ_MODEL_TABLES, rm_agreements, rm_engagements

log = logging.getLogger(__name__)

CONSUMER_NAME = "reporting"
TOPICS = (ORGANIZATION_TOPIC, AGREEMENT_TOPIC, ENGAGEMENT_TOPIC)


def _standing(org: Org | None) -> tuple[object, ...] | None:
    """What of an organization the rules and counters depend on."""
    if org is None:
        return None
    return (
        org.names,
        org.acronym,
        org.kind,
        org.scope,
        org.country,
        org.parent_id,
        org.status,
        org.designations,
    )


@dataclass
class _Pending:
    """What a transaction's events leave to write as it commits: one statement per table for
    the whole batch of events rather than one per event (an event's cost was its round trips)."""

    engagements: dict[str, list[Engagement]] = field(default_factory=dict)
    agreements: dict[str, list[Agreement]] = field(default_factory=dict)
    due_agreements: set[str] = field(default_factory=set)
    due_engagements: set[str] = field(default_factory=set)
    # Per topic: the last event applied and how many.
    fresh: dict[str, tuple[Envelope, int]] = field(default_factory=dict)


_PENDING = "reporting_pending"


def _pending(session: AsyncSession) -> _Pending:
    pending = session.info.get(_PENDING)
    if pending is None:
        pending = session.info[_PENDING] = _Pending()
        sync = session.sync_session
        if not event.contains(sync, "before_commit", _write_on_commit):
            event.listen(sync, "before_commit", _write_on_commit)
            event.listen(sync, "after_rollback", _forget)
    return pending


def _write_on_commit(session: Session) -> None:
    """Runs inside the commit, in the transaction that recorded the events as processed: the
    replicas, due marks and freshness commit with them or not at all."""
    pending = session.info.pop(_PENDING, None)
    if pending is None:
        return
    notify = _write_records(session, pending)
    if pending.due_agreements or pending.due_engagements:
        store.mark_due(session, rm_agreements, pending.due_agreements)
        store.mark_due(session, rm_engagements, pending.due_engagements)
        notify = True
    if notify:  # delivered when this transaction commits
        session.execute(sa.text(f"NOTIFY {DUE_CHANNEL}"))
    for topic, (envelope, count) in pending.fresh.items():
        session.execute(
            FRESH,
            {
                "topic": topic,
                "event_id": envelope.id,
                "event_type": envelope.type,
                "event_time": envelope.time,
                "count": count,
            },
        )


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _write_records(session: Session, pending: _Pending) -> bool:
    """Upsert the engagements and agreements the events carried (for each, its newest version
    in the batch; an older one stored changes nothing) and queue the due marks they imply;
    True if any was stored (and so marked due)."""
    engagements, pending.engagements = pending.engagements, {}
    agreements, pending.agreements = pending.agreements, {}
    before_e = store.upsert_many(
        session,
        rm_engagements,
        {i: _newest(versions, store.engagement_values) for i, versions in engagements.items()},
        rm_engagements.c.agreement_ids,
    )
    for engagement_id, linked_before in before_e.items():
        # The agreements it is (or was) linked to: rule C4. The engagements it pairs with
        # under rule C3 are found when it is evaluated.
        pending.due_agreements.update(linked_before or ())
        for e in engagements[engagement_id]:
            pending.due_agreements.update(e.agreement_ids)
    before_a = store.upsert_many(
        session,
        rm_agreements,
        {i: _newest(versions, store.agreement_values) for i, versions in agreements.items()},
        rm_agreements.c.supersedes,
    )
    for agreement_id, superseded_before in before_a.items():
        # A renewal is rule C6 of the agreement it supersedes (before and after the change);
        # the agreement itself is due already (the upsert marks it).
        wanted = {superseded_before} | {a.supersedes for a in agreements[agreement_id]}
        pending.due_agreements.update(i for i in wanted if i and i != agreement_id)
    return bool(before_e or before_a)


def _newest(
    versions: list[Any], values: Callable[[Any], dict[str, Any]]
) -> tuple[int, dict[str, Any]]:
    newest = max(versions, key=lambda r: r.version)
    return int(newest.version), values(newest)


class ReportingHandlers:
    """Each event is read and queued on its transaction; the organizations' hierarchy is
    written at once (the records' attribution depends on it), engagements and agreements as
    the transaction commits, in one statement each."""

    async def organization(self, session: AsyncSession, envelope: Envelope) -> None:
        pending = _pending(session)
        # Records queued before it must be in the replica when those naming it are looked up.
        await session.run_sync(_write_records, pending)
        org = organization_from_event(envelope.data)
        self._fresh(pending, envelope)
        try:
            previous = await store.upsert_organization(session, org, int(envelope.data["version"]))
        except store.NotNewer:
            return
        changed = await store.rederive_subtree(session, org.id)
        if _standing(previous) != _standing(org):
            changed.add(org.id)
            if (
                previous is not None
                and previous.ministry_id == org.id
                and (previous.country != org.country or previous.scope != org.scope)
            ):
                # A ministry's country is that of every record under it.
                changed |= await store.orgs_of_ministry(session, org.id)
        if changed:
            agreements, engagements = await store.records_naming(session, changed)
            pending.due_agreements |= agreements
            pending.due_engagements |= engagements

    async def agreement(self, session: AsyncSession, envelope: Envelope) -> None:
        a = agreement_from_event(envelope.data)
        pending = _pending(session)
        pending.agreements.setdefault(a.id, []).append(a)
        self._fresh(pending, envelope)

    async def engagement(self, session: AsyncSession, envelope: Envelope) -> None:
        e = engagement_from_event(envelope.data)
        pending = _pending(session)
        pending.engagements.setdefault(e.id, []).append(e)
        self._fresh(pending, envelope)

    def _fresh(self, pending: _Pending, envelope: Envelope) -> None:
        """The topic's last applied event, for /v1/freshness."""
        topic = next((t for t in TOPICS if envelope.topic.endswith(t)), envelope.topic)
        _, count = pending.fresh.get(topic, (envelope, 0))
        pending.fresh[topic] = (envelope, count + 1)


# Built once: every batch runs it.
FRESH = sa.text(
    "INSERT INTO topic_freshness (topic, last_event_id, last_event_type, last_event_time, "
    "last_applied_at, events_applied) VALUES (:topic, :event_id, :event_type, :event_time, "
    "now(), :count) ON CONFLICT (topic) DO UPDATE SET last_event_id = EXCLUDED.last_event_id, "
    "last_event_type = EXCLUDED.last_event_type, last_event_time = EXCLUDED.last_event_time, "
    "last_applied_at = now(), events_applied = topic_freshness.events_applied + :count"
).bindparams(sa.bindparam("event_time", type_=sa.DateTime(timezone=True)))


def reporting_consumer(contracts: dict[str, TopicContract] | None = None) -> ConsumerSpec:
    """The consumer of every domain topic. A replay empties the replicas and counters (not the
    findings: see tansiq_reporting.rebuild)."""
    handlers = ReportingHandlers()
    return ConsumerSpec(
        name=CONSUMER_NAME,
        topics=list(TOPICS),
        handlers={"*": _by_topic(handlers)},
        tables=[t.name for t in READ_MODEL_TABLES],
        contracts=contracts or {},
    )


def _by_topic(
    handlers: ReportingHandlers,
) -> Callable[[AsyncSession, Envelope], Awaitable[None]]:
    async def handle(session: AsyncSession, envelope: Envelope) -> None:
        if envelope.topic.endswith(ORGANIZATION_TOPIC):
            await handlers.organization(session, envelope)
        elif envelope.topic.endswith(AGREEMENT_TOPIC):
            await handlers.agreement(session, envelope)
        elif envelope.topic.endswith(ENGAGEMENT_TOPIC):
            await handlers.engagement(session, envelope)

    return handle
