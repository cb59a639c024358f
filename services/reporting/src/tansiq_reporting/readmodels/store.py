"""Reading and writing the replicas: upserts that keep the newest version, the hierarchy's derived
fields, and the neighbourhoods the rules look at."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from tansiq_common.codec import to_json
from tansiq_common.events.consumer import apply_if_newer

from tansiq_reporting.readmodels.model import (
    AGREEMENT_IN_PROGRESS,
    CANCELLED,
    ActionItem,
    Agreement,
    Engagement,
    Org,
    Text,
    Themes,
)
from tansiq_reporting.readmodels.tables import (
    rebuild_state,
    rm_agreements,
    rm_engagement_orgs,
    rm_engagements,
    rm_organizations,
)

TEXT_ARRAY = ARRAY(sa.Text)

R = TypeVar("R")


class NotNewer(Exception):
    """The replica already holds this version of the record or a newer one."""


def _array(values: Iterable[str]) -> Any:
    return sa.cast(list(values), TEXT_ARRAY)


# --- organizations -----------------------------------------------------------------------------


def org_from_row(row: Any) -> Org:
    return Org(
        id=row.id,
        names=Text(ar=row.name_ar, en=row.name_en),
        acronym=row.acronym,
        kind=row.kind,
        scope=row.scope,
        country=row.country,
        parent_id=row.parent_id,
        status=row.status,
        designations=tuple(row.designations or ()),
        ministry_id=row.ministry_id,
        coordinating=bool(row.coordinating),
    )


async def upsert_organization(session: AsyncSession, org: Org, version: int) -> Org | None:
    """Store the organization unless a newer version is there; the previous state (None if new)
    when applied. Derived fields are recomputed afterwards (`rederive_subtree`)."""
    previous = await load_orgs(session, [org.id])
    applied = await apply_if_newer(
        session,
        rm_organizations,
        {"id": org.id},
        version,
        {
            "kind": org.kind,
            "scope": org.scope,
            "country": org.country,
            "parent_id": org.parent_id,
            "status": org.status,
            "designations": list(org.designations),
            "name_ar": org.names.ar,
            "name_en": org.names.en,
            "acronym": org.acronym,
            "applied_at": sa.func.now(),
        },
    )
    if not applied:
        raise NotNewer
    return previous.get(org.id)


async def load_orgs(session: AsyncSession, ids: Iterable[str]) -> dict[str, Org]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await session.execute(
        sa.select(rm_organizations).where(rm_organizations.c.id.in_(wanted))
    )
    return {row.id: org_from_row(row) for row in rows}


async def _ancestors(session: AsyncSession, org_id: str) -> list[Org]:
    """The organization's known ancestors, nearest first (a cycle in bad data ends the walk)."""
    rows = await session.execute(
        sa.text(
            """
            WITH RECURSIVE up(id, depth) AS (
                SELECT parent_id, 1 FROM rm_organizations WHERE id = :start
                UNION ALL
                SELECT o.parent_id, up.depth + 1
                FROM rm_organizations o JOIN up ON o.id = up.id
                WHERE o.parent_id IS NOT NULL
            ) CYCLE id SET is_cycle USING path
            SELECT o.* FROM up JOIN rm_organizations o ON o.id = up.id
            WHERE NOT up.is_cycle ORDER BY up.depth
            """
        ),
        {"start": org_id},
    )
    return [org_from_row(row) for row in rows]


async def _subtree(session: AsyncSession, org_id: str) -> list[Org]:
    """The organization and everything below it, parents before children."""
    rows = await session.execute(
        sa.text(
            """
            WITH RECURSIVE down(id, depth) AS (
                SELECT id, 0 FROM rm_organizations WHERE id = :start
                UNION ALL
                SELECT o.id, down.depth + 1
                FROM rm_organizations o JOIN down ON o.parent_id = down.id
            ) CYCLE id SET is_cycle USING path
            SELECT o.* FROM down JOIN rm_organizations o ON o.id = down.id
            WHERE NOT down.is_cycle ORDER BY down.depth, o.id
            """
        ),
        {"start": org_id},
    )
    return [org_from_row(row) for row in rows]


async def rederive_subtree(session: AsyncSession, org_id: str) -> set[str]:
    """Recompute `ministry_id` and `coordinating` for the organization and its whole subtree from
    the replicated hierarchy; the ids of those whose derived fields changed."""
    above = await _ancestors(session, org_id)
    nodes = await _subtree(session, org_id)
    # What each node hands its children: its ministry if it is national (the unbroken national
    # chain continues), and whether an active coordinating body sits at or above it.
    parent_ministry: str | None = None
    parent_designated = False
    for ancestor in reversed(above):  # from the top down
        parent_ministry = (parent_ministry or ancestor.id) if ancestor.national else None
        parent_designated = parent_designated or _designated(ancestor)
    handed: dict[str, tuple[str | None, bool]] = {}
    changed: dict[str, tuple[str | None, bool]] = {}
    for node in nodes:
        if node.id == org_id:
            inherited = (parent_ministry, parent_designated)
        else:
            inherited = handed.get(node.parent_id or "", (None, False))
        ministry = (inherited[0] or node.id) if node.national else None
        designated = inherited[1] or _designated(node)
        coordinating = node.status == "active" and designated
        handed[node.id] = (ministry if node.national else None, designated)
        if (node.ministry_id, node.coordinating) != (ministry, coordinating):
            changed[node.id] = (ministry, coordinating)
    for node_id, (ministry, coordinating) in changed.items():
        await session.execute(
            sa.update(rm_organizations)
            .where(rm_organizations.c.id == node_id)
            .values(ministry_id=ministry, coordinating=coordinating)
        )
    return set(changed)


def _designated(org: Org) -> bool:
    return org.status == "active" and "coordinating_body" in org.designations


async def orgs_of_ministry(session: AsyncSession, ministry_id: str) -> set[str]:
    rows = await session.execute(
        sa.select(rm_organizations.c.id).where(rm_organizations.c.ministry_id == ministry_id)
    )
    return {row.id for row in rows}


async def records_naming(
    session: AsyncSession, org_ids: Iterable[str]
) -> tuple[set[str], set[str]]:
    """(agreement ids, engagement ids) of the records that name any of the organizations."""
    ids = sorted(set(org_ids))
    if not ids:
        return set(), set()
    agreements = await session.execute(
        sa.select(rm_agreements.c.id).where(rm_agreements.c.org_ids.overlap(_array(ids)))
    )
    engagements = await session.execute(
        sa.select(rm_engagements.c.id).where(rm_engagements.c.org_ids.overlap(_array(ids)))
    )
    return {r.id for r in agreements}, {r.id for r in engagements}


# --- agreements --------------------------------------------------------------------------------


def agreement_values(a: Agreement) -> dict[str, Any]:
    return {
        "kind": a.kind,
        "status": a.status,
        "title_ar": a.title.ar,
        "title_en": a.title.en,
        "owner_org_id": a.owner_org_id,
        "party_org_ids": list(a.party_org_ids),
        "org_ids": list(a.org_ids),
        "sdgs": list(a.themes.sdgs),
        "sectors": list(a.themes.sectors),
        "priorities": list(a.themes.priorities),
        "signed_on": a.signed_on,
        "effective_from": a.effective_from,
        "expires_on": a.expires_on,
        "cleared": a.cleared,
        "supersedes": a.supersedes,
        "visibility": a.visibility,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
    }


def agreement_from_row(row: Any) -> Agreement:
    return Agreement(
        id=row.id,
        version=row.version,
        title=Text(ar=row.title_ar, en=row.title_en),
        kind=row.kind,
        status=row.status,
        owner_org_id=row.owner_org_id,
        party_org_ids=tuple(row.party_org_ids or ()),
        themes=Themes(tuple(row.sdgs or ()), tuple(row.sectors or ()), tuple(row.priorities or ())),
        signed_on=row.signed_on,
        effective_from=row.effective_from,
        expires_on=row.expires_on,
        cleared=row.cleared,
        supersedes=row.supersedes,
        visibility=row.visibility,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


_BATCH_UPSERTS: dict[tuple[str, str], sa.TextualSelect] = {}


def _batch_upsert_statement(table: sa.Table, columns: list[str], remember: str) -> sa.TextualSelect:
    """`apply_if_newer` for many records that also marks them due and returns `remember` as it
    was before, as one statement built once per table: the records' states travel as one JSON
    array (one bound value, so one prepared statement whatever the batch's size)."""
    key = (table.name, remember)
    if key not in _BATCH_UPSERTS:
        names = ["id", "version", *columns]
        quoted = [f'"{name}"' for name in names]
        dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
        shape = ", ".join(
            f"{q} {table.c[name].type.compile(dialect=dialect)}"
            for name, q in zip(names, quoted, strict=True)
        )
        sets = ", ".join(f"{q} = EXCLUDED.{q}" for q in quoted[1:])
        # Names and types of our own table's columns only, never a value.
        sql = (
            f"WITH r AS (SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r({shape})), "  # noqa: S608
            f'before AS (SELECT t.id, t."{remember}" AS previous FROM {table.name} t '
            "JOIN r ON t.id = r.id), "
            f"upsert AS (INSERT INTO {table.name} ({', '.join(quoted)}, applied_at, due, marks) "
            f"SELECT {', '.join(quoted)}, now(), true, 1 FROM r ORDER BY id "
            f"ON CONFLICT (id) DO UPDATE SET {sets}, applied_at = now(), due = true, "
            f"marks = {table.name}.marks + 1 "
            f"WHERE {table.name}.version < EXCLUDED.version RETURNING id) "
            "SELECT upsert.id, before.previous FROM upsert "
            "LEFT JOIN before ON before.id = upsert.id"
        )
        _BATCH_UPSERTS[key] = sa.text(sql).columns(
            sa.column("id", sa.Text), sa.column("previous", table.c[remember].type)
        )
    return _BATCH_UPSERTS[key]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


def upsert_many(
    session: Session,
    table: sa.Table,
    records: Mapping[str, tuple[int, dict[str, Any]]],
    remember: sa.Column[Any],
) -> dict[str, Any]:
    """Store each record's state (by id: its version and values) unless the stored version is
    as new or newer, and mark it due, in one statement; for each record stored, `remember` as
    it was before (None when the record is new). Synchronous: it runs as the consumer's
    transaction commits (see tansiq_reporting.consumer)."""
    if not records:
        return {}
    rows = [
        {**values, "id": record_id, "version": version}
        for record_id, (version, values) in sorted(records.items())
    ]
    columns = sorted(rows[0].keys() - {"id", "version"})
    stmt = _batch_upsert_statement(table, columns, str(remember.name))
    result = session.execute(stmt, {"rows": json.dumps(rows, default=_json_value)})
    return {row.id: row.previous for row in result}


def mark_due(session: Session, table: sa.Table, ids: Iterable[str]) -> None:
    """Have the evaluator's next pass evaluate these records (during a rebuild: the pass that
    ends it). The consumer sets the mark; only the evaluator clears it, and only if no other
    mark came since it read the record, so a change made meanwhile is evaluated too."""
    wanted = sorted({i for i in ids if i})
    if wanted:
        session.execute(
            sa.update(table).where(table.c.id.in_(wanted)).values(due=True, marks=table.c.marks + 1)
        )


async def load_agreements(
    session: AsyncSession, ids: Iterable[str], marks: dict[str, int] | None = None
) -> dict[str, Agreement]:
    """By id; `marks` gets each one's due marks as read (see `clear_due`)."""
    return await _load(session, rm_agreements, agreement_from_row, ids, marks)


async def _load(
    session: AsyncSession,
    table: sa.Table,
    from_row: Callable[[Any], R],
    ids: Iterable[str],
    marks: dict[str, int] | None,
) -> dict[str, R]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = await session.execute(sa.select(table).where(table.c.id == sa.func.any(_array(wanted))))
    found = {}
    for row in rows:
        found[row.id] = from_row(row)
        if marks is not None:
            marks.setdefault(row.id, row.marks)
    return found


async def contacts(
    session: AsyncSession, agreement_ids: Sequence[str], now: datetime
) -> dict[str, tuple[datetime | None, datetime | None]]:
    """Per agreement: the latest start not after `now` and the earliest after it, of the
    engagements linked to it that are not cancelled (rule C4)."""
    if not agreement_ids:
        return {}
    rows = await session.execute(
        sa.text(
            """
            SELECT a.agreement_id,
                   max(e.start) FILTER (WHERE e.start <= :now) AS last,
                   min(e.start) FILTER (WHERE e.start > :now) AS next
            FROM rm_engagements e CROSS JOIN LATERAL unnest(e.agreement_ids) AS a(agreement_id)
            WHERE e.agreement_ids && CAST(:ids AS text[])
              AND e.status IS DISTINCT FROM 'cancelled'
              AND a.agreement_id = ANY(CAST(:ids AS text[]))
            GROUP BY a.agreement_id
            """
        ),
        {"now": now, "ids": list(agreement_ids)},
    )
    wanted = set(agreement_ids)
    return {row.agreement_id: (row.last, row.next) for row in rows if row.agreement_id in wanted}


async def with_successor(session: AsyncSession, agreement_ids: Sequence[str]) -> set[str]:
    """The agreements that another agreement in progress supersedes (rule C6)."""
    if not agreement_ids:
        return set()
    rows = await session.execute(
        sa.select(rm_agreements.c.supersedes)
        .where(
            rm_agreements.c.supersedes.in_(list(agreement_ids)),
            rm_agreements.c.status.in_(sorted(AGREEMENT_IN_PROGRESS)),
        )
        .distinct()
    )
    return {row.supersedes for row in rows}


# --- engagements -------------------------------------------------------------------------------


def engagement_values(e: Engagement) -> dict[str, Any]:
    return {
        "kind": e.kind,
        "status": e.status,
        "title_ar": e.title.ar,
        "title_en": e.title.en,
        "start": e.start,
        "end": e.end,
        "lead_org_id": e.lead_org_id,
        "participant_org_ids": list(e.participant_org_ids),
        "org_ids": list(e.org_ids),
        "attendees_total": e.attendees_total,
        "nationals": e.nationals,
        "nationals_trained": e.nationals_trained,
        "agreement_ids": list(e.agreement_ids),
        "related_engagement_ids": list(e.related_engagement_ids),
        "sdgs": list(e.themes.sdgs),
        "sectors": list(e.themes.sectors),
        "priorities": list(e.themes.priorities),
        "channel": e.channel,
        "coordinating_body_notified_at": e.coordinating_body_notified_at,
        "report_due_on": e.report_due_on,
        "report_submitted_at": e.report_submitted_at,
        "action_items": to_json(e.action_items),
        "visibility": e.visibility,
        "source": e.source,
        "external_id": e.external_id,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
    }


def engagement_from_row(row: Any) -> Engagement:
    items = tuple(
        ActionItem(
            title=item.get("title") or "",
            due_on=_date_or_none(item.get("due_on")),
            status=item.get("status"),
            owner_org_id=item.get("owner_org_id"),
        )
        for item in row.action_items or ()
    )
    return Engagement(
        id=row.id,
        version=row.version,
        title=Text(ar=row.title_ar, en=row.title_en),
        kind=row.kind,
        status=row.status,
        start=row.start,
        end=row.end,
        lead_org_id=row.lead_org_id,
        participant_org_ids=tuple(row.participant_org_ids or ()),
        attendees_total=row.attendees_total,
        nationals=row.nationals,
        nationals_trained=row.nationals_trained,
        agreement_ids=tuple(row.agreement_ids or ()),
        related_engagement_ids=tuple(row.related_engagement_ids or ()),
        themes=Themes(tuple(row.sdgs or ()), tuple(row.sectors or ()), tuple(row.priorities or ())),
        channel=row.channel,
        coordinating_body_notified_at=row.coordinating_body_notified_at,
        report_due_on=row.report_due_on,
        report_submitted_at=row.report_submitted_at,
        action_items=items,
        visibility=row.visibility,
        source=row.source,
        external_id=row.external_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _date_or_none(value: Any) -> date | None:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


async def load_engagements(
    session: AsyncSession, ids: Iterable[str], marks: dict[str, int] | None = None
) -> dict[str, Engagement]:
    """By id; `marks` gets each one's due marks as read (see `clear_due`)."""
    return await _load(session, rm_engagements, engagement_from_row, ids, marks)


async def neighbourhoods(
    session: AsyncSession,
    wanted: Sequence[tuple[Engagement, Sequence[str]]],
    window_days: int,
    marks: dict[str, int] | None = None,
) -> dict[str, list[Engagement]]:
    """For each (engagement, its international partners): the engagements (not cancelled)
    naming one of those partners that started within the window of its start — the only ones
    rule C3 can pair it with. One query for them all; `marks` gets their due marks as read."""
    asked = [
        {"eid": e.id, "start": e.start.isoformat(), "partners": list(partners)}
        for e, partners in wanted
        if e.start is not None and partners
    ]
    found: dict[str, list[Engagement]] = {e.id: [] for e, _ in wanted}
    if not asked:
        return found
    t = rm_engagements
    q = (
        sa.func.jsonb_to_recordset(sa.cast(asked, JSONB))
        .table_valued(
            sa.column("eid", sa.Text),
            sa.column("start", sa.DateTime(timezone=True)),
            sa.column("partners", TEXT_ARRAY),
        )
        .render_derived(name="q", with_types=True)
    )
    window = timedelta(days=window_days)
    # Per engagement asked about, each partner's engagements within the window: an index range
    # of rm_engagement_orgs each (never the whole window, never all of a partner's).
    partner = sa.func.unnest(q.c.partners).table_valued("value").render_derived(name="p")
    n = rm_engagement_orgs
    near = (
        sa.select(n.c.engagement_id)
        .select_from(partner)
        .join(n, n.c.org_id == partner.c.value)
        .where(n.c.start.between(q.c.start - window, q.c.start + window))
        .distinct()
        .lateral("near")
    )
    rows = await session.execute(
        sa.select(q.c.eid.label("neighbour_of"), t)
        .select_from(q)
        .join(near, sa.true())
        .join(
            t,
            sa.and_(
                t.c.id == near.c.engagement_id,
                t.c.id != q.c.eid,
                t.c.status.is_distinct_from(CANCELLED),
            ),
        )
    )
    for row in rows:
        found[row.neighbour_of].append(engagement_from_row(row))
        if marks is not None:
            marks.setdefault(row.id, row.marks)
    return found


# --- rebuilds ----------------------------------------------------------------------------------


async def set_rebuilding(session: AsyncSession, on: bool) -> None:
    values: dict[str, Any] = {"rebuilding": on}
    values["started_at" if on else "finished_at"] = sa.func.now()
    stmt = insert(rebuild_state).values(id=1, **values)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=[rebuild_state.c.id], set_=values)
    )


async def set_aside(session: AsyncSession, kind: str, record_id: str, until: datetime) -> None:
    """Leave a record alone until `until` (its evaluation failed)."""
    table = rm_agreements if kind == "agreement" else rm_engagements
    await session.execute(
        sa.update(table).where(table.c.id == record_id).values(due=False, recheck_at=until)
    )
