"""The reporting consumer: every domain topic into the replicas (`tansiq replay reporting`
rebuilds them, see tansiq_reporting.rebuild).

Each event fills its replica and marks the records it touched *due*, a fetched batch of events
in one transaction (the runner's batch handler, `apply_events`), and wakes the evaluator
(NOTIFY), which re-evaluates due records in batches right after (`findings.schedule`):
evaluating a whole batch at once costs a fraction of evaluating each event alone. The consumer
never waits for the evaluator: it writes the records and their mark, the evaluator their
findings, counters and re-check times, and clears a mark only if none came since it read the
record.

Organizations: the replica derives each one's ministry and coordinating-body standing from the
hierarchy it holds, recomputed for the whole subtree when an organization moves; every record
naming an organization whose standing changed is marked due. So an engagement that arrives
before its organizations counts nowhere at first, and is attributed and evaluated as soon as
they arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from tansiq_common.events.consumer import ConsumerSpec
from tansiq_common.events.contracts import (
    AGREEMENT_TOPIC,
    ENGAGEMENT_TOPIC,
    ORGANIZATION_TOPIC,
    TopicContract,
)
from tansiq_common.events.envelope import Envelope, InvalidEvent

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
    """What a batch's events leave to write once they are all read: one statement per table for
    the whole batch rather than one per event (an event's cost was its round trips)."""

    engagements: dict[str, list[Engagement]] = field(default_factory=dict)
    agreements: dict[str, list[Agreement]] = field(default_factory=dict)
    due_agreements: set[str] = field(default_factory=set)
    due_engagements: set[str] = field(default_factory=set)
    # Per topic: the last event applied and how many.
    fresh: dict[str, tuple[Envelope, int]] = field(default_factory=dict)


def _write(session: Session, pending: _Pending) -> None:
    """The batch's replicas, due marks and freshness, in the transaction that recorded its
    events as processed: they commit with them or not at all."""
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


async def apply_events(
    session: AsyncSession, envelopes: Sequence[Envelope]
) -> Mapping[str, InvalidEvent]:
    """The consumer's batch handler: each event is read and queued in order; the organizations'
    hierarchy is written at once (the records' attribution depends on it), engagements and
    agreements once the batch is read, in one statement each. Refuses nothing: an event that
    cannot be read fails the batch, which the runner then applies one event at a time."""
    pending = _Pending()
    for envelope in envelopes:
        if envelope.topic.endswith(ORGANIZATION_TOPIC):
            await _organization(session, pending, envelope)
        elif envelope.topic.endswith(AGREEMENT_TOPIC):
            a = agreement_from_event(envelope.data)
            pending.agreements.setdefault(a.id, []).append(a)
            _fresh(pending, envelope)
        elif envelope.topic.endswith(ENGAGEMENT_TOPIC):
            e = engagement_from_event(envelope.data)
            pending.engagements.setdefault(e.id, []).append(e)
            _fresh(pending, envelope)
    await session.run_sync(_write, pending)
    return {}


async def _organization(session: AsyncSession, pending: _Pending, envelope: Envelope) -> None:
    # Records queued before it must be in the replica when those naming it are looked up.
    await session.run_sync(_write_records, pending)
    org = organization_from_event(envelope.data)
    _fresh(pending, envelope)
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


def _fresh(pending: _Pending, envelope: Envelope) -> None:
    """The topic's last applied event, for /v1/freshness."""
    topic = next((t for t in TOPICS if envelope.topic.endswith(t)), envelope.topic)
    _, count = pending.fresh.get(topic, (envelope, 0))
    pending.fresh[topic] = (envelope, count + 1)


async def _apply_one(session: AsyncSession, envelope: Envelope) -> None:
    """One event alone: what the runner falls back to when a batch fails, and what replay runs."""
    await apply_events(session, [envelope])


class ReportingHandlers:
    """One event of each topic applied alone (tests apply events one by one through these)."""

    organization = agreement = engagement = staticmethod(_apply_one)


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
    return ConsumerSpec(
        name=CONSUMER_NAME,
        topics=list(TOPICS),
        handlers={"*": _apply_one},
        batch_handler=apply_events,
        tables=[t.name for t in READ_MODEL_TABLES],
        contracts=contracts or {},
    )
