"""Loading and storing organizations, and the hierarchy walks the write rules need."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import asyncpg
import sqlalchemy as sa
from tansiq_common.codec import RowMapper
from tansiq_common.domain import RuleConflict
from tansiq_common.repository import VersionedRepository, parse_id
from tansiq_common.search import search_text

from tansiq_registry.organizations.model import Link, Organization, Scope, Status
from tansiq_registry.organizations.tables import organizations

__all__ = ["OrganizationRepository", "chain", "descendant_ids", "parse_id"]

MAPPER = RowMapper(Organization, flatten={"names": "name_"})


class DuplicateIdentifier(RuleConflict):
    slug = "duplicate-identifier"


class DuplicateSourceKey(RuleConflict):
    slug = "duplicate-source-key"


class OrganizationRepository(VersionedRepository[Organization]):
    table: ClassVar[sa.Table] = organizations
    mapper: ClassVar[RowMapper] = MAPPER
    conflicts: ClassVar[dict[str, Any]] = {
        "uq_organizations_iati_identifier": lambda: DuplicateIdentifier(
            "The IATI identifier is already used."
        ),
        "uq_organizations_source_key": lambda: DuplicateSourceKey(
            "The source key is already used."
        ),
    }

    def extra_columns(self, aggregate: Organization) -> dict[str, Any]:
        o = aggregate
        return {
            "search_text": search_text(
                o.names.ar, o.names.en, o.acronym, o.iati_identifier, o.source_key
            )
        }

    async def find_by(self, column: str, value: str) -> Organization | None:
        """The organization whose unique `column` (iati_identifier, source_key, ...) is
        `value`."""
        rows = await self.uow.lookup(self.sql.select_by(column), value)
        return self.to_model(rows[0]) if rows else None

    async def chain(self, org_id: str | None) -> list[Link]:
        return await chain(self.uow.lookup, org_id)

    async def descendants(self, org_id: str) -> list[tuple[Organization, int]]:
        """Every organization below `org_id` with its depth, parents before children, locked
        and handed to the unit of work (a move re-saves them)."""
        ordered = await descendant_ids(self.uow.fetch, org_id)
        if not ordered:
            return []
        by_id = await self.get_many([i for i, _ in ordered], for_update=True)
        return [(by_id[i], depth) for i, depth in ordered if i in by_id]


# Runs a statement with its arguments: a unit of work's `lookup` or `fetch`, or the reads'
# `fetch` (DriverReads).
Fetch = Callable[..., Awaitable[list[asyncpg.Record]]]

# No depth limit: the CYCLE clause stops a walk if bad data ever formed a loop, so the cycle
# check of a move sees the whole chain however deep it is.
_CHAIN = """
    WITH RECURSIVE chain(id, scope, parent_id, status, depth) AS (
        SELECT id, scope, parent_id, status, 0 FROM organizations WHERE id = $1
        UNION ALL
        SELECT o.id, o.scope, o.parent_id, o.status, c.depth + 1
        FROM organizations o JOIN chain c ON o.id = c.parent_id
    ) CYCLE id SET is_cycle USING path
    SELECT id::text, scope, parent_id::text, status FROM chain WHERE NOT is_cycle ORDER BY depth
"""
# LIMIT NULL: no limit.
_DESCENDANTS = """
    WITH RECURSIVE tree(id, depth) AS (
        SELECT id, 1 FROM organizations WHERE parent_id = $1
        UNION ALL
        SELECT o.id, t.depth + 1
        FROM organizations o JOIN tree t ON o.parent_id = t.id
    ) CYCLE id SET is_cycle USING path
    SELECT id::text, depth FROM tree WHERE NOT is_cycle ORDER BY depth, id
    LIMIT $2
"""


async def chain(fetch: Fetch, org_id: str | None) -> list[Link]:
    """`org_id` and all its ancestors, nearest first (empty for None or an unknown id)."""
    canonical = parse_id(org_id)
    if canonical is None:
        return []
    return [
        Link(r["id"], Scope(r["scope"]), r["parent_id"], Status(r["status"]))
        for r in await fetch(_CHAIN, canonical)
    ]


async def descendant_ids(
    fetch: Fetch, org_id: str, *, limit: int | None = None
) -> list[tuple[str, int]]:
    """(id, depth) of the organizations below `org_id`, parents before children."""
    return [(r["id"], int(r["depth"])) for r in await fetch(_DESCENDANTS, org_id, limit)]
