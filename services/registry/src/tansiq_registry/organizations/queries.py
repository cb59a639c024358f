"""Read side: filtered lists with bilingual search, and the hierarchy view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tansiq_common.db import DriverReads, Params
from tansiq_common.pagination import page_sql, split_records
from tansiq_common.repository import statements_of
from tansiq_common.search import matches_sql

from tansiq_registry.organizations.model import Link, Organization, OrganizationNotFound, Status
from tansiq_registry.organizations.repository import MAPPER, chain, descendant_ids, parse_id
from tansiq_registry.organizations.tables import organizations

# The hierarchy view lists at most this many descendants (`descendants_truncated` says so).
MAX_DESCENDANTS = 1000


@dataclass(frozen=True)
class OrganizationFilter:
    kind: str | None = None
    scope: str | None = None
    country: str | None = None
    parent_id: str | None = None
    ministry_id: str | None = None
    designation: str | None = None
    status: str | None = None
    iati_identifier: str | None = None
    q: str | None = None
    include_archived: bool = False


# Keyset order of every list: stable while organizations are added.
PAGE_ORDER = (organizations.c.created_at, organizations.c.id)


# --- the API's reads: SQL text on the driver's connection, rows straight to JSON states -----------

# The columns of the model's fields (not the search text): what a state is read from.
_COLUMNS = ", ".join(MAPPER.columns())
_BY_ID = f"SELECT {_COLUMNS} FROM organizations WHERE id = $1"  # noqa: S608 - field names


async def organization_state(reads: DriverReads, org_id: str) -> dict[str, Any]:
    """One organization's JSON-ready state (what `Organization.snapshot()` gives); archived ones
    stay resolvable (other records point at them). An id that is no UUID names nothing."""
    canonical = parse_id(org_id)
    row = await reads.fetchrow(_BY_ID, canonical) if canonical is not None else None
    if row is None:
        raise OrganizationNotFound(f"No organization {org_id}.")
    state: dict[str, Any] = MAPPER.state_from_row(row)
    return state


def list_query(f: OrganizationFilter, *, limit: int, cursor: str | None) -> tuple[str, list[Any]]:
    """The page query and its arguments: keyset in (created_at, id) order, one row more than
    the page to see if another page follows. Kept apart so the benchmark can EXPLAIN exactly
    this statement. Every value is a bound parameter; the text depends only on which filters
    are given, so asyncpg prepares each shape once per connection."""
    where: list[str] = []
    p = Params()
    bind = p.bind

    for column, value in (
        ("kind", f.kind),
        ("scope", f.scope),
        ("iati_identifier", f.iati_identifier),
    ):
        if value is not None:
            where.append(f"{column} = {bind(value)}")
    if f.country is not None:
        where.append(f"country = {bind(f.country.upper())}")
    for column, raw in (("parent_id", f.parent_id), ("ministry_id", f.ministry_id)):
        if raw is not None:
            canonical = parse_id(raw)
            # An id that is not a UUID names no organization: an empty page, not an error.
            where.append(f"{column} = {bind(canonical)}" if canonical else "false")
    if f.designation is not None:
        where.append(f"designations @> {bind([f.designation])}")
    if f.status is not None:
        where.append(f"status = {bind(f.status)}")
    elif not f.include_archived:
        where.append(f"status = {bind(Status.active.value)}")
    # Every term must occur in the normalised text; the trigram index serves LIKE '%term%'.
    where.extend(matches_sql("search_text", f.q, bind))
    select = f"SELECT {_COLUMNS} FROM organizations"  # noqa: S608 - column names
    return page_sql(select, where, PAGE_ORDER, cursor, limit, bind), p.args


async def organization_states(
    reads: DriverReads, f: OrganizationFilter, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of JSON-ready states and the next page's cursor (None on the last page)."""
    sql, args = list_query(f, limit=limit, cursor=cursor)
    # A plan per search pattern (DriverReads.fetch says why).
    rows = await reads.fetch(sql, *args, plan_per_call=bool(f.q))
    # The id as text, as the column's type gives it (the cursors of every list agree).
    page, next_cursor = split_records(rows, limit, lambda row: (row["created_at"], str(row["id"])))
    return [MAPPER.state_from_row(row) for row in page], next_cursor


# --- the hierarchy view ----------------------------------------------------------------------

_ONE = statements_of(organizations).select_one
_MANY = statements_of(organizations).select_many


async def get_organization(reads: DriverReads, org_id: str) -> Organization:
    """One organization by id; archived ones stay resolvable (other records point at them)."""
    canonical = parse_id(org_id)
    row = None if canonical is None else await reads.fetchrow(_ONE, canonical)
    if row is None:
        raise OrganizationNotFound(f"No organization {org_id}.")
    org: Organization = MAPPER.from_row(row)
    return org


async def get_many(reads: DriverReads, ids: list[str]) -> dict[str, Organization]:
    canonical = [i for i in (parse_id(x) for x in ids) if i]
    if not canonical:
        return {}
    return {row["id"]: MAPPER.from_row(row) for row in await reads.fetch(_MANY, canonical)}


def summary(org: Organization, depth: int) -> dict[str, Any]:
    # The full state; the API's OrganizationSummary keeps the fields it documents.
    return {**org.snapshot(), "depth": depth}


async def hierarchy(reads: DriverReads, org: Organization) -> dict[str, Any]:
    above: list[Link] = (await chain(reads.fetch, org.id))[1:]
    wanted = [link.id for link in above]
    if org.ministry_id:
        wanted.append(org.ministry_id)
    known = await get_many(reads, wanted)
    ancestors = [
        summary(known[link.id], -(i + 1)) for i, link in enumerate(above) if link.id in known
    ]
    ancestors.reverse()
    ministry = None
    if org.ministry_id == org.id:
        ministry = summary(org, 0)
    elif org.ministry_id in known:
        depth = next((a["depth"] for a in ancestors if a["id"] == org.ministry_id), 0)
        ministry = summary(known[org.ministry_id], depth)
    below = await descendant_ids(reads.fetch, org.id, limit=MAX_DESCENDANTS + 1)
    truncated = len(below) > MAX_DESCENDANTS
    below = below[:MAX_DESCENDANTS]
    by_id = await get_many(reads, [i for i, _ in below])
    return {
        "organization": summary(org, 0),
        "ancestors": ancestors,
        "ministry": ministry,
        "descendants": [summary(by_id[i], depth) for i, depth in below if i in by_id],
        "descendants_truncated": truncated,
        "reporting_lines": [
            {"org_id": rl.org_id, "line": rl.line.value} for rl in org.reporting_lines
        ],
    }
