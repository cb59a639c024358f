"""The reporting consumer: every domain topic into the replicas, then the records each event
touched are evaluated, in the event's own transaction (`tansiq replay reporting` rebuilds it).

Organizations: the replica derives each one's ministry and coordinating-body standing from the
hierarchy it holds, recomputed for the whole subtree when an organization moves; every record
naming an organization whose standing changed is evaluated again. So an engagement that arrives
before its organizations counts nowhere at first, and is attributed and evaluated as soon as
they arrive.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from tansiq_common.events.consumer import ConsumerSpec
from tansiq_common.events.contracts import (
    AGREEMENT_TOPIC,
    ENGAGEMENT_TOPIC,
    ORGANIZATION_TOPIC,
    TopicContract,
)
from tansiq_common.events.envelope import Envelope
from tansiq_common.uow import UnitOfWork

from tansiq_reporting.findings.evaluation import Evaluator, lock_evaluation
from tansiq_reporting.findings.rules import RuleParameters
from tansiq_reporting.readmodels import store
from tansiq_reporting.readmodels.model import (
    Org,
    agreement_from_event,
    engagement_from_event,
    organization_from_event,
)
from tansiq_reporting.readmodels.tables import READ_MODEL_TABLES, topic_freshness

log = logging.getLogger(__name__)

CONSUMER_NAME = "reporting"
TOPICS = (ORGANIZATION_TOPIC, AGREEMENT_TOPIC, ENGAGEMENT_TOPIC)
Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


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
    def __init__(self, params: RuleParameters, clock: Clock = utcnow) -> None:
        self.params = params
        self.clock = clock

    async def organization(self, uow: UnitOfWork, envelope: Envelope) -> None:
        session = uow.session
        await lock_evaluation(session)
        org = organization_from_event(envelope.data)
        try:
            previous = await store.upsert_organization(session, org, int(envelope.data["version"]))
        except store.NotNewer:
            return await self._fresh(uow, envelope)
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
            await self._evaluate(uow, agreements, engagements)
        await self._fresh(uow, envelope)

    async def agreement(self, uow: UnitOfWork, envelope: Envelope) -> None:
        session = uow.session
        await lock_evaluation(session)
        a = agreement_from_event(envelope.data)
        try:
            previous = await store.upsert_agreement(session, a)
        except store.NotNewer:
            return await self._fresh(uow, envelope)
        # A renewal is rule C6 of the agreement it supersedes (before and after the change).
        wanted = {a.id, a.supersedes, previous.supersedes if previous else None}
        await self._evaluate(uow, {i for i in wanted if i}, ())
        await self._fresh(uow, envelope)

    async def engagement(self, uow: UnitOfWork, envelope: Envelope) -> None:
        session = uow.session
        await lock_evaluation(session)
        e = engagement_from_event(envelope.data)
        try:
            previous = await store.upsert_engagement(session, e)
        except store.NotNewer:
            return await self._fresh(uow, envelope)
        # The agreements it is (or was) linked to: rule C4.
        agreements = set(e.agreement_ids) | set(previous.agreement_ids if previous else ())
        await self._evaluate(uow, agreements, {e.id})
        await self._fresh(uow, envelope)

    async def _evaluate(
        self, uow: UnitOfWork, agreements: Iterable[str], engagements: Iterable[str]
    ) -> None:
        if await store.rebuilding(uow.session):
            # The replicas are being rebuilt: judge nothing on a half-built picture; the pass
            # that ends the rebuild evaluates these records.
            await store.mark_due(uow.session, agreements, engagements)
            return
        await Evaluator(uow, self.params, self.clock()).evaluate(agreements, engagements)

    async def _fresh(self, uow: UnitOfWork, envelope: Envelope) -> None:
        """The topic's last applied event, for /v1/freshness."""
        topic = next((t for t in TOPICS if envelope.topic.endswith(t)), envelope.topic)
        values = {
            "last_event_id": envelope.id,
            "last_event_type": envelope.type,
            "last_event_time": envelope.time,
            "last_applied_at": sa.func.now(),
        }
        stmt = insert(topic_freshness).values(topic=topic, events_applied=1, **values)
        await uow.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[topic_freshness.c.topic],
                set_={**values, "events_applied": topic_freshness.c.events_applied + 1},
            )
        )


def reporting_consumer(
    params: RuleParameters,
    *,
    clock: Clock = utcnow,
    contracts: dict[str, TopicContract] | None = None,
) -> ConsumerSpec:
    """The consumer of every domain topic.

    A replay (`tansiq_reporting.rebuild`, which `tansiq replay reporting` should call) empties
    the replicas and the counters, refills them from the topics and then evaluates every record:
    findings are re-evaluated, not emptied, so decisions stay and an unchanged finding keeps its
    row exactly as it was."""
    handlers = ReportingHandlers(params, clock)
    return ConsumerSpec(
        name=CONSUMER_NAME,
        topics=list(TOPICS),
        handlers={"*": _by_topic(handlers)},
        tables=[t.name for t in READ_MODEL_TABLES],
        uses_uow=True,
        contracts=contracts or {},
    )


def _by_topic(handlers: ReportingHandlers) -> Callable[[UnitOfWork, Envelope], Awaitable[None]]:
    async def handle(uow: UnitOfWork, envelope: Envelope) -> None:
        if envelope.topic.endswith(ORGANIZATION_TOPIC):
            await handlers.organization(uow, envelope)
        elif envelope.topic.endswith(AGREEMENT_TOPIC):
            await handlers.agreement(uow, envelope)
        elif envelope.topic.endswith(ENGAGEMENT_TOPIC):
            await handlers.engagement(uow, envelope)

    return handle
