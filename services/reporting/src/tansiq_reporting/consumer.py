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
from collections.abc import Awaitable, Callable, Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
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
    Org,
    agreement_from_event,
    engagement_from_event,
    organization_from_event,
)
from tansiq_reporting.readmodels.tables import READ_MODEL_TABLES

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


class ReportingHandlers:
    async def organization(self, session: AsyncSession, envelope: Envelope) -> None:
        org = organization_from_event(envelope.data)
        try:
            previous = await store.upsert_organization(session, org, int(envelope.data["version"]))
        except store.NotNewer:
            return await self._fresh(session, envelope)
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
            await self._due(session, agreements, engagements)
        await self._fresh(session, envelope)

    async def agreement(self, session: AsyncSession, envelope: Envelope) -> None:
        a = agreement_from_event(envelope.data)
        try:
            superseded_before = await store.upsert_agreement(session, a)
        except store.NotNewer:
            return await self._fresh(session, envelope)
        # A renewal is rule C6 of the agreement it supersedes (before and after the change);
        # the agreement itself is due already (the upsert marks it).
        wanted = {a.supersedes, superseded_before} - {None, a.id}
        await self._due(session, {i for i in wanted if i}, ())
        await self._fresh(session, envelope)

    async def engagement(self, session: AsyncSession, envelope: Envelope) -> None:
        e = engagement_from_event(envelope.data)
        try:
            linked_before = await store.upsert_engagement(session, e)
        except store.NotNewer:
            return await self._fresh(session, envelope)
        # The agreements it is (or was) linked to: rule C4. The engagements it pairs with under
        # rule C3 are found when it is evaluated.
        agreements = set(e.agreement_ids) | set(linked_before)
        await self._due(session, agreements, ())
        await self._fresh(session, envelope)

    async def _due(
        self, session: AsyncSession, agreements: Iterable[str], engagements: Iterable[str]
    ) -> None:
        await store.mark_due(session, agreements, engagements)
        # Delivered when this transaction commits; once is enough for a batch of events.
        transaction = session.get_transaction()
        if session.info.get("due_notified") is not transaction:
            await session.execute(sa.text(f"NOTIFY {DUE_CHANNEL}"))
            session.info["due_notified"] = transaction

    async def _fresh(self, session: AsyncSession, envelope: Envelope) -> None:
        """The topic's last applied event, for /v1/freshness."""
        topic = next((t for t in TOPICS if envelope.topic.endswith(t)), envelope.topic)
        await session.execute(
            FRESH,
            {
                "topic": topic,
                "event_id": envelope.id,
                "event_type": envelope.type,
                "event_time": envelope.time,
            },
        )


# Built once: every event runs it.
FRESH = sa.text(
    "INSERT INTO topic_freshness (topic, last_event_id, last_event_type, last_event_time, "
    "last_applied_at, events_applied) VALUES (:topic, :event_id, :event_type, :event_time, "
    "now(), 1) ON CONFLICT (topic) DO UPDATE SET last_event_id = EXCLUDED.last_event_id, "
    "last_event_type = EXCLUDED.last_event_type, last_event_time = EXCLUDED.last_event_time, "
    "last_applied_at = now(), events_applied = topic_freshness.events_applied + 1"
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
