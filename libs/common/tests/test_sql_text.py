"""The helpers of reads written as SQL text (tansiq_common.db.Params, auth.visible_sql, and
pagination's and search's `_sql` forms): the same rows as their SQLAlchemy forms, on the same
table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from tansiq_common.auth import OrgScope, Principal, visible_sql, visible_to
from tansiq_common.db import Params, new_metadata
from tansiq_common.pagination import (
    after_cursor,
    after_cursor_sql,
    encode_cursor,
    order_sql,
    split_records,
)
from tansiq_common.problems import BadRequest
from tansiq_common.search import matches, matches_sql, search_text

metadata = new_metadata()
records = sa.Table(
    "sql_text_records",
    metadata,
    sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("visibility", sa.Text, nullable=False),
    sa.Column("owner_ministry_id", sa.Text, nullable=True),
    sa.Column("party_org_ids", ARRAY(sa.Text), nullable=False),
    sa.Column("countries", ARRAY(sa.Text), nullable=False),
    sa.Column("search_text", sa.Text, nullable=False),
)
ORDER = (records.c.created_at, records.c.id)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _row(n: int, visibility: str, ministry: str, parties: list[str], country: str, text: str):
    return {
        "id": str(UUID(int=n)),
        # Two rows per instant: the id breaks the tie.
        "created_at": T0 + timedelta(seconds=n // 2),
        "visibility": visibility,
        "owner_ministry_id": ministry,
        "party_org_ids": parties,
        "countries": [country],
        "search_text": search_text(text),
    }


ROWS = [
    _row(1, "interagency", "moe", ["moe", "unesco"], "QA", "Teacher training"),
    _row(2, "restricted", "moe", ["moe-dir", "unesco"], "QA", "تدريب المعلمين"),
    _row(3, "restricted", "mofa", ["icd", "unesco"], "QA", "100% of teachers_"),
    _row(4, "restricted", "sy-mlae", ["sy-mlae", "unesco"], "SY", "Labour training"),
    _row(5, "secret-ish", "x", [], "QA", "odd training"),
]
IDS = [row["id"] for row in ROWS]


def p(org: str, *roles: str) -> Principal:
    return Principal(sub="s", org=org, roles=frozenset(roles))


MOE = OrgScope("moe", "moe", frozenset({"moe", "moe-dir"}), False, "QA", True)
ICD = OrgScope("icd", "mofa", frozenset({"icd"}), True, "QA", True)
MOH = OrgScope("moh", "moh", frozenset({"moh"}), False, "QA", True)
UNESCO = OrgScope("unesco", None, frozenset({"unesco"}), False)
UNKNOWN = OrgScope.empty("ghost")


@pytest.fixture
async def loaded(infra_db):
    async with infra_db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(sa.insert(records), ROWS)
    yield infra_db
    async with infra_db.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)


async def _ids_sql(db, where: list[str], args: list[object]) -> list[str]:
    sql = "SELECT id::text AS id FROM sql_text_records"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = await db.reads.fetch(sql + f" ORDER BY {order_sql(ORDER)}", *args)
    return [row["id"] for row in rows]


async def _ids_orm(db, *where: sa.ColumnElement[bool]) -> list[str]:
    async with db.engine.connect() as conn:
        stmt = sa.select(records.c.id).where(*where).order_by(*ORDER)
        return list((await conn.execute(stmt)).scalars())


@pytest.mark.parametrize(
    ("scope", "principal", "expected"),
    [
        (MOE, p("moe", "viewer"), [IDS[0], IDS[1]]),
        (MOH, p("moh", "editor"), [IDS[0]]),
        (UNESCO, p("unesco", "viewer"), IDS[:4]),
        (ICD, p("icd", "coordinator"), [IDS[0], IDS[1], IDS[2], IDS[4]]),
        (MOH, p("moh", "auditor"), [IDS[0], IDS[1], IDS[2], IDS[4]]),
        (UNKNOWN, p("ghost", "auditor"), IDS),
        (UNKNOWN, p("ghost", "viewer", "coordinator"), [IDS[0]]),
    ],
)
async def test_visible_sql_sees_the_rows_visible_to_sees(loaded, scope, principal, expected):
    params = Params()
    clause = visible_sql(scope, principal, params.bind, owner_ministry="owner_ministry_id")
    # None only for whoever sees every row (a global auditor).
    assert (clause is None) == (expected == IDS)
    got = await _ids_sql(loaded, [clause] if clause else [], params.args)
    rule = visible_to(
        scope,
        principal,
        visibility_col=records.c.visibility,
        owner_ministry_col=records.c.owner_ministry_id,
        party_org_ids_col=records.c.party_org_ids,
        countries_col=records.c.countries,
    )
    assert got == await _ids_orm(loaded, rule) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("training", [IDS[0], IDS[3], IDS[4]]),
        ("TRAINING teacher", [IDS[0]]),
        ("تدريب", [IDS[1]]),
        # LIKE wildcards in the query match themselves
        ("100%", [IDS[2]]),
        ("s_", [IDS[2]]),
        ("", IDS),
        (None, IDS),
    ],
)
async def test_matches_sql_finds_what_matches_finds(loaded, q, expected):
    params = Params()
    got = await _ids_sql(loaded, matches_sql("search_text", q, params.bind), params.args)
    assert got == await _ids_orm(loaded, *matches(records.c.search_text, q)) == expected


async def test_keyset_pages_in_sql_text_cover_every_row_once_in_order(loaded):
    seen: list[str] = []
    cursor = None
    while True:
        params = Params()
        where = [after_cursor_sql(ORDER, cursor, params.bind)] if cursor else []
        sql = "SELECT id::text AS id, created_at FROM sql_text_records"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {order_sql(ORDER)} LIMIT {params.bind(3)}"
        rows = await loaded.reads.fetch(sql, *params.args)
        page, cursor = split_records(rows, 2, lambda row: (row["created_at"], row["id"]))
        seen.extend(row["id"] for row in page)
        if cursor is None:
            break
        # The cursor the SQLAlchemy form takes too.
        after_cursor(ORDER, cursor)
    assert seen == IDS


def test_order_sql_names_the_tables_columns():
    # Not the output's: `id::text AS id` would be sorted as text, outside the index's order.
    assert order_sql(ORDER) == "sql_text_records.created_at, sql_text_records.id"


def test_after_cursor_sql_binds_the_typed_values():
    params = Params("first")
    cursor = encode_cursor([T0, IDS[0]])
    clause = after_cursor_sql(ORDER, cursor, params.bind)
    assert clause == "(sql_text_records.created_at, sql_text_records.id) > ($2, $3)"
    assert params.args == ["first", T0, IDS[0]]


@pytest.mark.parametrize("values", [["2026-01-01", IDS[0]], [T0, "not-a-uuid"], [T0]])
def test_a_foreign_cursor_is_400_before_any_sql(values):
    with pytest.raises(BadRequest):
        after_cursor_sql(ORDER, encode_cursor(values), Params().bind)


def test_split_records_keeps_a_short_page_whole():
    rows = [("a",), ("b",)]
    assert split_records(rows, 2, lambda row: row) == (rows, None)
    page, cursor = split_records([*rows, ("c",)], 2, lambda row: row)
    assert (page, cursor) == (rows, encode_cursor(["b"]))
