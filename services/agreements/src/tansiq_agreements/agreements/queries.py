"""Read side: one agreement, filtered lists with bilingual search, the history of an agreement.

Every query applies the visibility rule (`repository.visible`, and `repository.visible_text`, the
same rule as SQL text for the reads on the driver's connection): a restricted agreement the
caller may not see is absent from lists and searches, and a GET by id answers 404 as for a
missing one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from tansiq_common.auth import OrgScope, Principal
from tansiq_common.db import DriverReads, Params
from tansiq_common.pagination import (
    after_cursor,
    page_sql,
    split_page,
    split_records,
)
from tansiq_common.repository import Reader
from tansiq_common.search import matches_sql

from tansiq_agreements.agreements.model import AgreementNotFound, MilestoneNotFound
from tansiq_agreements.agreements.repository import (
    MAPPER,
    by_id,
    parse_id,
    visible,
    visible_text,
)
from tansiq_agreements.agreements.tables import agreement_history, agreements

# Keyset order of every list: stable while agreements are added.
PAGE_ORDER = (agreements.c.created_at, agreements.c.id)
HISTORY_ORDER = (agreement_history.c.version,)


# --- the API's reads: SQL text on the driver's connection, rows straight to JSON states -----------
# (tansiq_common.db.DriverReads, as the registry's reads): no SQLAlchemy statement, compile-cache
# lookup or result wrapping per statement. Every value is a bound $n parameter; the text depends
# only on which filters are given and on the shape of the caller's visibility rule, so asyncpg
# prepares each shape once per connection.

STATE_COLUMNS = tuple(MAPPER.columns())
# UUID columns written as text, as the model holds them.
_UUID_COLUMNS = frozenset({"id", "supersedes", "superseded_by"})
# Times read natively and written out here: the database writes fractions of a second otherwise
# than `datetime.isoformat` (which the snapshot uses).
_TIMES = ("created_at", "updated_at")


def _member(name: str) -> str:
    if name in _TIMES:
        return f"'{name}', NULL"  # holds its place in the field order
    if name in _UUID_COLUMNS:
        return f"'{name}', {name}::text"
    return f"'{name}', {name}"


# The state as one JSON document per row, built by the database in the model's field order:
# nested values are stored as the JSON the snapshot has (JSONB) and dates are written in ISO 8601
# as the snapshot writes them, so a row is one document to decode instead of eight JSONB values.
# Written as text and decoded here, whatever codecs the connection has.
_SELECTED = (
    f"json_build_object({', '.join(_member(name) for name in STATE_COLUMNS)})::text, "
    f"{', '.join(_TIMES)}"
)


def state_from_record(row: Sequence[Any]) -> dict[str, Any]:
    """The agreement's state (`Agreement.snapshot()`, key for key and in its order) from a
    record of `_SELECTED`."""
    state: dict[str, Any] = json.loads(row[0])
    state["created_at"] = row[1].isoformat()
    state["updated_at"] = row[2].isoformat()
    return state


async def _visible_record(
    reads: DriverReads, agreement_id: str, principal: Principal, scope: OrgScope, columns: str
) -> Any:
    """The agreement's record if it exists and the caller may see it; otherwise 404, the same
    answer for one that is not there and one the caller may not see."""
    canonical = parse_id(agreement_id)
    row = None
    if canonical is not None:
        sql, args = by_id(canonical, columns, principal, scope)
        row = await reads.fetchrow(sql, *args)
    if row is None:
        raise AgreementNotFound(f"No agreement {agreement_id}.")
    return row


async def agreement_state(
    reads: DriverReads, agreement_id: str, principal: Principal, scope: OrgScope
) -> dict[str, Any]:
    """One agreement's JSON-ready state, if the caller may see it (404 otherwise)."""
    return state_from_record(
        await _visible_record(reads, agreement_id, principal, scope, _SELECTED)
    )


async def milestone_states(
    reads: DriverReads, agreement_id: str, principal: Principal, scope: OrgScope
) -> tuple[str, int, list[dict[str, Any]]]:
    """The agreement's id, version and milestones (each as `to_json(milestone)`, by due date),
    if the caller may see it: only those columns are read."""
    row = await _visible_record(
        reads, agreement_id, principal, scope, "id::text, version, milestones::text"
    )
    milestones: list[dict[str, Any]] = json.loads(row[2])
    # ISO dates sort as the dates do.
    milestones.sort(key=lambda m: (m["due_on"], m["id"]))
    return row[0], row[1], milestones


async def milestone_state(
    reads: DriverReads,
    agreement_id: str,
    milestone_id: str,
    principal: Principal,
    scope: OrgScope,
) -> tuple[int, dict[str, Any]]:
    """The agreement's version and one of its milestones (`Agreement.milestone`, read from the
    row): MilestoneNotFound if it has none of that id."""
    found, version, milestones = await milestone_states(reads, agreement_id, principal, scope)
    wanted = parse_id(milestone_id) or milestone_id
    for milestone in milestones:
        if milestone["id"] == wanted:
            return version, milestone
    raise MilestoneNotFound(f"No milestone {wanted} in agreement {found}.")


async def _visible_id(
    session: Reader, agreement_id: str, principal: Principal, scope: OrgScope
) -> str:
    """The agreement's id if the caller may see it (404 otherwise), nothing else read."""
    canonical = parse_id(agreement_id)
    found = None
    if canonical is not None:
        found = (
            await session.execute(
                sa.select(agreements.c.id).where(
                    agreements.c.id == canonical, visible(principal, scope)
                )
            )
        ).scalar()
    if found is None:
        raise AgreementNotFound(f"No agreement {agreement_id}.")
    return str(found)


@dataclass(frozen=True)
class AgreementFilter:
    statuses: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    owner_org_id: str | None = None
    party_org_id: str | None = None
    ministry_id: str | None = None
    sdgs: tuple[int, ...] = ()
    sector: str | None = None
    priority: str | None = None
    expiring_before: date | None = None
    signed_from: date | None = None
    signed_to: date | None = None
    cleared: bool | None = None
    signed_uncleared: bool | None = None
    visibility: str | None = None
    supersedes: str | None = None
    q: str | None = None


def _conditions(f: AgreementFilter, p: Params) -> list[str]:
    where: list[str] = []
    if f.statuses:
        where.append(f"status = ANY({p.bind(list(f.statuses))})")
    if f.kinds:
        where.append(f"kind = ANY({p.bind(list(f.kinds))})")
    for column, raw in (
        ("owner_org_id", f.owner_org_id),
        ("owner_ministry_id", f.ministry_id),
        ("supersedes", f.supersedes),
    ):
        if raw is not None:
            canonical = parse_id(raw)
            # An id that is no UUID names no organization or agreement: an empty page.
            where.append(f"{column} = {p.bind(canonical)}" if canonical else "false")
    if f.party_org_id is not None:
        canonical = parse_id(f.party_org_id)
        where.append(f"party_org_ids @> {p.bind([canonical])}" if canonical else "false")
    # Themes: containment in the JSONB document, served by its GIN index (the driver's JSONB
    # codec takes the document as JSON text).
    for key, values in (
        ("sdgs", list(f.sdgs)),
        ("sectors", [f.sector] if f.sector is not None else []),
        ("priorities", [f.priority] if f.priority is not None else []),
    ):
        if values:
            where.append(f"themes @> {p.bind(json.dumps({key: values}))}")
    if f.expiring_before is not None:
        where.append(f"expires_on < {p.bind(f.expiring_before)}")
    if f.signed_from is not None:
        where.append(f"signed_on >= {p.bind(f.signed_from)}")
    if f.signed_to is not None:
        where.append(f"signed_on <= {p.bind(f.signed_to)}")
    # The flags are booleans of ours, not input text: written as keywords.
    if f.cleared is not None:
        where.append(f"cleared IS {'true' if f.cleared else 'false'}")
    if f.signed_uncleared is not None:
        where.append(f"signed_uncleared IS {'true' if f.signed_uncleared else 'false'}")
    if f.visibility is not None:
        where.append(f"visibility = {p.bind(f.visibility)}")
    # Every term must occur in the normalised text; the trigram index serves LIKE '%term%'.
    where.extend(matches_sql("search_text", f.q, p.bind))
    return where


def _where(f: AgreementFilter, principal: Principal, scope: OrgScope, p: Params) -> list[str]:
    seen = visible_text(principal, scope, p)
    return ([seen] if seen is not None else []) + _conditions(f, p)


def list_query(
    f: AgreementFilter,
    principal: Principal,
    scope: OrgScope,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[str, list[Any]]:
    """The page query and its arguments: keyset in (created_at, id) order, one row more than
    the page to see if another page follows. Kept apart so a benchmark can EXPLAIN it."""
    p = Params()
    select = f"SELECT {_SELECTED} FROM agreements"  # noqa: S608 - column names
    sql = page_sql(select, _where(f, principal, scope, p), PAGE_ORDER, cursor, limit, p.bind)
    return sql, p.args


async def agreement_states(
    reads: DriverReads,
    f: AgreementFilter,
    principal: Principal,
    scope: OrgScope,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the states the caller may see, and the next page's cursor (None on the last)."""
    sql, args = list_query(f, principal, scope, limit=limit, cursor=cursor)
    rows = await reads.fetch(sql, *args, plan_per_call=bool(f.q))  # DriverReads.fetch: why
    # The id as text, as the SQLAlchemy path wrote it: cursors issued before still work.
    page, next_cursor = split_records(rows, limit, _cursor_of)
    return [state_from_record(row) for row in page], next_cursor


def _cursor_of(row: Sequence[Any]) -> tuple[Any, str]:
    # (created_at, id) of a record of `_SELECTED`: the id is in its state.
    return row[1], json.loads(row[0])["id"]


async def count_agreements(
    reads: DriverReads, f: AgreementFilter, principal: Principal, scope: OrgScope
) -> int:
    """How many agreements match, of those the caller may see."""
    p = Params()
    where = _where(f, principal, scope, p)
    sql = "SELECT count(*) FROM agreements"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = await reads.fetch(sql, *p.args, plan_per_call=bool(f.q))
    return int(rows[0][0])


async def history(
    session: Reader,
    agreement_id: str,
    principal: Principal,
    scope: OrgScope,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The agreement's versions, oldest first: who, when, which transition or fields."""
    found = await _visible_id(session, agreement_id, principal, scope)
    h = agreement_history
    stmt = sa.select(h).where(h.c.agreement_id == found)
    if cursor:
        stmt = stmt.where(after_cursor(HISTORY_ORDER, cursor))
    stmt = stmt.order_by(*HISTORY_ORDER).limit(limit + 1)
    rows, next_cursor = split_page(list(await session.execute(stmt)), HISTORY_ORDER, limit)
    return [
        {
            "version": row.version,
            "event": row.event,
            "changed_fields": list(row.changed_fields),
            "details": dict(row.details or {}),
            "actor": {"sub": row.actor_sub, "org_id": row.actor_org},
            "request_id": row.request_id,
            "at": row.at,
        }
        for row in rows
    ], next_cursor
