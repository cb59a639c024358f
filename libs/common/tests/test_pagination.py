from datetime import UTC, datetime
from uuid import uuid4

import pytest
import sqlalchemy as sa
from tansiq_common.pagination import after_cursor, decode_cursor, encode_cursor, keyset_page
from tansiq_common.problems import BadRequest


def test_cursor_round_trips_datetimes_uuids_and_text():
    values = [datetime(2025, 3, 10, 9, 0, tzinfo=UTC), uuid4(), "وزارة", 7]
    assert decode_cursor(encode_cursor(values), 4) == values


@pytest.mark.parametrize("cursor", ["not-base64!!", encode_cursor([1]), "e30"])
def test_foreign_cursor_is_400(cursor):
    with pytest.raises(BadRequest) as caught:
        decode_cursor(cursor, 2)
    assert caught.value.slug == "invalid-cursor"


async def test_keyset_pages_cover_every_row_once_in_order(infra_db):
    metadata = sa.MetaData()
    rows = sa.Table(
        "page_rows",
        metadata,
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("id", sa.Integer, primary_key=True),
    )
    same_time = datetime(2025, 1, 1, tzinfo=UTC)
    async with infra_db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            sa.insert(rows), [{"id": i, "created_at": same_time} for i in range(1, 12)]
        )
    seen: list[int] = []
    cursor = None
    pages = 0
    async with infra_db.sessionmaker() as session:
        while True:
            page, cursor = await keyset_page(
                session, sa.select(rows), [rows.c.created_at, rows.c.id], limit=5, cursor=cursor
            )
            seen += [row.id for row in page]
            pages += 1
            if cursor is None:
                break
    assert seen == list(range(1, 12))
    assert pages == 3
    async with infra_db.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)


@pytest.mark.parametrize(
    "values",
    [
        ["yesterday", 1],  # not a time
        [datetime(2025, 1, 1, tzinfo=UTC), "1 OR 1=1"],  # not an integer
        [datetime(2025, 1, 1, tzinfo=UTC), True],  # a bool is no id
    ],
)
async def test_a_cursor_of_the_wrong_types_is_400_not_a_database_error(infra_db, values):
    metadata = sa.MetaData()
    rows = sa.Table(
        "typed_rows",
        metadata,
        sa.Column("created_at", sa.DateTime(timezone=True)),
        sa.Column("id", sa.Integer, primary_key=True),
    )
    async with infra_db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        async with infra_db.sessionmaker() as session:
            with pytest.raises(BadRequest) as caught:
                await keyset_page(
                    session,
                    sa.select(rows),
                    [rows.c.created_at, rows.c.id],
                    limit=5,
                    cursor=encode_cursor(values),
                )
        assert caught.value.slug == "invalid-cursor"
    finally:
        async with infra_db.engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)


def test_a_uuid_cursor_value_must_be_a_uuid():
    from sqlalchemy.dialects.postgresql import UUID

    column = sa.Column("id", UUID(as_uuid=False))
    assert after_cursor([column], encode_cursor([str(uuid4())])) is not None
    with pytest.raises(BadRequest):
        after_cursor([column], encode_cursor(["not-a-uuid"]))
