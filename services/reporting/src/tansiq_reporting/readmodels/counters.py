"""The counters behind the scorecards and the coverage matrix, kept up to date by difference.

Each record stores what it contributes (`counted_*` columns); when its ministry, month, findings
or partners change, its old contribution is taken out of the cells and the new one put in. So a
scorecard or the coverage matrix reads a few thousand cells, whatever the number of records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from tansiq_reporting.readmodels.tables import (
    coverage_cells,
    rm_agreements,
    rm_engagements,
    scorecard_cells,
    scorecard_totals,
)

RULE_BITS = {f"C{n}": 1 << (n - 1) for n in range(1, 8)}


def rules_mask(rules: Iterable[str]) -> int:
    mask = 0
    for rule in rules:
        mask |= RULE_BITS.get(str(rule), 0)
    return mask


@dataclass(frozen=True)
class Contribution:
    """What one record adds to the counters: one record of its ministry in its month (flagged
    when a finding that counts is anchored on it, with a bit per rule), and one contact with each
    international partner it names (`contact`: when, for a held engagement)."""

    country: str
    ministry_id: str
    month: str
    rules: int = 0
    partners: tuple[str, ...] = ()
    contact: datetime | None = None


@dataclass(frozen=True)
class Counted:
    """A record's row values for the `counted_*` columns and the other derived ones."""

    contribution: Contribution | None
    countries: tuple[str, ...] = ()
    coordinated: bool = False
    recheck_at: datetime | None = None


def stored(row: Any) -> Contribution | None:
    if row.counted_ministry_id is None:
        return None
    return Contribution(
        country=row.counted_country or "",
        ministry_id=row.counted_ministry_id,
        month=row.counted_month or "",
        rules=row.counted_rules or 0,
        partners=tuple(row.counted_partners or ()),
        contact=row.counted_contact,
    )


def _table(kind: str) -> sa.Table:
    return rm_agreements if kind == "agreement" else rm_engagements


async def stored_counted(
    session: AsyncSession, kind: str, ids: Sequence[str]
) -> dict[str, Counted]:
    """What the records' rows say now."""
    if not ids:
        return {}
    t = _table(kind)
    rows = await session.execute(
        sa.select(
            t.c.id,
            t.c.counted_country,
            t.c.counted_ministry_id,
            t.c.counted_month,
            t.c.counted_rules,
            t.c.counted_partners,
            t.c.counted_contact,
            t.c.countries,
            t.c.coordinated,
            t.c.recheck_at,
        ).where(t.c.id.in_(list(ids)))
    )
    return {
        row.id: Counted(
            stored(row), tuple(row.countries or ()), bool(row.coordinated), row.recheck_at
        )
        for row in rows
    }


async def stored_contributions(
    session: AsyncSession, kind: str, ids: Sequence[str]
) -> dict[str, Contribution | None]:
    return {i: c.contribution for i, c in (await stored_counted(session, kind, ids)).items()}


async def record_counts(
    session: AsyncSession,
    kind: str,
    changes: Mapping[str, Counted],
    before: Mapping[str, Counted],
    marks: Mapping[str, int],
) -> None:
    """Write each record's derived columns, clear its due mark unless it was marked again
    since it was read (`marks`: the marks then), and move its contribution in the cells."""
    t = _table(kind)
    score: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0] * 9)
    cover: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    contacts: dict[tuple[str, str, str], datetime] = {}
    recompute: set[tuple[str, str, str]] = set()
    updates = []
    for record_id, counted in changes.items():
        new = counted.contribution
        was = before.get(record_id)
        old = was.contribution if was is not None else None
        # Every record evaluated is written, unchanged or not: the same statement clears its
        # due mark (-1: marks never read, so the mark stays and it is evaluated again).
        updates.append(
            {
                "b_id": record_id,
                "b_marks": marks.get(record_id, -1),
                "b_country": new.country if new else None,
                "b_ministry_id": new.ministry_id if new else None,
                "b_month": new.month if new else None,
                "b_rules": new.rules if new else 0,
                "b_partners": list(new.partners) if new else [],
                "b_contact": new.contact if new else None,
                "b_countries": list(counted.countries),
                "b_coordinated": counted.coordinated,
                "b_recheck_at": counted.recheck_at,
            }
        )
        if was == counted or old == new:
            continue
        for sign, part in ((-1, old), (1, new)):
            if part is None:
                continue
            cell = score[(part.country, part.ministry_id, part.month)]
            cell[0] += sign
            cell[1] += sign * (1 if part.rules else 0)
            for n in range(7):
                cell[2 + n] += sign * ((part.rules >> n) & 1)
            for partner in part.partners:
                key = (part.country, part.ministry_id, partner)
                cover[key][0 if kind == "engagement" else 1] += sign
                if part.contact is not None:
                    if sign > 0:
                        contacts[key] = max(contacts.get(key, part.contact), part.contact)
                    else:
                        recompute.add(key)
    if updates:
        # One statement for every record (executemany), not one round trip each.
        await session.execute(
            sa.update(t)
            .where(t.c.id == sa.bindparam("b_id"))
            .values(
                counted_country=sa.bindparam("b_country"),
                counted_ministry_id=sa.bindparam("b_ministry_id"),
                counted_month=sa.bindparam("b_month"),
                counted_rules=sa.bindparam("b_rules"),
                counted_partners=sa.bindparam("b_partners"),
                counted_contact=sa.bindparam("b_contact"),
                countries=sa.bindparam("b_countries"),
                coordinated=sa.bindparam("b_coordinated"),
                recheck_at=sa.bindparam("b_recheck_at"),
                due=sa.case((t.c.marks == sa.bindparam("b_marks"), sa.false()), else_=t.c.due),
            ),
            updates,
        )
    await _add_score(session, score)
    await _add_coverage(session, cover, contacts)
    await _recompute_last_contact(session, recompute)


COUNTS = ("records", "flagged", *(f"c{n}" for n in range(1, 8)))


async def _add_score(
    session: AsyncSession, cells: Mapping[tuple[str, str, str], list[int]]
) -> None:
    """Add the deltas to the month cells and to the ministries' totals."""
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 9)
    for (country, ministry, _), d in cells.items():
        total = totals[(country, ministry)]
        for n in range(9):
            total[n] += d[n]
    await _add(
        session,
        scorecard_cells,
        ("country", "ministry_id", "month"),
        [(key, d) for key, d in sorted(cells.items()) if any(d)],
    )
    await _add(
        session,
        scorecard_totals,
        ("country", "ministry_id"),
        [(key, d) for key, d in sorted(totals.items()) if any(d)],
    )


async def _add(
    session: AsyncSession,
    table: sa.Table,
    keys: tuple[str, ...],
    deltas: list[tuple[tuple[str, ...], list[int]]],
) -> None:
    if not deltas:
        return
    rows = [
        {**dict(zip(keys, key, strict=True)), **dict(zip(COUNTS, d, strict=True))}
        for key, d in deltas
    ]
    stmt = insert(table)
    c = table.c
    # executemany: one compiled statement whatever the number of rows.
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[c[k] for k in keys],
            set_={name: c[name] + stmt.excluded[name] for name in COUNTS},
        ),
        rows,
    )


async def _add_coverage(
    session: AsyncSession,
    cells: Mapping[tuple[str, str, str], list[int]],
    contacts: Mapping[tuple[str, str, str], datetime],
) -> None:
    keys = sorted(set(cells) | set(contacts))
    rows = [
        {
            "country": country,
            "ministry_id": ministry,
            "partner_id": partner,
            "engagements": cells.get((country, ministry, partner), [0, 0])[0],
            "agreements": cells.get((country, ministry, partner), [0, 0])[1],
            "last_contact": contacts.get((country, ministry, partner)),
        }
        for country, ministry, partner in keys
    ]
    if not rows:
        return
    stmt = insert(coverage_cells)
    c = coverage_cells.c
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[c.country, c.ministry_id, c.partner_id],
            set_={
                "engagements": c.engagements + stmt.excluded.engagements,
                "agreements": c.agreements + stmt.excluded.agreements,
                "last_contact": sa.func.greatest(c.last_contact, stmt.excluded.last_contact),
            },
        ),
        rows,
    )


async def _recompute_last_contact(
    session: AsyncSession, keys: Iterable[tuple[str, str, str]]
) -> None:
    """A contact left a cell: its latest contact is what the remaining engagements say."""
    e = rm_engagements
    c = coverage_cells.c
    for country, ministry, partner in sorted(keys):
        latest = (
            sa.select(sa.func.max(e.c.counted_contact))
            .where(
                e.c.counted_country == country,
                e.c.counted_ministry_id == ministry,
                e.c.counted_partners.contains(sa.cast([partner], ARRAY(sa.Text))),
            )
            .scalar_subquery()
        )
        await session.execute(
            sa.update(coverage_cells)
            .where(c.country == country, c.ministry_id == ministry, c.partner_id == partner)
            .values(last_contact=latest)
        )


async def recount_rules(session: AsyncSession, kind: str, record_id: str, rules: int) -> None:
    """A decision changed which findings of a record count: move its flag and rule bits."""
    before = (await stored_contributions(session, kind, [record_id])).get(record_id)
    if before is None or before.rules == rules:
        return
    after = Contribution(
        before.country, before.ministry_id, before.month, rules, before.partners, before.contact
    )
    t = _table(kind)
    await session.execute(sa.update(t).where(t.c.id == record_id).values(counted_rules=rules))
    cells: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0] * 9)
    for sign, part in ((-1, before), (1, after)):
        cell = cells[(part.country, part.ministry_id, part.month)]
        cell[1] += sign * (1 if part.rules else 0)
        for n in range(7):
            cell[2 + n] += sign * ((part.rules >> n) & 1)
    await _add_score(session, cells)
