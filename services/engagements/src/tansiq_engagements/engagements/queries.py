"""Read side: one engagement, filtered lists with bilingual search. Every read applies the
visibility filter, so a restricted engagement the caller may not see is simply absent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from tansiq_common.auth import OrgScope, Principal
from tansiq_common.pagination import after_cursor, split_page
from tansiq_common.repository import Reader
from tansiq_common.search import matches

from tansiq_engagements.engagements.model import Engagement, EngagementNotFound
from tansiq_engagements.engagements.repository import MAPPER, parse_id, visibility_clause
from tansiq_engagements.engagements.tables import engagements

# Keyset order of every list: stable while engagements are added.
PAGE_ORDER = (engagements.c.created_at, engagements.c.id)


def to_model(row: Any) -> Engagement:
    engagement: Engagement = MAPPER.from_row(row)
    return engagement


async def get_engagement(
    session: Reader, engagement_id: str, scope: OrgScope, principal: Principal
) -> Engagement:
    """One engagement the caller may see; hidden and missing alike are 404."""
    canonical = parse_id(engagement_id)
    row = None
    if canonical is not None:
        row = (
            await session.execute(
                sa.select(engagements).where(
                    engagements.c.id == canonical, visibility_clause(scope, principal)
                )
            )
        ).first()
    if row is None:
        raise EngagementNotFound(f"No engagement {engagement_id}.")
    return to_model(row)


@dataclass(frozen=True)
class EngagementFilter:
    kind: str | None = None
    status: str | None = None
    channel: str | None = None
    visibility: str | None = None
    lead_org_id: str | None = None
    ministry_id: str | None = None
    org_id: str | None = None  # the lead or a participant
    agreement_id: str | None = None
    sdg: int | None = None
    sector: str | None = None
    priority: str | None = None
    country: str | None = None
    source: str | None = None
    external_id: str | None = None
    start_from: datetime | None = None
    start_before: datetime | None = None
    q: str | None = None


def _conditions(f: EngagementFilter) -> list[sa.ColumnElement[bool]]:
    t = engagements
    where: list[sa.ColumnElement[bool]] = []
    for column, value in (
        (t.c.kind, f.kind),
        (t.c.status, f.status),
        (t.c.channel, f.channel),
        (t.c.visibility, f.visibility),
        (t.c.source, f.source),
        (t.c.external_id, f.external_id),
    ):
        if value is not None:
            where.append(column == value)
    for column, raw in ((t.c.lead_org_id, f.lead_org_id), (t.c.lead_ministry_id, f.ministry_id)):
        if raw is not None:
            # An id that is not a UUID names no organization: an empty page, not an error.
            canonical = parse_id(raw)
            where.append(column == canonical if canonical else sa.false())
    for column, raw in ((t.c.party_org_ids, f.org_id), (t.c.agreement_ids, f.agreement_id)):
        if raw is not None:
            canonical = parse_id(raw)
            if canonical is None:
                where.append(sa.false())
            else:
                where.append(sa.type_coerce(column, ARRAY(sa.Text)).contains([canonical]))
    if f.country is not None:
        where.append(t.c.countries.contains([f.country.upper()]))
    if f.sdg is not None:
        where.append(t.c.themes.contains({"sdgs": [f.sdg]}))
    for key, code in (("sectors", f.sector), ("priorities", f.priority)):
        if code is not None:
            where.append(t.c.themes.contains({key: [code]}))
    if f.start_from is not None:
        where.append(t.c.start >= f.start_from)
    if f.start_before is not None:
        where.append(t.c.start < f.start_before)
    where.extend(matches(t.c.search_text, f.q))
    return where


def list_statement(
    f: EngagementFilter,
    scope: OrgScope,
    principal: Principal,
    *,
    limit: int,
    cursor: str | None,
) -> sa.Select[Any]:
    """The page query: keyset in (created_at, id) order, one row more than the page to see
    whether another page follows."""
    stmt = sa.select(engagements).where(visibility_clause(scope, principal), *_conditions(f))
    if cursor:
        stmt = stmt.where(after_cursor(PAGE_ORDER, cursor))
    return stmt.order_by(*PAGE_ORDER).limit(limit + 1)


async def list_engagements(
    session: Reader,
    f: EngagementFilter,
    scope: OrgScope,
    principal: Principal,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Engagement], str | None]:
    stmt = list_statement(f, scope, principal, limit=limit, cursor=cursor)
    rows, next_cursor = split_page(list(await session.execute(stmt)), PAGE_ORDER, limit)
    return [to_model(row) for row in rows], next_cursor
