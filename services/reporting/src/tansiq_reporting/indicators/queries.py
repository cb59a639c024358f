"""Read side of indicators: definitions, and each metric's yearly values over the replicas (only
the records the caller may see count)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from tansiq_common.auth import OrgScope, Principal
from tansiq_common.pagination import after_cursor, split_page
from tansiq_common.repository import parse_id

from tansiq_reporting.database import Reader
from tansiq_reporting.indicators.model import Indicator, IndicatorNotFound, Metric, YearValue
from tansiq_reporting.indicators.repository import MAPPER
from tansiq_reporting.indicators.tables import indicators
from tansiq_reporting.readmodels.model import AGREEMENT_REACHED_SIGNATURE, ENGAGEMENT_HELD
from tansiq_reporting.readmodels.tables import rm_agreements, rm_engagements
from tansiq_reporting.views.access import records_visible

PAGE_ORDER = (indicators.c.created_at, indicators.c.id)
SIGNED = sorted(AGREEMENT_REACHED_SIGNATURE | {"terminated"})
HELD = sorted(ENGAGEMENT_HELD)


@dataclass(frozen=True)
class IndicatorFilter:
    country: str | None = None
    metric: str | None = None
    status: str | None = None


async def list_indicators(
    session: Reader, f: IndicatorFilter, *, limit: int, cursor: str | None
) -> tuple[list[Indicator], str | None]:
    t = indicators
    stmt = sa.select(t)
    if f.country:
        stmt = stmt.where(t.c.country == f.country.upper())
    if f.metric:
        stmt = stmt.where(t.c.metric == f.metric)
    if f.status:
        stmt = stmt.where(t.c.status == f.status)
    if cursor:
        stmt = stmt.where(after_cursor(PAGE_ORDER, cursor))
    stmt = stmt.order_by(*PAGE_ORDER).limit(limit + 1)
    rows, next_cursor = split_page(list(await session.execute(stmt)), PAGE_ORDER, limit)
    return [MAPPER.from_row(row) for row in rows], next_cursor


async def get_indicator(session: Reader, indicator_id: str) -> Indicator:
    canonical = parse_id(indicator_id)
    row = None
    if canonical is not None:
        row = (
            await session.execute(sa.select(indicators).where(indicators.c.id == canonical))
        ).first()
    if row is None:
        raise IndicatorNotFound(f"No indicator {indicator_id}.")
    indicator: Indicator = MAPPER.from_row(row)
    return indicator


def _overlap(column: Any, values: tuple[Any, ...], item_type: Any) -> Any:
    return column.overlap(sa.cast(list(values), ARRAY(item_type)))


def _filters(indicator: Indicator, table: sa.Table) -> list[Any]:
    f = indicator.filters
    where: list[Any] = [table.c.counted_country == indicator.country]
    if indicator.kinds:
        where.append(table.c.kind.in_(indicator.kinds))
    if f.ministry_ids:
        where.append(table.c.counted_ministry_id.in_(f.ministry_ids))
    if f.partner_ids:
        where.append(_overlap(table.c.org_ids, f.partner_ids, sa.Text))
    if f.sdgs:
        where.append(_overlap(table.c.sdgs, f.sdgs, sa.Integer))
    if f.sectors:
        where.append(_overlap(table.c.sectors, f.sectors, sa.Text))
    if f.priorities:
        where.append(_overlap(table.c.priorities, f.priorities, sa.Text))
    return where


def _year(column: Any, timezone: str) -> Any:
    return sa.cast(sa.extract("year", sa.func.timezone(timezone, column)), sa.Integer)


async def series(
    session: Reader,
    indicator: Indicator,
    principal: Principal,
    scope: OrgScope,
    now: datetime,
    timezone: str,
) -> dict[int, YearValue]:
    """The metric per year, from the baseline year to the as-of year (the deadline or now)."""
    deadline_end = datetime.combine(indicator.target.deadline, datetime.max.time(), tzinfo=UTC)
    as_of = min(now, deadline_end)
    first = datetime(indicator.baseline.year, 1, 1, tzinfo=UTC)
    metric = indicator.metric
    if metric is Metric.agreements_signed:
        a = rm_agreements
        year = sa.cast(sa.extract("year", a.c.signed_on), sa.Integer)
        stmt = (
            sa.select(year.label("year"), sa.func.count().label("value"))
            .where(
                records_visible(principal, scope, a),
                *_filters(indicator, a),
                a.c.status.in_(SIGNED),
                a.c.signed_on.between(first.date(), as_of.date()),
            )
            .group_by(year)
        )
        rows = await session.execute(stmt)
        return {r.year: YearValue(r.year, float(r.value)) for r in rows}
    e = rm_engagements
    where = [
        records_visible(principal, scope, e),
        *_filters(indicator, e),
        e.c.status.in_(HELD),
    ]
    year = _year(e.c.start, timezone)
    where.append(e.c.start.between(first, as_of))
    if metric is Metric.coordinated_engagement_share:
        stmt = (
            sa.select(
                year.label("year"),
                sa.func.count().filter(e.c.coordinated).label("numerator"),
                sa.func.count().label("denominator"),
            )
            .where(*where, sa.func.cardinality(e.c.counted_partners) > 0)
            .group_by(year)
        )
        return {
            r.year: YearValue(r.year, r.numerator / r.denominator, r.numerator, r.denominator)
            for r in await session.execute(stmt)
        }
    if metric is Metric.nationals_trained:
        value: Any = sa.func.sum(e.c.nationals_trained)
    elif metric is Metric.placements:
        # Nationals placed: as the record counts them, at least one per placement.
        value = sa.func.sum(sa.func.greatest(e.c.nationals, 1))
    else:
        value = sa.func.count()
    stmt = sa.select(year.label("year"), value.label("value")).where(*where).group_by(year)
    return {r.year: YearValue(r.year, float(r.value or 0)) for r in await session.execute(stmt)}
