"""Read side: one agreement, filtered lists with bilingual search, the history of an agreement.

Every query applies the visibility rule (`repository.visible`): a restricted agreement the caller
may not see is absent from lists and searches, and a GET by id answers 404 as for a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from tansiq_common.auth import OrgScope, Principal
from tansiq_common.pagination import after_cursor, split_page
from tansiq_common.repository import Reader
from tansiq_common.search import matches

from tansiq_agreements.agreements.model import Agreement, AgreementNotFound
from tansiq_agreements.agreements.repository import MAPPER, parse_id, visible
from tansiq_agreements.agreements.tables import agreement_history, agreements

# Keyset order of every list: stable while agreements are added.
PAGE_ORDER = (agreements.c.created_at, agreements.c.id)
HISTORY_ORDER = (agreement_history.c.version,)
# A plan per search pattern (see the registry's queries: a generic plan cannot see LIKE terms).
CUSTOM_PLANS = sa.text("SET LOCAL plan_cache_mode = force_custom_plan")


def to_model(row: Any) -> Agreement:
    agreement: Agreement = MAPPER.from_row(row)
    return agreement


STATE_COLUMNS = tuple(MAPPER.columns())


def state_of(row: Any) -> dict[str, Any]:
    """The agreement's state (`Agreement.snapshot()`) straight from its row, for the read path:
    nested values are stored as the JSON the snapshot has, so only dates need writing out."""
    data = row._mapping
    state = {}
    for name in STATE_COLUMNS:
        value = data[name]
        state[name] = value.isoformat() if isinstance(value, date) else value
    return state


async def get_agreement(
    session: Reader, agreement_id: str, principal: Principal, scope: OrgScope
) -> Agreement:
    return to_model(await _visible_row(session, agreement_id, principal, scope))


async def get_state(
    session: Reader, agreement_id: str, principal: Principal, scope: OrgScope
) -> dict[str, Any]:
    return state_of(await _visible_row(session, agreement_id, principal, scope))


async def _visible_row(
    session: Reader, agreement_id: str, principal: Principal, scope: OrgScope
) -> Any:
    canonical = parse_id(agreement_id)
    row = None
    if canonical is not None:
        row = (
            await session.execute(
                sa.select(agreements).where(agreements.c.id == canonical, visible(principal, scope))
            )
        ).first()
    if row is None:
        raise AgreementNotFound(f"No agreement {agreement_id}.")
    return row


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


def _id_condition(column: Any, raw: str) -> sa.ColumnElement[bool]:
    canonical = parse_id(raw)
    # An id that is not a UUID names no organization or agreement: an empty page, not an error.
    return column == canonical if canonical else sa.false()


def conditions(f: AgreementFilter) -> list[sa.ColumnElement[bool]]:
    t = agreements
    where: list[sa.ColumnElement[bool]] = []
    if f.statuses:
        where.append(t.c.status.in_(f.statuses))
    if f.kinds:
        where.append(t.c.kind.in_(f.kinds))
    if f.owner_org_id is not None:
        where.append(_id_condition(t.c.owner_org_id, f.owner_org_id))
    if f.ministry_id is not None:
        where.append(_id_condition(t.c.owner_ministry_id, f.ministry_id))
    if f.party_org_id is not None:
        canonical = parse_id(f.party_org_id)
        where.append(t.c.party_org_ids.contains([canonical]) if canonical else sa.false())
    if f.supersedes is not None:
        where.append(_id_condition(t.c.supersedes, f.supersedes))
    # Themes: containment in the JSONB document, served by its GIN index.
    if f.sdgs:
        where.append(t.c.themes.contains({"sdgs": list(f.sdgs)}))
    if f.sector is not None:
        where.append(t.c.themes.contains({"sectors": [f.sector]}))
    if f.priority is not None:
        where.append(t.c.themes.contains({"priorities": [f.priority]}))
    if f.expiring_before is not None:
        where.append(t.c.expires_on < f.expiring_before)
    if f.signed_from is not None:
        where.append(t.c.signed_on >= f.signed_from)
    if f.signed_to is not None:
        where.append(t.c.signed_on <= f.signed_to)
    if f.cleared is not None:
        where.append(t.c.cleared.is_(f.cleared))
    if f.signed_uncleared is not None:
        where.append(t.c.signed_uncleared.is_(f.signed_uncleared))
    if f.visibility is not None:
        where.append(t.c.visibility == f.visibility)
    where.extend(matches(t.c.search_text, f.q))
    return where


def list_statement(
    f: AgreementFilter,
    principal: Principal,
    scope: OrgScope,
    *,
    limit: int,
    cursor: str | None,
) -> sa.Select[Any]:
    stmt = sa.select(agreements).where(visible(principal, scope), *conditions(f))
    if cursor:
        stmt = stmt.where(after_cursor(PAGE_ORDER, cursor))
    return stmt.order_by(*PAGE_ORDER).limit(limit + 1)


async def list_agreements(
    session: Reader,
    f: AgreementFilter,
    principal: Principal,
    scope: OrgScope,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Keyset pages in (created_at, id) order; each agreement's state."""
    if f.q:
        await session.execute(CUSTOM_PLANS)
    stmt = list_statement(f, principal, scope, limit=limit, cursor=cursor)
    rows, next_cursor = split_page(list(await session.execute(stmt)), PAGE_ORDER, limit)
    return [state_of(row) for row in rows], next_cursor


async def count_agreements(
    session: Reader, f: AgreementFilter, principal: Principal, scope: OrgScope
) -> int:
    """How many agreements match, of those the caller may see."""
    if f.q:
        await session.execute(CUSTOM_PLANS)
    stmt = (
        sa.select(sa.func.count())
        .select_from(agreements)
        .where(visible(principal, scope), *conditions(f))
    )
    return int((await session.execute(stmt)).scalar_one())


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
    agreement = await get_agreement(session, agreement_id, principal, scope)
    h = agreement_history
    stmt = sa.select(h).where(h.c.agreement_id == agreement.id)
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
