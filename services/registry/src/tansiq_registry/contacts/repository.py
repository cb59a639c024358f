"""Storing focal points: rows of `organization_contacts`, returned as plain dicts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from tansiq_registry.organizations.tables import contacts

FIELDS = ("name", "title", "email", "phone")


def _out(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "org_id": str(row.org_id),
        **{name: getattr(row, name) for name in FIELDS},
        "version": row.version,
    }


class ContactRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list_for(self, org_id: str) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            sa.select(contacts)
            .where(contacts.c.org_id == org_id)
            .order_by(contacts.c.created_at, contacts.c.id)
        )
        return [_out(r) for r in rows]

    async def get(
        self, org_id: str, contact_id: str, *, for_update: bool = False
    ) -> dict[str, Any] | None:
        stmt = sa.select(contacts).where(contacts.c.id == contact_id, contacts.c.org_id == org_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).first()
        return _out(row) if row else None

    async def add(self, org_id: str, data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        row = await self.session.execute(
            sa.insert(contacts)
            .values(
                id=str(uuid.uuid4()),
                org_id=org_id,
                version=1,
                created_at=now,
                updated_at=now,
                **{name: data.get(name) for name in FIELDS},
            )
            .returning(contacts)
        )
        return _out(row.one())

    async def replace(
        self, contact_id: str, data: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        row = await self.session.execute(
            sa.update(contacts)
            .where(contacts.c.id == contact_id)
            .values(
                updated_at=now,
                version=contacts.c.version + 1,
                **{name: data.get(name) for name in FIELDS},
            )
            .returning(contacts)
        )
        return _out(row.one())

    async def delete(self, org_id: str, contact_id: str) -> bool:
        row = await self.session.execute(
            sa.delete(contacts)
            .where(contacts.c.id == contact_id, contacts.c.org_id == org_id)
            .returning(contacts.c.id)
        )
        return row.first() is not None
