"""Read side of findings: the filtered list (keyset pages) and one finding with its records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from tansiq_common.auth import OrgScope, Principal
from tansiq_common.pagination import after_cursor, split_page
from tansiq_common.repository import parse_id

from tansiq_reporting.database import Reader
from tansiq_reporting.findings.model import Finding, FindingNotFound
from tansiq_reporting.findings.repository import MAPPER
from tansiq_reporting.findings.tables import findings
from tansiq_reporting.readmodels.tables import rm_agreements, rm_engagements, rm_organizations
from tansiq_reporting.views.access import findings_visible

PAGE_ORDER = (findings.c.opened_at, findings.c.id)
# The finding's state; the derived columns (anchor, record ids, access) serve WHERE clauses only.
STATE = [findings.c[name] for name in MAPPER.columns()]


@dataclass(frozen=True)
class FindingFilter:
    rule: str | None = None
    ministry_id: str | None = None
    status: str | None = None
    partner: str | None = None
    since: datetime | None = None
    country: str | None = None
    record_id: str | None = None


def _conditions(f: FindingFilter) -> list[sa.ColumnElement[bool]]:
    t = findings
    where: list[sa.ColumnElement[bool]] = []
    for column, value in (
        (t.c.rule, f.rule),
        (t.c.ministry_id, f.ministry_id),
        (t.c.status, f.status),
        (t.c.country, f.country.upper() if f.country else None),
    ):
        if value is not None:
            where.append(column == value)
    if f.partner is not None:
        where.append(t.c.partner_ids.contains(sa.cast([f.partner], t.c.partner_ids.type)))
    if f.record_id is not None:
        where.append(t.c.record_ids.contains(sa.cast([f.record_id], t.c.record_ids.type)))
    if f.since is not None:
        where.append(t.c.opened_at >= f.since)
    return where


def list_statement(
    principal: Principal, scope: OrgScope, f: FindingFilter, *, limit: int, cursor: str | None
) -> sa.Select[Any]:
    stmt = sa.select(*STATE).where(findings_visible(principal, scope, findings), *_conditions(f))
    if cursor:
        stmt = stmt.where(after_cursor(PAGE_ORDER, cursor))
    return stmt.order_by(*PAGE_ORDER).limit(limit + 1)


def state_of(row: Any) -> dict[str, Any]:
    """A finding row as its JSON-ready state (what `Finding.snapshot()` gives), read straight
    from the columns: a page of fifty costs no round trip through the aggregate."""
    return {
        "id": row.id,
        "rule": row.rule,
        "status": row.status,
        "ministry_id": row.ministry_id,
        "country": row.country,
        "records": row.records,
        "partner_ids": list(row.partner_ids or ()),
        "explanation": row.explanation,
        "resolution": row.resolution,
        "details": row.details,
        "access": row.access,
        "opened_at": row.opened_at.isoformat(),
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
        "acknowledgement": row.acknowledgement,
        "acceptance": row.acceptance,
        "version": row.version,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


async def list_findings(
    session: Reader,
    principal: Principal,
    scope: OrgScope,
    f: FindingFilter,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    stmt = list_statement(principal, scope, f, limit=limit, cursor=cursor)
    rows, next_cursor = split_page(list(await session.execute(stmt)), PAGE_ORDER, limit)
    return [state_of(row) for row in rows], next_cursor


async def get_finding(
    session: Reader, finding_id: str, principal: Principal, scope: OrgScope
) -> Finding:
    """One finding the caller may see; 404 for a hidden one, as for a missing one."""
    canonical = parse_id(finding_id)
    row = None
    if canonical is not None:
        row = (
            await session.execute(
                sa.select(findings).where(
                    findings.c.id == canonical, findings_visible(principal, scope, findings)
                )
            )
        ).first()
    if row is None:
        raise FindingNotFound(f"No finding {finding_id}.")
    finding: Finding = MAPPER.from_row(row)
    return finding


async def org_names(session: Reader, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Names and acronyms of organizations, by id (those the replica knows)."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    o = rm_organizations
    rows = await session.execute(
        sa.select(o.c.id, o.c.name_ar, o.c.name_en, o.c.acronym).where(o.c.id.in_(wanted))
    )
    return {
        row.id: {"names": {"ar": row.name_ar, "en": row.name_en}, "acronym": row.acronym}
        for row in rows
    }


async def record_summaries(
    session: Reader, records: Sequence[Mapping[str, str]]
) -> list[dict[str, Any]]:
    """The records a finding names, as the replicas hold them (the caller may see all of them:
    a finding is shown only to those who may see every record it names)."""
    by_type: dict[str, list[str]] = {}
    for ref in records:
        by_type.setdefault(ref["type"], []).append(ref["id"])
    found: dict[tuple[str, str], dict[str, Any]] = {}
    a, e = rm_agreements, rm_engagements
    if by_type.get("agreement"):
        for row in await session.execute(
            sa.select(
                a.c.id,
                a.c.kind,
                a.c.status,
                a.c.title_ar,
                a.c.title_en,
                a.c.owner_org_id,
                a.c.counted_ministry_id,
                a.c.signed_on,
                a.c.effective_from,
                a.c.expires_on,
                a.c.visibility,
            ).where(a.c.id.in_(by_type["agreement"]))
        ):
            found[("agreement", row.id)] = {
                "type": "agreement",
                "id": row.id,
                "kind": row.kind,
                "status": row.status,
                "title": {"ar": row.title_ar, "en": row.title_en},
                "org_id": row.owner_org_id,
                "ministry_id": row.counted_ministry_id,
                "date": _iso(row.signed_on or row.effective_from),
                "expires_on": _iso(row.expires_on),
                "visibility": row.visibility,
            }
    if by_type.get("engagement"):
        for erow in await session.execute(
            sa.select(
                e.c.id,
                e.c.kind,
                e.c.status,
                e.c.title_ar,
                e.c.title_en,
                e.c.lead_org_id,
                e.c.counted_ministry_id,
                e.c.start,
                e.c.visibility,
            ).where(e.c.id.in_(by_type["engagement"]))
        ):
            found[("engagement", erow.id)] = {
                "type": "engagement",
                "id": erow.id,
                "kind": erow.kind,
                "status": erow.status,
                "title": {"ar": erow.title_ar, "en": erow.title_en},
                "org_id": erow.lead_org_id,
                "ministry_id": erow.counted_ministry_id,
                "date": _iso(erow.start.date() if erow.start else None),
                "expires_on": None,
                "visibility": erow.visibility,
            }
    return [found[(r["type"], r["id"])] for r in records if (r["type"], r["id"]) in found]


def _iso(day: date | None) -> str | None:
    # JSON-ready, as the response helper takes it.
    return day.isoformat() if day else None


def names_wanted(items: Sequence[Mapping[str, Any]]) -> set[str]:
    return {f["ministry_id"] for f in items} | {p for f in items for p in f["partner_ids"]}
