"""The scheduled pass: every minute, the records whose re-check time has come are evaluated
again (rules C2, C4, C5 and C6 change with time alone). Safe with several replicas: each batch
runs under the evaluation lock and takes only records still due, so a second replica finds
nothing left to do."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tansiq_common.app import Component
from tansiq_common.background import running_in_background, sleep_unless
from tansiq_common.uow import SystemActor, UnitOfWork

from tansiq_reporting.findings.evaluation import (
    EvaluationReport,
    Evaluator,
    due_records,
    lock_evaluation,
)
from tansiq_reporting.findings.rules import RuleParameters
from tansiq_reporting.readmodels.store import rebuilding

log = logging.getLogger(__name__)

ACTOR = SystemActor(sub="reporting:scheduled-pass")
# A pass never loops for ever, even if a rule kept a record due.
MAX_BATCHES = 1000


async def scheduled_pass(
    sessionmaker: async_sessionmaker[AsyncSession],
    params: RuleParameters,
    now: datetime,
    *,
    batch: int = 500,
) -> EvaluationReport:
    """Evaluate every record due at `now`, `batch` at a time, one transaction each."""
    total = EvaluationReport()
    for _ in range(MAX_BATCHES):
        async with UnitOfWork(sessionmaker, ACTOR) as uow:
            await lock_evaluation(uow.session)
            if await rebuilding(uow.session):
                break  # the rebuild runs the pass itself once the replicas are whole
            agreements, engagements = await due_records(uow.session, now, batch)
            if not agreements and not engagements:
                break
            report = await Evaluator(uow, params, now).evaluate(agreements, engagements)
        total.agreements += report.agreements
        total.engagements += report.engagements
        total.opened += report.opened
        total.resolved += report.resolved
        if len(agreements) < batch and len(engagements) < batch:
            break
    return total


def scheduled_pass_component(
    params: RuleParameters,
    interval_s: float,
    batch: int,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Component:
    """For `create_service_app(components=[...])`; runs where the consumers run."""

    @asynccontextmanager
    async def component(app: FastAPI) -> AsyncIterator[None]:
        if not app.state.settings.run_consumers:
            yield
            return
        stop = asyncio.Event()

        async def loop() -> None:
            while not stop.is_set():
                try:
                    report = await scheduled_pass(
                        app.state.db.sessionmaker, params, clock(), batch=batch
                    )
                    if report.opened or report.resolved:
                        log.info(
                            "scheduled pass: %d opened, %d resolved",
                            len(report.opened),
                            len(report.resolved),
                        )
                except Exception as exc:  # the next pass tries again
                    log.warning("scheduled pass failed: %r", exc)
                if await sleep_unless(stop, interval_s):
                    break

        async with running_in_background(loop(), stop, name="reporting-scheduled-pass", grace_s=10):
            yield

    return component
