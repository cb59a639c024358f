"""Storing focal points: rows of `organization_contacts`, returned as plain dicts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tansiq_common.uow import UnitOfWork

FIELDS = ("name", "title", "email", "phone")

_COLUMNS = "id::text AS id, org_id::text AS org_id, name, title, email, phone, version"
_LIST = (
    f"SELECT {_COLUMNS} FROM organization_contacts WHERE org_id = $1 "  # noqa: S608 - constants
    "ORDER BY created_at, id"
)
_GET = f"SELECT {_COLUMNS} FROM organization_contacts WHERE id = $1 AND org_id = $2"  # noqa: S608
_GET_FOR_UPDATE = f"{_GET} FOR UPDATE"
_INSERT = (
    "INSERT INTO organization_contacts (id, org_id, name, title, email, phone, version, "  # noqa: S608
    f"created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) RETURNING {_COLUMNS}"
)
_REPLACE = (
    "UPDATE organization_contacts SET name = $2, title = $3, email = $4, phone = $5, "  # noqa: S608
    f"version = version + 1, updated_at = $6 WHERE id = $1 RETURNING {_COLUMNS}"
)
_DELETE = "DELETE FROM organization_contacts WHERE id = $1 AND org_id = $2 RETURNING id"


def _out(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "org_id": row["org_id"],
        **{name: row[name] for name in FIELDS},
        "version": row["version"],
    }


class ContactRepository:
    """Statements in the unit of work's transaction (on the driver's connection)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def list_for(self, org_id: str) -> list[dict[str, Any]]:
        return [_out(r) for r in await self.uow.fetch(_LIST, org_id)]

    async def get(
        self, org_id: str, contact_id: str, *, for_update: bool = False
    ) -> dict[str, Any] | None:
        sql = _GET_FOR_UPDATE if for_update else _GET
        row = await self.uow.fetchrow(sql, contact_id, org_id)
        return _out(row) if row else None

    async def add(self, org_id: str, data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        row = await self.uow.fetchrow(
            _INSERT, str(uuid.uuid4()), org_id, *(data.get(name) for name in FIELDS), now
        )
        assert row is not None  # an INSERT ... RETURNING returns its row
        return _out(row)

    async def replace(
        self, contact_id: str, data: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        row = await self.uow.fetchrow(
            _REPLACE, contact_id, *(data.get(name) for name in FIELDS), now
        )
        assert row is not None  # the row is locked by this transaction (get for_update)
        return _out(row)

    async def delete(self, org_id: str, contact_id: str) -> bool:
        return await self.uow.fetchrow(_DELETE, contact_id, org_id) is not None
