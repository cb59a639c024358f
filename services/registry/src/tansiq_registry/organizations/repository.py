"""Loading and storing organizations: rows ⇄ the aggregate, and the hierarchy queries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from tansiq_registry.organizations.model import (
    Designation,
    Kind,
    Line,
    Link,
    Names,
    Organization,
    ReportingLine,
    Scope,
    Status,
)
from tansiq_registry.organizations.normalize import search_text
from tansiq_registry.organizations.tables import organizations

# Deeper than any real administration; stops a walk if bad data ever formed a loop.
MAX_DEPTH = 64


def parse_id(value: str | None) -> str | None:
    """A canonical UUID string, or None when `value` is not a UUID (so it names nothing)."""
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def to_model(row: Any) -> Organization:
    return Organization(
        id=str(row.id),
        kind=Kind(row.kind),
        names=Names(ar=row.name_ar, en=row.name_en),
        acronym=row.acronym,
        country=row.country,
        parent_id=str(row.parent_id) if row.parent_id else None,
        ministry_id=str(row.ministry_id) if row.ministry_id else None,
        scope=Scope(row.scope),
        iati_identifier=row.iati_identifier,
        iati_org_type=row.iati_org_type,
        website=row.website,
        reporting_lines=tuple(
            ReportingLine(item["org_id"], Line(item["line"])) for item in row.reporting_lines
        ),
        designations=frozenset(Designation(d) for d in row.designations),
        status=Status(row.status),
        source_key=row.source_key,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def to_row(org: Organization) -> dict[str, Any]:
    return {
        "id": org.id,
        "kind": org.kind.value,
        "name_ar": org.names.ar,
        "name_en": org.names.en,
        "acronym": org.acronym,
        "country": org.country,
        "parent_id": org.parent_id,
        "ministry_id": org.ministry_id,
        "scope": org.scope.value,
        "iati_identifier": org.iati_identifier,
        "iati_org_type": org.iati_org_type,
        "website": org.website,
        "reporting_lines": [
            {"org_id": rl.org_id, "line": rl.line.value} for rl in org.reporting_lines
        ],
        "designations": sorted(d.value for d in org.designations),
        "status": org.status.value,
        "source_key": org.source_key,
        "search_text": search_text(
            org.names.ar, org.names.en, org.acronym, org.iati_identifier, org.source_key
        ),
        "version": org.version,
        "created_at": org.created_at,
        "updated_at": org.updated_at,
    }


class StaleVersion(Exception):
    """The row changed between load and save."""


class OrganizationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, org_id: str, *, for_update: bool = False) -> Organization | None:
        canonical = parse_id(org_id)
        if canonical is None:
            return None
        stmt = sa.select(organizations).where(organizations.c.id == canonical)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).first()
        return to_model(row) if row else None

    async def get_many(self, ids: Sequence[str]) -> dict[str, Organization]:
        canonical = [i for i in (parse_id(x) for x in ids) if i]
        if not canonical:
            return {}
        rows = await self.session.execute(
            sa.select(organizations).where(organizations.c.id.in_(canonical))
        )
        return {str(row.id): to_model(row) for row in rows}

    async def find_by(self, column: str, value: str) -> Organization | None:
        row = (
            await self.session.execute(
                sa.select(organizations).where(organizations.c[column] == value)
            )
        ).first()
        return to_model(row) if row else None

    async def add(self, org: Organization) -> None:
        await self.session.execute(sa.insert(organizations).values(**to_row(org)))

    async def save(self, org: Organization, loaded_version: int) -> None:
        values = to_row(org)
        del values["id"], values["created_at"]
        result = await self.session.execute(
            sa.update(organizations)
            .where(organizations.c.id == org.id, organizations.c.version == loaded_version)
            .values(**values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise StaleVersion(org.id)

    async def chain(self, org_id: str | None) -> list[Link]:
        """`org_id` and its ancestors, nearest first (empty for None or an unknown id)."""
        canonical = parse_id(org_id)
        if canonical is None:
            return []
        rows = await self.session.execute(
            sa.text(
                """
                WITH RECURSIVE chain(id, scope, parent_id, depth) AS (
                    SELECT id, scope, parent_id, 0 FROM organizations WHERE id = :start
                    UNION ALL
                    SELECT o.id, o.scope, o.parent_id, c.depth + 1
                    FROM organizations o JOIN chain c ON o.id = c.parent_id
                    WHERE c.depth < :max_depth
                )
                SELECT id, scope, parent_id FROM chain ORDER BY depth
                """
            ),
            {"start": canonical, "max_depth": MAX_DEPTH},
        )
        return [
            Link(str(r.id), Scope(r.scope), str(r.parent_id) if r.parent_id else None) for r in rows
        ]

    async def descendant_ids(self, org_id: str) -> list[tuple[str, int]]:
        """(id, depth) of every organization below `org_id`, parents before children."""
        rows = await self.session.execute(
            sa.text(
                """
                WITH RECURSIVE tree(id, depth) AS (
                    SELECT id, 1 FROM organizations WHERE parent_id = :start
                    UNION ALL
                    SELECT o.id, t.depth + 1
                    FROM organizations o JOIN tree t ON o.parent_id = t.id
                    WHERE t.depth < :max_depth
                )
                SELECT id, depth FROM tree ORDER BY depth, id
                """
            ),
            {"start": org_id, "max_depth": MAX_DEPTH},
        )
        return [(str(r.id), int(r.depth)) for r in rows]

    async def descendants(
        self, org_id: str, *, for_update: bool = False
    ) -> list[tuple[Organization, int]]:
        """Every organization below `org_id` with its depth, parents before children."""
        ordered = await self.descendant_ids(org_id)
        if not ordered:
            return []
        stmt = sa.select(organizations).where(organizations.c.id.in_([i for i, _ in ordered]))
        if for_update:
            stmt = stmt.with_for_update()
        by_id = {str(r.id): to_model(r) for r in await self.session.execute(stmt)}
        return [(by_id[i], depth) for i, depth in ordered if i in by_id]

    async def existing_ids(self, ids: Sequence[str]) -> set[str]:
        canonical = [i for i in (parse_id(x) for x in ids) if i]
        if not canonical:
            return set()
        rows = await self.session.execute(
            sa.select(organizations.c.id).where(organizations.c.id.in_(canonical))
        )
        return {str(r.id) for r in rows}
