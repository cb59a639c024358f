"""Read side: one engagement (its report, its action items), filtered lists with bilingual
search. Every read applies the visibility rule, so a restricted engagement the caller may not see
is simply absent: missing and hidden alike are 404.

The reads run SQL text with $n parameters on the driver's connection (tansiq_common.db
.DriverReads) and turn rows straight into JSON-ready states (`RowMapper.state_from_row`), as
the registry's do:
none of SQLAlchemy's statement and result machinery, no aggregate built and encoded back. The
text depends only on which filters are given and on the caller's kind (a few visibility
shapes), so asyncpg prepares each shape once per connection; every value is bound.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tansiq_common.auth import OrgScope, Principal
from tansiq_common.codec import json_converter
from tansiq_common.db import DriverReads, Params
from tansiq_common.pagination import page_sql, split_records
from tansiq_common.search import matches_sql

from tansiq_engagements.engagements.model import (
    ActionItem,
    ActionItemNotFound,
    EngagementNotFound,
    Report,
    ReportNotFound,
)
from tansiq_engagements.engagements.repository import MAPPER, parse_id, visibility_sql
from tansiq_engagements.engagements.tables import engagements

# Keyset order of every list: stable while engagements are added.
PAGE_ORDER = (engagements.c.created_at, engagements.c.id)

# The state's columns, quoted ("end" is a keyword); the id as text, as the state holds it.
_SELECTED = ", ".join(
    "id::text AS id" if name == "id" else f'"{name}"' for name in MAPPER.columns()
)

Bind = Callable[[Any], str]


@dataclass(frozen=True)
class ReadAccess:
    """What every read needs: the driver's reads, and the caller whose visibility rule applies
    with their organization's scope."""

    reads: DriverReads
    principal: Principal
    scope: OrgScope


# --- one engagement ------------------------------------------------------------------------------


async def _visible_row(access: ReadAccess, engagement_id: str, columns: str) -> Any:
    """The row (those columns) of an engagement the caller may see; hidden and missing alike,
    and an id that is no UUID, are EngagementNotFound."""
    canonical = parse_id(engagement_id)
    row = None
    if canonical is not None:
        p = Params(canonical)
        where = ["id = $1"]
        visible = visibility_sql(access.scope, access.principal, p.bind)
        if visible is not None:
            where.append(visible)
        sql = f"SELECT {columns} FROM engagements WHERE {' AND '.join(where)}"  # noqa: S608
        row = await access.reads.fetchrow(sql, *p.args)
    if row is None:
        raise EngagementNotFound(f"No engagement {engagement_id}.")
    return row


async def engagement_state(access: ReadAccess, engagement_id: str) -> dict[str, Any]:
    """One engagement's JSON-ready state (what `Engagement.snapshot()` gives)."""
    return MAPPER.state_from_row(await _visible_row(access, engagement_id, _SELECTED))


_REPORT = json_converter(Report | None)
_ACTION_ITEMS = json_converter(tuple[ActionItem, ...])


async def report_state(access: ReadAccess, engagement_id: str) -> dict[str, Any]:
    """The report of an engagement the caller may see, with the engagement's version (its
    ETag); ReportNotFound when none is filed yet."""
    row = await _visible_row(access, engagement_id, "id, version, report")
    report = _REPORT(row["report"])
    if report is None:
        raise ReportNotFound(f"Engagement {row['id']} has no report yet.")
    return {**report, "version": row["version"]}


async def action_item_states(access: ReadAccess, engagement_id: str) -> list[dict[str, Any]]:
    """The action items of an engagement the caller may see, in the order they were added."""
    row = await _visible_row(access, engagement_id, "action_items")
    items: list[dict[str, Any]] = _ACTION_ITEMS(row["action_items"])
    return items


async def action_item_state(access: ReadAccess, engagement_id: str, item_id: str) -> dict[str, Any]:
    """One action item of an engagement the caller may see, with the engagement's version."""
    row = await _visible_row(access, engagement_id, "id, version, action_items")
    for item in _ACTION_ITEMS(row["action_items"]):
        if item["id"] == item_id:
            return {**item, "version": row["version"]}
    raise ActionItemNotFound(f"No action item {item_id} on engagement {row['id']}.")


# --- lists ---------------------------------------------------------------------------------------


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


def _conditions(f: EngagementFilter, bind: Bind) -> list[str]:
    where: list[str] = []
    for column, value in (
        ("kind", f.kind),
        ("status", f.status),
        ("channel", f.channel),
        ("visibility", f.visibility),
        ("source", f.source),
        ("external_id", f.external_id),
    ):
        if value is not None:
            where.append(f"{column} = {bind(value)}")
    for column, raw in (
        ("lead_org_id", f.lead_org_id),
        ("lead_ministry_id", f.ministry_id),
        ("party_org_ids", f.org_id),
        ("agreement_ids", f.agreement_id),
    ):
        if raw is not None:
            # An id that is not a UUID names no organization (agreement): an empty page.
            canonical = parse_id(raw)
            if canonical is None:
                where.append("false")
            elif column.endswith("_ids"):
                where.append(f"{column} @> {bind([canonical])}")
            else:
                where.append(f"{column} = {bind(canonical)}")
    if f.country is not None:
        where.append(f"countries @> {bind([f.country.upper()])}")
    for key, code in (("sdgs", f.sdg), ("sectors", f.sector), ("priorities", f.priority)):
        if code is not None:
            # JSON text: the connection's jsonb codec takes a document as text.
            where.append(f"themes @> {bind(json.dumps({key: [code]}))}")
    if f.start_from is not None:
        where.append(f"start >= {bind(f.start_from)}")
    if f.start_before is not None:
        where.append(f"start < {bind(f.start_before)}")
    # Every term must occur in the normalised text; the trigram index serves LIKE '%term%'.
    where.extend(matches_sql("search_text", f.q, bind))
    return where


def list_query(
    f: EngagementFilter,
    scope: OrgScope,
    principal: Principal,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[str, list[Any]]:
    """The page query and its arguments: keyset in (created_at, id) order, one row more than
    the page to see whether another page follows."""
    p = Params()
    visible = visibility_sql(scope, principal, p.bind)
    where = [visible] if visible is not None else []
    where.extend(_conditions(f, p.bind))
    select = f"SELECT {_SELECTED} FROM engagements"  # noqa: S608 - column names
    return page_sql(select, where, PAGE_ORDER, cursor, limit, p.bind), p.args


async def engagement_states(
    access: ReadAccess, f: EngagementFilter, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of JSON-ready states and the next page's cursor (None on the last page)."""
    sql, args = list_query(f, access.scope, access.principal, limit=limit, cursor=cursor)
    # A plan per search pattern (DriverReads.fetch says why).
    rows = await access.reads.fetch(sql, *args, plan_per_call=bool(f.q))
    # The id as text (the cursors of every list agree).
    page, next_cursor = split_records(rows, limit, lambda row: (row["created_at"], row["id"]))
    return [MAPPER.state_from_row(row) for row in page], next_cursor
