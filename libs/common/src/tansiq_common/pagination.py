"""Cursor (keyset) pagination: stable order, opaque cursor, `{"items", "next_cursor"}` pages."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar
from uuid import UUID

import sqlalchemy as sa
from fastapi import Query
from pydantic import BaseModel

from tansiq_common.problems import BadRequest

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (max 500).")]
Cursor = Annotated[
    str | None, Query(max_length=2048, description="Opaque cursor from a previous page.")
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, UUID):
        return {"u": str(value)}
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and "t" in value:
        return datetime.fromisoformat(value["t"])
    if isinstance(value, dict) and "u" in value:
        return UUID(value["u"])
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_to_json(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != width:
            raise ValueError("wrong shape")
        return [_from_json(v) for v in values]
    except (ValueError, binascii.Error, json.JSONDecodeError, TypeError, KeyError) as exc:
        raise BadRequest("The cursor is not one this API issued.", slug="invalid-cursor") from exc


async def keyset_page(
    session: Any,
    stmt: sa.Select[Any],
    order_by: Sequence[sa.ColumnElement[Any]],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None]:
    """Run `stmt` ordered by `order_by` (ascending, unique together) after `cursor`.

    Returns the rows (ORM entities when the statement selects one entity) and the next cursor.
    """
    if cursor:
        after = decode_cursor(cursor, len(order_by))
        stmt = stmt.where(sa.tuple_(*order_by) > sa.tuple_(*after))
    stmt = stmt.order_by(*order_by).limit(limit + 1)
    result = await session.execute(stmt)
    rows = list(result.scalars().all()) if len(stmt.column_descriptions) == 1 else list(result)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, str(col.key)) for col in order_by])
    return rows, next_cursor
