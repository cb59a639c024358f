"""The evaluator: evaluates due records in batches — those events touched (the consumer marks
them and NOTIFYs) as soon as they are marked, and those whose re-check time has come (rules C2,
C4, C5 and C6 change with time alone) at least every `scheduled_pass_interval_s`.

Safe with several replicas: each batch runs under the evaluation lock and takes only records
still due, so a second replica finds nothing left to do. While a rebuild is under way it waits:
the rebuild runs the pass itself once the replicas are whole.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tansiq_common.app import Component
from tansiq_common.background import running_in_background, sleep_unless
from tansiq_common.events.consumer import is_outage
from tansiq_common.events.relay import asyncpg_dsn
from tansiq_common.uow import SystemActor, UnitOfWork

from tansiq_reporting.findings.evaluation import (
    DUE_CHANNEL,
    EvaluationReport,
    Evaluator,
    due_records,
    lock_evaluation,
)
from tansiq_reporting.findings.rules import RuleParameters
from tansiq_reporting.readmodels.store import set_aside

log = logging.getLogger(__name__)

ACTOR = SystemActor(sub="reporting:evaluator")
# A pass never loops for ever, even if a rule kept a record due.
MAX_BATCHES = 1000


# A record whose evaluation fails (a bug, never expected) is set aside this long, so that it
# cannot stop the evaluation of every other record.
SET_ASIDE = timedelta(hours=1)


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
        agreements: list[str] = []
        engagements: list[str] = []
        try:
            async with UnitOfWork(sessionmaker, ACTOR) as uow:
                await lock_evaluation(uow.session)
                due = await due_records(uow.session, now, batch)
                if due is None:
                    break  # the rebuild runs the pass itself once the replicas are whole
                agreements, engagements = due
                if not agreements and not engagements:
                    break
                report = await Evaluator(uow, params, now).evaluate(agreements, engagements)
        except Exception as exc:
            if is_outage(exc):
                raise
            log.error("evaluating a batch failed (%r); one record at a time", exc)
            report = await _one_by_one(sessionmaker, params, now, agreements, engagements)
        total.agreements += report.agreements
        total.engagements += report.engagements
        total.opened += report.opened
        total.resolved += report.resolved
        if len(agreements) < batch and len(engagements) < batch:
            break
    return total


async def _one_by_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    params: RuleParameters,
    now: datetime,
    agreements: list[str],
    engagements: list[str],
) -> EvaluationReport:
    total = EvaluationReport()
    for kind, record_id in [("agreement", a) for a in agreements] + [
        ("engagement", e) for e in engagements
    ]:
        ids = ([record_id], []) if kind == "agreement" else ([], [record_id])
        try:
            async with UnitOfWork(sessionmaker, ACTOR) as uow:
                await lock_evaluation(uow.session)
                report = await Evaluator(uow, params, now).evaluate(*ids)
        except Exception as exc:
            if is_outage(exc):
                raise
            log.exception("cannot evaluate %s %s; set aside for %s", kind, record_id, SET_ASIDE)
            async with sessionmaker() as session, session.begin():
                await set_aside(session, kind, record_id, now + SET_ASIDE)
            continue
        total.agreements += report.agreements
        total.engagements += report.engagements
        total.opened += report.opened
        total.resolved += report.resolved
    return total


def evaluator_component(
    params: RuleParameters,
    interval_s: float,
    batch: int,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Component:
    """For `create_service_app(components=[...])`; runs where the consumers run."""

    @asynccontextmanager
    async def component(app: FastAPI) -> AsyncIterator[None]:
        settings = app.state.settings
        if not settings.run_consumers:
            yield
            return
        stop, wake = asyncio.Event(), asyncio.Event()

        async def listen() -> None:
            """Wake the loop on every NOTIFY; on a lost connection, reconnect (the interval
            still drives the loop meanwhile)."""
            while not stop.is_set():
                connection = None
                try:
                    connection = await asyncpg.connect(asyncpg_dsn(settings.database_url))
                    await connection.add_listener(DUE_CHANNEL, lambda *_: wake.set())
                    wake.set()  # whatever was marked while nobody listened
                    while not stop.is_set() and not connection.is_closed():
                        await sleep_unless(stop, 1.0)
                except (OSError, asyncpg.PostgresError) as exc:
                    log.warning("evaluator cannot listen for due records: %r", exc)
                finally:
                    if connection is not None:
                        with suppress(Exception):
                            await asyncio.wait_for(connection.close(), 5)
                await sleep_unless(stop, 1.0)

        async def loop() -> None:
            while not stop.is_set():
                wake.clear()
                try:
                    report = await scheduled_pass(
                        app.state.db.sessionmaker, params, clock(), batch=batch
                    )
                    if report.opened or report.resolved:
                        log.info(
                            "evaluated: %d opened, %d resolved",
                            len(report.opened),
                            len(report.resolved),
                        )
                except Exception as exc:  # the next pass tries again
                    log.warning("evaluation pass failed: %r", exc)
                    await sleep_unless(stop, 1.0)
                await _wait(wake, stop, interval_s)

        async with (
            running_in_background(listen(), stop, name="reporting-due-listener", grace_s=5),
            running_in_background(loop(), stop, name="reporting-evaluator", grace_s=10),
        ):
            yield

    return component


async def _wait(wake: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    """Until a notification, a stop, or the interval."""
    waiters: list[Any] = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
