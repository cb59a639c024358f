"""OrganizationDirectory over the registry's own table: the scope a caller acts in."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI
from tansiq_common.auth import OrgScope

from tansiq_registry.organizations.model import Designation
from tansiq_registry.organizations.repository import OrganizationRepository, parse_id
from tansiq_registry.organizations.tables import organizations


class RegistryDirectory:
    """Reads the live table (no replica, no cache: the registry is the source)."""

    def __init__(self, app: FastAPI) -> None:
        # The database exists only once the lifespan runs; resolve it per call.
        self._app = app

    async def scope_of(self, org_id: str) -> OrgScope:
        canonical = parse_id(org_id)
        if canonical is None:
            return OrgScope.empty(org_id)
        async with self._app.state.db.sessionmaker() as session:
            repo = OrganizationRepository(session)
            chain = await repo.chain(canonical)
            if not chain:
                return OrgScope.empty(org_id)
            rows = await session.execute(
                sa.select(
                    organizations.c.id, organizations.c.ministry_id, organizations.c.designations
                ).where(organizations.c.id.in_([link.id for link in chain]))
            )
            by_id = {str(r.id): r for r in rows}
            below = await repo.descendant_ids(canonical)
        own = by_id[canonical]
        return OrgScope(
            org_id=canonical,
            ministry_id=str(own.ministry_id) if own.ministry_id else None,
            descendants=frozenset([canonical, *(i for i, _ in below)]),
            is_coordinating_body=any(
                Designation.coordinating_body.value in (r.designations or [])
                for r in by_id.values()
            ),
        )
