"""Cursor (keyset) pagination: stable order, opaque cursor, `{"items", "next_cursor"}` pages."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
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
    # str(): a forged cursor may carry any JSON there; fromisoformat/UUID refuse bad text with
    # ValueError, which decode_cursor turns into 400 invalid-cursor.
    if isinstance(value, dict) and "t" in value:
        return datetime.fromisoformat(str(value["t"]))
    if isinstance(value, dict) and "u" in value:
        return UUID(str(value["u"]))
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
        raise _foreign_cursor() from exc


def _typed(column: sa.ColumnElement[Any], value: Any) -> Any:
    """The cursor value as the column's type, or BadRequest: a cursor is client input."""
    if isinstance(column.type, sa.Uuid):
        try:
            parsed = UUID(str(value))
        except ValueError:
            raise _foreign_cursor() from None
        return parsed if column.type.as_uuid else str(parsed)
    try:
        expected = column.type.python_type
    except NotImplementedError:
        return value
    if (isinstance(value, bool) and expected is not bool) or not isinstance(value, expected):
        raise _foreign_cursor()
    if isinstance(value, datetime):
        try:
            value.astimezone(UTC)  # what the driver does; before year 1 or after 9999 fails
        except (OverflowError, ValueError):
            raise _foreign_cursor() from None
    elif isinstance(value, int) and not isinstance(value, bool):
        low, high = _INTEGER_RANGES.get(type(column.type), _INTEGER_RANGES[sa.BigInteger])
        if not low <= value <= high:
            raise _foreign_cursor()
    return value


# What PostgreSQL's smallint, integer and bigint hold; other integer types are taken as bigint.
_INTEGER_RANGES: dict[type[Any], tuple[int, int]] = {
    sa.SmallInteger: (-(2**15), 2**15 - 1),
    sa.Integer: (-(2**31), 2**31 - 1),
    sa.BigInteger: (-(2**63), 2**63 - 1),
}


def _foreign_cursor() -> BadRequest:
    return BadRequest("The cursor is not one this API issued.", slug="invalid-cursor")


def cursor_values(order_by: Sequence[sa.ColumnElement[Any]], cursor: str) -> list[Any]:
    """The cursor's values, each checked against and typed as its column (400 invalid-cursor
    otherwise), for a keyset condition `(order_by) > (values)` written as SQL text."""
    values = decode_cursor(cursor, len(order_by))
    return [_typed(column, value) for column, value in zip(order_by, values, strict=True)]


def after_cursor(order_by: Sequence[sa.ColumnElement[Any]], cursor: str) -> sa.ColumnElement[bool]:
    """The keyset condition `(order_by) > (cursor's values)`, each value checked and bound with
    its column's type, so a forged cursor is a 400 and never a database error."""
    bound = [
        sa.literal(value, column.type)
        for column, value in zip(order_by, cursor_values(order_by, cursor), strict=True)
    ]
    return sa.tuple_(*order_by) > sa.tuple_(*bound)


def split_page(
    rows: Sequence[Any], order_by: Sequence[sa.ColumnElement[Any]], limit: int
) -> tuple[list[Any], str | None]:
    """Rows fetched with `limit + 1` → the page and the cursor of the next one (None if last)."""
    page = list(rows[:limit])
    if len(rows) <= limit:
        return page, None
    last = page[-1]
    return page, encode_cursor([getattr(last, str(column.key)) for column in order_by])


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
        stmt = stmt.where(after_cursor(order_by, cursor))
    stmt = stmt.order_by(*order_by).limit(limit + 1)
    result = await session.execute(stmt)
    rows = list(result.scalars().all()) if len(stmt.column_descriptions) == 1 else list(result)
    return split_page(rows, order_by, limit)


# --- keyset pages for SQL text on the driver's connection (tansiq_common.db.DriverReads) ---------


def _qualified(column: sa.ColumnElement[Any]) -> str:
    # The table's column, never a column of the SELECT's output of the same name (an id
    # written as text would be sorted on its own, not in the keyset index's order).
    table = getattr(column, "table", None)
    name = str(getattr(column, "name", column))
    return f"{table.name}.{name}" if isinstance(table, sa.Table) else name


def order_sql(order_by: Sequence[sa.ColumnElement[Any]]) -> str:
    """The ORDER BY list of a keyset page, each column qualified by its table."""
    return ", ".join(_qualified(column) for column in order_by)


def after_cursor_sql(
    order_by: Sequence[sa.ColumnElement[Any]], cursor: str, bind: Callable[[Any], str]
) -> str:
    """`after_cursor` as SQL text: `(order_by) > ($n, ...)`, the cursor's values checked and
    typed as their columns (400 invalid-cursor otherwise) and bound with `bind`."""
    values = cursor_values(order_by, cursor)
    return f"({order_sql(order_by)}) > ({', '.join(bind(value) for value in values)})"


def page_sql(
    select: str,
    where: Sequence[str],
    order_by: Sequence[sa.ColumnElement[Any]],
    cursor: str | None,
    limit: int,
    bind: Callable[[Any], str],
) -> str:
    """A keyset page's statement: `select` (SELECT ... FROM ...) of the rows meeting every
    condition of `where` and coming after `cursor`, in `order_by` order, one row more than
    `limit` (to see whether another page follows). Only column names and $n placeholders are
    spliced in; every value is bound with `bind`."""
    conditions = list(where)
    if cursor:
        conditions.append(after_cursor_sql(order_by, cursor, bind))
    if conditions:
        select += " WHERE " + " AND ".join(conditions)
    # Qualified (order_sql): an output column of the same name (an id read as text) would be
    # sorted on its own rather than read in the index's order.
    return f"{select} ORDER BY {order_sql(order_by)} LIMIT {bind(limit + 1)}"


R = TypeVar("R")


def split_records(
    rows: Sequence[R], limit: int, cursor_of: Callable[[R], Sequence[Any]]
) -> tuple[Sequence[R], str | None]:
    """`split_page` for records: rows fetched with `limit + 1` → the page and the next page's
    cursor (None if last), made of `cursor_of(last row of the page)`."""
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    return page, encode_cursor(cursor_of(page[-1]))
