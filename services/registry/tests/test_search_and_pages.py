"""Search and keyset pages of GET /v1/organizations against PostgreSQL: exact result sets, LIKE
wildcards taken literally, search text that follows renames, and pages in (created_at, id) order
whether creation times differ or are equal."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

T0 = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)


async def search(client, viewer, q: str) -> set[str]:
    response = await client.get("/v1/organizations", params={"q": q}, headers=viewer)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    return {o["id"] for o in page["items"]}


async def test_like_wildcards_in_q_match_only_themselves(client, viewer, create):
    percent = await create("international_organization", en="Fund 100% Green")
    thousand = await create("international_organization", en="Fund 1000 Green")
    underscore = await create("international_organization", en="Office A_B")
    letter = await create("international_organization", en="Office AxB")
    backslash = await create("international_organization", en="Archive C:\\Data")

    assert await search(client, viewer, "100%") == {percent["id"]}
    assert await search(client, viewer, "%") == {percent["id"]}
    assert await search(client, viewer, "%%") == set()
    assert await search(client, viewer, "a_b") == {underscore["id"]}
    assert await search(client, viewer, "_") == {underscore["id"]}
    assert await search(client, viewer, "\\") == {backslash["id"]}
    assert await search(client, viewer, "c:\\data") == {backslash["id"]}
    # Without any wildcard, the plain text still matches as before.
    assert await search(client, viewer, "100") == {percent["id"], thousand["id"]}
    assert await search(client, viewer, "axb") == {letter["id"]}
    assert await search(client, viewer, "office") == {underscore["id"], letter["id"]}


async def test_search_follows_a_rename(client, admin, viewer, create):
    awqaf = await create(en="Ministry of Awqaf", ar="وزارة الأوقاف", acronym="MOA")
    other = await create(en="Ministry of Finance", ar="وزارة المالية")
    assert await search(client, viewer, "awqaf") == {awqaf["id"]}
    assert await search(client, viewer, "الاوقاف") == {awqaf["id"]}
    assert await search(client, viewer, "moa") == {awqaf["id"]}

    renamed = await client.patch(
        f"/v1/organizations/{awqaf['id']}",
        json={"names": {"en": "Ministry of Endowments", "ar": "وزارة الأوقاف والشؤون الإسلامية"}},
        headers={**admin, "If-Match": '"1"'},
    )
    assert renamed.status_code == 200, renamed.text
    assert await search(client, viewer, "awqaf") == set()
    assert await search(client, viewer, "endowments") == {awqaf["id"]}
    assert await search(client, viewer, "الاسلاميه") == {awqaf["id"]}
    assert await search(client, viewer, "الاوقاف") == {awqaf["id"]}  # still in the new name

    recoded = await client.patch(
        f"/v1/organizations/{awqaf['id']}",
        json={"acronym": "MOEIA"},
        headers={**admin, "If-Match": '"2"'},
    )
    assert recoded.status_code == 200, recoded.text
    assert await search(client, viewer, "moa") == set()
    assert await search(client, viewer, "moeia") == {awqaf["id"]}
    assert await search(client, viewer, "ministry") == {awqaf["id"], other["id"]}


# --- keyset pages -------------------------------------------------------------------------------


async def place_in_time(sql, orgs: list[dict[str, Any]], offsets: list[int]) -> list[str]:
    """Give the organizations, taken in descending id order, these creation times (minutes
    after T0; equal offsets are equal times), so that the (created_at, id) order is neither the
    order of ids nor that of creation. Returns the ids in the order a list must give them."""
    by_id_desc = sorted((o["id"] for o in orgs), reverse=True)
    placed = []
    for org_id, minutes in zip(by_id_desc, offsets, strict=True):
        at = T0 + timedelta(minutes=minutes)
        await sql.execute("update organizations set created_at = $1 where id = $2", at, org_id)
        placed.append((at, org_id))
    return [org_id for _, org_id in sorted(placed)]


async def walk(client, viewer, limit: int, **params: str) -> tuple[list[str], int]:
    seen: list[str] = []
    pages = 0
    cursor = None
    while True:
        query = {"limit": str(limit), **params, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/organizations", params=query, headers=viewer)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        seen += [o["id"] for o in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, pages


# Minutes after T0 for the organizations in descending id order: distinct times, ties of two and
# of three, and a tie at the very end.
OFFSETS = [0, 5, 5, 5, 9, 12, 12, 20, 30, 30]


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 10, 11])
async def test_pages_follow_created_at_then_id_with_distinct_and_equal_times(
    client, viewer, create, sql, limit
):
    orgs = [await create("un_entity", en=f"Agency {n}") for n in range(len(OFFSETS))]
    expected = await place_in_time(sql, orgs, OFFSETS)
    by_id = sorted(expected)
    # The data is laid out so that the id order and the creation order both differ from the
    # page order: paging on the id alone, or on the time alone, fails here.
    assert expected != by_id
    assert expected != [o["id"] for o in orgs]

    seen, pages = await walk(client, viewer, limit)
    assert seen == expected
    # A page says another follows only when there is one: no empty last page.
    assert pages == -(-len(expected) // limit)


async def test_every_page_boundary_inside_a_tie_loses_and_repeats_nothing(
    client, viewer, create, sql
):
    orgs = [await create("un_entity", en=f"Agency {n}") for n in range(6)]
    expected = await place_in_time(sql, orgs, [3, 3, 3, 3, 3, 3])  # one time for all
    assert expected == sorted(o["id"] for o in orgs)
    for limit in (1, 2, 4, 5):
        assert (await walk(client, viewer, limit))[0] == expected


async def test_pages_of_a_search_and_of_a_filter_keep_the_same_order(client, viewer, create, sql):
    orgs = [await create("un_entity", en=f"Fund {n}") for n in range(len(OFFSETS))]
    expected = await place_in_time(sql, orgs, OFFSETS)
    await create("ngo", en="Charity Trust")  # neither a fund nor a UN entity
    assert (await walk(client, viewer, 3, q="fund"))[0] == expected
    assert (await walk(client, viewer, 4, kind="un_entity"))[0] == expected


def cursor_of(json_text: str) -> str:
    return base64.urlsafe_b64encode(json_text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        cursor_of("[1, 2]"),
        cursor_of('[{"t": "2025-01-01T00:00:00+00:00"}]'),
        cursor_of('[{"t": "2025-01-01T00:00:00+00:00"}, "not-a-uuid"]'),
        cursor_of('[{"t": "2025-01-01T00:00:00+00:00"}, 7]'),
        cursor_of('["2025-01-01", "00000000-0000-4000-8000-000000000000"]'),
        cursor_of('[{"t": "0001-01-01T00:00:00+01:00"}, "00000000-0000-4000-8000-000000000000"]'),
        "garbage!",
        cursor_of('[{"t": "2025-01-01T00:00:00+00:00"}, {"u": 5}]'),
    ],
)
async def test_a_forged_cursor_is_400_invalid_cursor(client, viewer, create, cursor):
    await create("un_entity", en="UNICEF")
    response = await client.get("/v1/organizations", params={"cursor": cursor}, headers=viewer)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "urn:tansiq:problem:invalid-cursor"
