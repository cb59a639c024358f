"""Scorecards, the coverage matrix and freshness: reads over the counters, never the records."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from aiokafka import TopicPartition
from sqlalchemy.dialects.postgresql import ARRAY
from tansiq_common.auth import OrgScope, Principal
from tansiq_common.events.kafka import KafkaSecurity, admin_client, group_consumer
from tansiq_common.pagination import after_cursor, split_page

from tansiq_reporting.database import Reader
from tansiq_reporting.readmodels.tables import (
    coverage_cells,
    rebuild_state,
    scorecard_cells,
    scorecard_totals,
    topic_freshness,
)
from tansiq_reporting.views.access import counters_visible

RULES = tuple(f"C{n}" for n in range(1, 8))


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_back(until: str, count: int) -> list[str]:
    """`count` months ending at `until` (YYYY-MM), oldest first."""
    year, month = (int(part) for part in until.split("-"))
    found = []
    for _ in range(count):
        found.append(f"{year:04d}-{month:02d}")
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return found[::-1]


def _texts(values: set[str]) -> Any:
    return sa.cast(sorted(values), ARRAY(sa.Text))


def score(records: int, flagged: int) -> float | None:
    return None if records <= 0 else round((records - flagged) / records, 4)


# --- scorecards --------------------------------------------------------------------------------

S = scorecard_cells
T = scorecard_totals
SCORECARD_ORDER = (T.c.country, T.c.ministry_id)


@dataclass(frozen=True)
class ScorecardFilter:
    country: str | None = None
    ministry_id: str | None = None


async def scorecards(
    session: Reader,
    principal: Principal,
    scope: OrgScope,
    f: ScorecardFilter,
    *,
    until: str,
    months: int,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of ministries' totals (one row each), then their trend months (one row per
    ministry and month): reads proportional to the page, not to the records."""
    where = [counters_visible(principal, scope, T), T.c.records > 0]
    if f.country:
        where.append(T.c.country == f.country.upper())
    if f.ministry_id:
        where.append(T.c.ministry_id == f.ministry_id)
    stmt = sa.select(T).where(*where)
    if cursor:
        stmt = stmt.where(after_cursor(SCORECARD_ORDER, cursor))
    stmt = stmt.order_by(*SCORECARD_ORDER).limit(limit + 1)
    rows, next_cursor = split_page(list(await session.execute(stmt)), SCORECARD_ORDER, limit)
    if not rows:
        return [], None
    window = months_back(until, months)
    # Arrays and a month range: one index scan over the page's cells (a list of row tuples
    # would make the planner read every cell).
    trend_rows = await session.execute(
        sa.select(S.c.country, S.c.ministry_id, S.c.month, S.c.records, S.c.flagged).where(
            S.c.country == sa.func.any(_texts({row.country for row in rows})),
            S.c.ministry_id == sa.func.any(_texts({row.ministry_id for row in rows})),
            S.c.month.between(window[0], window[-1]),
        )
    )
    by_month: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
    for t in trend_rows:
        by_month.setdefault((t.country, t.ministry_id), {})[t.month] = (t.records, t.flagged)
    items = []
    for row in rows:
        months_of = by_month.get((row.country, row.ministry_id), {})
        items.append(
            {
                "ministry_id": row.ministry_id,
                "country": row.country or None,
                "score": score(row.records, row.flagged),
                "records": row.records,
                "records_with_findings": row.flagged,
                "by_rule": {r: getattr(row, r.lower()) for r in RULES},
                "trend": [
                    {
                        "month": m,
                        "records": months_of.get(m, (0, 0))[0],
                        "score": score(*months_of.get(m, (0, 0))),
                    }
                    for m in window
                ],
            }
        )
    return items, next_cursor


# --- coverage ----------------------------------------------------------------------------------

C = coverage_cells
COVERAGE_ORDER = (C.c.country, C.c.ministry_id, C.c.partner_id)


@dataclass(frozen=True)
class CoverageFilter:
    country: str | None = None
    ministry_id: str | None = None
    partner_id: str | None = None


async def coverage(
    session: Reader,
    principal: Principal,
    scope: OrgScope,
    f: CoverageFilter,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None]:
    stmt = sa.select(C).where(
        counters_visible(principal, scope, C), (C.c.engagements + C.c.agreements) > 0
    )
    if f.country:
        stmt = stmt.where(C.c.country == f.country.upper())
    if f.ministry_id:
        stmt = stmt.where(C.c.ministry_id == f.ministry_id)
    if f.partner_id:
        stmt = stmt.where(C.c.partner_id == f.partner_id)
    if cursor:
        stmt = stmt.where(after_cursor(COVERAGE_ORDER, cursor))
    stmt = stmt.order_by(*COVERAGE_ORDER).limit(limit + 1)
    return split_page(list(await session.execute(stmt)), COVERAGE_ORDER, limit)


# --- freshness ---------------------------------------------------------------------------------


async def last_applied(session: Reader) -> dict[str, Any]:
    rows = await session.execute(sa.select(topic_freshness))
    return {row.topic: row for row in rows}


async def rebuild(session: Reader) -> Any:
    return (await session.execute(sa.select(rebuild_state))).first()


class LagProbe:
    """The consumer group's lag per topic, read from Kafka (end offsets minus committed ones),
    cached for a few seconds; None while Kafka cannot say."""

    def __init__(
        self,
        bootstrap: str,
        group_id: str,
        topics: Sequence[str],
        security: KafkaSecurity,
        cache_s: float,
        timeout_s: float = 3.0,
    ) -> None:
        self.bootstrap, self.group_id, self.topics = bootstrap, group_id, list(topics)
        self.security, self.cache_s, self.timeout_s = security, cache_s, timeout_s
        self._cached: tuple[float, dict[str, int] | None] | None = None

    async def lag(self) -> dict[str, int] | None:
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < self.cache_s:
            return self._cached[1]
        try:
            found: dict[str, int] | None = await asyncio.wait_for(self._read(), self.timeout_s)
        except Exception:  # Kafka unreachable or slow: the lag is unknown, not an error
            found = None
        self._cached = (now, found)
        return found

    async def _read(self) -> dict[str, int]:
        admin = admin_client(self.bootstrap, "tansiq-reporting-freshness", security=self.security)
        consumer = group_consumer(
            self.bootstrap, security=self.security, group_id=None, enable_auto_commit=False
        )
        await admin.start()
        try:
            await consumer.start()
            try:
                # The consumer subscribes to nothing: ask for the topics' metadata (as replay does).
                await consumer._client.force_metadata_update()
                committed = await admin.list_consumer_group_offsets(self.group_id)
                partitions = [
                    TopicPartition(topic, p)
                    for topic in self.topics
                    for p in sorted(consumer.partitions_for_topic(topic) or ())
                ]
                ends = await consumer.end_offsets(partitions) if partitions else {}
            finally:
                await consumer.stop()
        finally:
            await admin.close()
        lag: dict[str, int] = {}
        for tp, end in ends.items():
            meta = committed.get(tp)
            position = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - position)
        return lag


def age_seconds(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round(max(0.0, (now - moment).total_seconds()), 3)
