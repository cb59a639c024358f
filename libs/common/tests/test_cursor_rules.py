"""Cursor handling (tansiq_common.pagination) as pure functions: the wire format of a cursor, what
decoding refuses, how each value is checked against its column's type, and how a page is cut.

No database: `after_cursor` only builds the SQL condition, whose bound values are read back
from the compiled statement. Paging against PostgreSQL is in test_pagination.py.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from tansiq_common.pagination import (
    after_cursor,
    decode_cursor,
    encode_cursor,
    split_page,
)
from tansiq_common.problems import BadRequest

WHEN = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
ID = UUID("12345678-1234-5678-1234-567812345678")


def raw(text: str) -> str:
    """A cursor whose JSON is `text`, encoded as the API encodes (URL-safe, unpadded)."""
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def refused(cursor: str, width: int = 1) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        decode_cursor(cursor, width)
    return caught.value


# --- the wire format ----------------------------------------------------------------------------


def test_a_cursor_is_compact_json_in_unpadded_url_safe_base64():
    assert encode_cursor([1, "a"]) == "WzEsImEiXQ"  # [1,"a"]
    assert encode_cursor([]) == "W10"  # []
    assert base64.urlsafe_b64decode("WzEsImEiXQ==") == b'[1,"a"]'


def test_times_and_uuids_are_tagged_so_they_come_back_as_what_they_were():
    cursor = encode_cursor([WHEN, ID])
    assert json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))) == [
        {"t": "2025-03-10T09:00:00+00:00"},
        {"u": "12345678-1234-5678-1234-567812345678"},
    ]
    assert decode_cursor(cursor, 2) == [WHEN, ID]
    assert [type(v) for v in decode_cursor(cursor, 2)] == [datetime, UUID]


def test_a_cursor_carries_no_character_a_url_must_escape():
    values = ["وزارة", "a/b+c?d", 10**20, None, True, 1.5]
    cursor = encode_cursor(values)
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_cursor(cursor, len(values)) == values


@pytest.mark.parametrize("length", [1, 2, 3, 4, 5, 6])
def test_every_padding_length_decodes(length):
    values = ["x" * length]
    assert decode_cursor(encode_cursor(values), 1) == values


def test_an_untagged_object_comes_back_as_it_was():
    assert decode_cursor(raw('[{"k": 1}]'), 1) == [{"k": 1}]


def test_a_padded_cursor_is_read_too():
    assert decode_cursor("WzEsImEiXQ==", 2) == [1, "a"]


# --- what decoding refuses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cursor", "width"),
    [
        (encode_cursor([1]), 2),  # fewer values than the order has columns
        (encode_cursor([1, 2, 3]), 2),  # more
        (raw('{"t": "2025-01-01"}'), 1),  # not a list
        (raw('"abc"'), 3),  # a string has a length too
        (raw("7"), 1),
        ("e30", 1),  # {}
        ("not-base64!!", 1),
        ("W", 1),  # truncated base64
        (raw("[1,"), 1),  # truncated JSON
        (raw('[{"t": "yesterday"}]'), 1),  # a tagged time that is no time
        (raw('[{"t": 5}]'), 1),
        (raw('[{"u": "not-a-uuid"}]'), 1),
        (raw('[{"u": 5}]'), 1),  # UUID(5) would raise AttributeError, not ValueError
        (raw('[{"u": []}]'), 1),
        (raw('[{"t": null}]'), 1),
        ("\u00e9", 1),  # not ASCII
        ("", 1),
    ],
)
def test_a_cursor_this_api_did_not_issue_is_400_invalid_cursor(cursor, width):
    problem = refused(cursor, width)
    assert problem.status == 400
    assert problem.slug == "invalid-cursor"
    assert problem.body()["type"] == "urn:tansiq:problem:invalid-cursor"
    assert problem.body()["detail"] == "The cursor is not one this API issued."


def test_an_empty_list_is_a_cursor_of_no_columns():
    assert decode_cursor(encode_cursor([]), 0) == []


# --- each value checked against its column ------------------------------------------------------


def bound(columns: list[sa.ColumnElement[Any]], values: list[Any]) -> list[Any]:
    """The values `after_cursor` binds, in order."""
    condition = after_cursor(columns, encode_cursor(values))
    params = condition.compile().params
    return [params[f"param_{i}"] for i in range(1, len(values) + 1)]


def check_refused(column: sa.ColumnElement[Any], value: Any) -> None:
    with pytest.raises(BadRequest) as caught:
        after_cursor([column], encode_cursor([value]))
    assert caught.value.slug == "invalid-cursor"
    assert caught.value.body()["detail"] == "The cursor is not one this API issued."


def test_the_condition_is_the_row_tuple_after_the_cursor():
    created_at = sa.column("created_at", sa.DateTime(timezone=True))
    row_id = sa.column("id", sa.Integer)
    condition = after_cursor([created_at, row_id], encode_cursor([WHEN, 7]))
    assert str(condition) == "(created_at, id) > (:param_1, :param_2)"
    assert condition.compile().params == {"param_1": WHEN, "param_2": 7}


def test_values_are_bound_with_their_columns_type():
    created_at = sa.column("created_at", sa.DateTime(timezone=True))
    name = sa.column("name", sa.Text)
    condition = after_cursor([created_at, name], encode_cursor([WHEN, "x"]))
    right = condition.right
    assert [type(c.type) for c in right.clauses] == [sa.DateTime, sa.Text]


def test_a_uuid_column_takes_a_uuid_as_the_column_stores_it():
    as_uuid = sa.column("id", sa.Uuid(as_uuid=True))
    as_text = sa.column("id", postgresql.UUID(as_uuid=False))
    assert bound([as_uuid], [str(ID)]) == [ID]
    assert bound([as_uuid], [ID]) == [ID]
    assert bound([as_text], [ID]) == [str(ID)]
    assert bound([as_text], [str(ID).upper()]) == [str(ID)]
    for value in ("not-a-uuid", 7, "", {"k": 1}):
        check_refused(as_uuid, value)
        check_refused(as_text, value)


def test_a_value_of_another_type_than_its_column_is_refused():
    check_refused(sa.column("n", sa.Integer), "1 OR 1=1")
    check_refused(sa.column("n", sa.Integer), 1.5)
    check_refused(sa.column("n", sa.Integer), None)
    check_refused(sa.column("t", sa.Text), 7)
    check_refused(sa.column("at", sa.DateTime(timezone=True)), "yesterday")
    check_refused(sa.column("at", sa.DateTime(timezone=True)), 1741597200)


def test_a_bool_is_no_integer_but_is_a_boolean():
    check_refused(sa.column("n", sa.Integer), True)
    check_refused(sa.column("n", sa.Integer), False)
    assert bound([sa.column("flag", sa.Boolean)], [True]) == [True]
    assert bound([sa.column("flag", sa.Boolean)], [False]) == [False]
    check_refused(sa.column("flag", sa.Boolean), 1)


def test_a_column_type_without_a_python_type_takes_the_value_as_it_is():
    assert bound([sa.column("anything", sa.types.NullType())], [{"k": 1}]) == [{"k": 1}]


@pytest.mark.parametrize(
    ("column_type", "low", "high"),
    [
        (sa.SmallInteger, -(2**15), 2**15 - 1),
        (sa.Integer, -(2**31), 2**31 - 1),
        (sa.BigInteger, -(2**63), 2**63 - 1),
    ],
)
def test_an_integer_must_fit_its_column(column_type, low, high):
    column = sa.column("n", column_type)
    assert bound([column], [low]) == [low]
    assert bound([column], [high]) == [high]
    assert bound([column], [0]) == [0]
    check_refused(column, low - 1)
    check_refused(column, high + 1)


def test_other_integer_types_are_held_to_bigint():
    class Counter(sa.Integer):
        pass

    column = sa.column("n", Counter())
    assert bound([column], [2**63 - 1]) == [2**63 - 1]
    assert bound([column], [-(2**63)]) == [-(2**63)]
    check_refused(column, 2**63)
    check_refused(column, -(2**63) - 1)


def test_a_time_the_database_cannot_hold_is_refused():
    column = sa.column("at", sa.DateTime(timezone=True))
    # Valid Python datetimes that leave the calendar once moved to UTC.
    check_refused(column, datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
    check_refused(column, datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-2))))
    assert bound([column], [datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))]) == [
        datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    ]


def test_the_calendar_check_is_made_in_utc_whatever_the_hosts_zone(monkeypatch):
    column = sa.column("at", sa.DateTime(timezone=True))
    last_hour = datetime(9999, 12, 31, 23, tzinfo=UTC)
    # A host three hours east of UTC (POSIX TZ signs are inverted): in its local time this
    # instant is in year 10000, in UTC (what PostgreSQL stores) it is not.
    monkeypatch.setenv("TZ", "EAST-3")
    time.tzset()
    try:
        assert bound([column], [last_hour]) == [last_hour]
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_date_column_takes_the_time_the_cursor_carries():
    column = sa.column("day", sa.Date)
    assert bound([column], [WHEN]) == [WHEN]
    check_refused(column, "2025-03-10")
    assert isinstance(WHEN, date)


# --- cutting a page -----------------------------------------------------------------------------


CREATED_AT = sa.column("created_at", sa.DateTime(timezone=True))
ROW_ID = sa.column("id", sa.Integer)
ORDER: list[sa.ColumnElement[Any]] = [CREATED_AT, ROW_ID]


def rows(n: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(created_at=WHEN + timedelta(minutes=i), id=i) for i in range(n)]


def test_a_short_last_page_has_no_next_cursor():
    fetched = rows(3)
    page, cursor = split_page(fetched, ORDER, 5)
    assert page == fetched
    assert cursor is None


def test_a_full_last_page_has_no_next_cursor():
    # The statement fetched limit + 1 rows and got exactly `limit`: nothing follows.
    fetched = rows(5)
    page, cursor = split_page(fetched, ORDER, 5)
    assert page == fetched
    assert cursor is None


def test_one_row_more_than_the_limit_means_another_page_after_the_last_row_shown():
    fetched = rows(6)
    page, cursor = split_page(fetched, ORDER, 5)
    assert page == fetched[:5]
    assert cursor is not None
    assert decode_cursor(cursor, 2) == [WHEN + timedelta(minutes=4), 4]


def test_the_cursor_of_a_one_row_page():
    fetched = rows(2)
    page, cursor = split_page(fetched, ORDER, 1)
    assert page == fetched[:1]
    assert cursor == encode_cursor([WHEN, 0])


def test_the_next_page_condition_starts_after_the_cursor_row():
    page, cursor = split_page(rows(4), ORDER, 2)
    assert cursor is not None
    assert after_cursor(ORDER, cursor).compile().params == {
        "param_1": WHEN + timedelta(minutes=1),
        "param_2": 1,
    }
    assert [r.id for r in page] == [0, 1]


def test_split_page_returns_a_list_it_owns():
    fetched = tuple(rows(2))
    page, _ = split_page(fetched, ORDER, 5)
    assert isinstance(page, list)
    assert page == list(fetched)
