"""Rebuild reporting from the topics: every replica and counter, then every finding.

    python -m tansiq_reporting.rebuild          (what `tansiq replay reporting` should run)

1. The rebuild flag goes up: events keep filling the replicas and marking their records due,
   but the evaluator waits.
2. The common replay (`tansiq_common.events.replay`) empties the replicas and counters and applies
   every event of the three topics from the beginning (the live consumer keeps applying new ones
   meanwhile; versions and the processed-events table make the two commute).
3. Under the evaluation lock the flag comes down, and the pass evaluates every record marked
   due — all of them — against whole replicas.

Findings are re-evaluated, not emptied: a finding whose rule still says the same keeps its row
exactly as it was (id, version, times, decisions; no event), one that changed is updated or
resolved, and a new one opens. So a rebuild of consistent replicas ends in exactly the state it
started from, and coordinators' decisions (which come from no topic) survive it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from tansiq_common.db import Database
from tansiq_common.events.consumer import ConsumerSettings
from tansiq_common.events.replay import ReplayResult, replay

from tansiq_reporting import SERVICE
from tansiq_reporting.consumer import reporting_consumer
from tansiq_reporting.findings.evaluation import EvaluationReport, lock_evaluation
from tansiq_reporting.findings.schedule import scheduled_pass
from tansiq_reporting.readmodels.store import set_rebuilding
from tansiq_reporting.settings import ReportingSettings, get_settings

log = logging.getLogger(__name__)

# The consumers `tansiq replay` should rebuild with `main` rather than the plain replay.
CONSUMERS = frozenset({"reporting"})


@dataclass(frozen=True)
class RebuildResult:
    replay: ReplayResult
    evaluation: EvaluationReport


async def rebuild(
    settings: ReportingSettings,
    db: Database,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    consumer_settings: ConsumerSettings | None = None,
) -> RebuildResult:
    params = settings.rule_parameters()
    async with db.sessionmaker() as session, session.begin():
        await lock_evaluation(session)
        await set_rebuilding(session, True)
    # A replay that fails leaves the flag up (GET /v1/freshness says `rebuilding`): nothing is
    # judged on half-rebuilt replicas until the rebuild is run again and completes.
    replayed = await replay(
        reporting_consumer(),
        service=SERVICE,
        sessionmaker=db.sessionmaker,
        bootstrap=settings.kafka_bootstrap_servers,
        topic_prefix=settings.topic_prefix,
        settings=consumer_settings,
        security=settings.kafka_security(),
    )
    async with db.sessionmaker() as session, session.begin():
        await lock_evaluation(session)
        await set_rebuilding(session, False)
    evaluated = await scheduled_pass(
        db.sessionmaker, params, clock(), batch=settings.scheduled_pass_batch
    )
    log.info(
        "rebuilt reporting: %d messages, %d agreements and %d engagements evaluated",
        replayed.messages,
        evaluated.agreements,
        evaluated.engagements,
    )
    return RebuildResult(replayed, evaluated)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    settings = get_settings()

    async def go() -> RebuildResult:
        db = Database(settings.database_url, pool_size=2, max_overflow=0)
        try:
            return await rebuild(settings, db)
        finally:
            await db.dispose()

    result = asyncio.run(go())
    print(
        f"reporting: replayed {result.replay.messages} messages {result.replay.outcomes}; "
        f"evaluated {result.evaluation.agreements} agreements and "
        f"{result.evaluation.engagements} engagements; "
        f"{len(result.evaluation.opened)} findings opened, "
        f"{len(result.evaluation.resolved)} resolved"
    )


if __name__ == "__main__":
    main()
