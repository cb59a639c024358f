"""Lists, filters, counts, search and the visibility rule (restricted records, country boundary)
in every one of them and in GET by id."""

from __future__ import annotations

import pytest

EDITOR = ("qfsw", "editor")


def problem(slug: str) -> str:
    return f"urn:tansiq:problem:{slug}"


async def ids(client, query: str, who) -> list[str]:
    response = await client.get(f"/v1/agreements?{query}", headers=who)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def count(client, query: str, who) -> int:
    response = await client.get(f"/v1/agreements/count?{query}", headers=who)
    assert response.status_code == 200, response.text
    return int(response.json()["count"])


@pytest.fixture
async def restricted(world, create):
    """A restricted agreement of the foundation (Qatar) with UNESCO."""
    return await create(visibility="restricted")


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        (("qfsw", "viewer"), True),  # the owner
        (("msdf", "viewer"), True),  # the owner's ministry
        (("wifaq", "viewer"), True),  # in the owner's ministry
        (("unesco", "viewer"), True),  # a party
        (("icd", "coordinator"), True),  # Qatar's coordinating body
        (("icd", "auditor"), True),  # a Qatari auditor
        ("global-auditor", True),  # an auditor whose token names no organization
        (("moi", "viewer"), False),  # another ministry
        (("moi", "coordinator"), False),  # the role, but not a coordinating body
        (("icd", "viewer"), False),  # the coordinating body, but not a coordinator
        (("mofae", "coordinator"), False),  # Syria's coordinating body: another country
        (("mofae", "auditor"), False),  # a Syrian auditor
        (("undp", "viewer"), False),  # not a party
        ("unknown-org", False),  # an organization nobody knows
    ],
)
async def test_restricted_agreements_exist_only_for_those_who_may_see_them(
    client, as_, auth_headers, restricted, who, sees
):
    if who == "global-auditor":
        headers = auth_headers("no-such-org", ["auditor"])
    elif who == "unknown-org":
        headers = auth_headers("no-such-org", ["viewer", "editor"])
    else:
        headers = as_(*who)
    one = await client.get(f"/v1/agreements/{restricted['id']}", headers=headers)
    history = await client.get(f"/v1/agreements/{restricted['id']}/history", headers=headers)
    milestones = await client.get(f"/v1/agreements/{restricted['id']}/milestones", headers=headers)
    listed = await ids(client, "", headers)
    searched = await ids(client, "q=inclusive", headers)
    counted = await count(client, "", headers)
    if sees:
        assert [one.status_code, history.status_code, milestones.status_code] == [200, 200, 200]
        assert listed == [restricted["id"]]
        assert searched == [restricted["id"]]
        assert counted == 1
    else:
        for response in (one, history, milestones):
            assert response.status_code == 404
            assert response.json()["type"] == problem("agreement-not-found")
        assert listed == searched == []
        assert counted == 0


async def test_a_hidden_agreement_cannot_be_acted_on_either(client, as_, restricted, counts):
    before = await counts()
    for who, action, body in (
        (("moi", "editor"), "submit", None),
        (("mofae", "coordinator"), "clear", {}),
    ):
        response = await client.post(
            f"/v1/agreements/{restricted['id']}/actions/{action}", json=body, headers=as_(*who)
        )
        assert response.status_code == 404, (who, response.text)
    patched = await client.patch(
        f"/v1/agreements/{restricted['id']}",
        json={"title": {"en": "x"}},
        headers={**as_("moi", "editor"), "If-Match": '"1"'},
    )
    assert patched.status_code == 404
    assert await counts() == before


async def test_interagency_agreements_are_seen_by_every_government_user(client, as_, create):
    a = await create()
    for who in (("moi", "viewer"), ("mofae", "coordinator"), ("undp", "integration")):
        assert (await client.get(f"/v1/agreements/{a['id']}", headers=as_(*who))).status_code == 200


async def test_a_country_boundary_follows_the_parties(client, world, as_, create):
    """An agreement of Qatar's foundation naming a Syrian directorate as party is restricted
    but Syria's coordinating body sees it: it names an organization of Syria."""
    a = await create(
        visibility="restricted",
        parties=[
            {"org_id": world["qfsw"], "role": "signatory"},
            {"org_id": world["dic"], "role": "beneficiary"},
        ],
        funding=[],
    )
    assert a["countries"] == ["QA", "SY"]
    seen = await client.get(f"/v1/agreements/{a['id']}", headers=as_("mofae", "coordinator"))
    assert seen.status_code == 200
    # and the Syrian directorate, a party, sees it too
    assert (
        await client.get(f"/v1/agreements/{a['id']}", headers=as_("dic", "viewer"))
    ).status_code == 200


@pytest.fixture
async def catalogue(world, as_, create, client):
    """Agreements differing in every filtered field."""
    made = {}
    made["qfsw_unesco"] = await create()  # draft, SDG 4 5, education, expires 2027-12-31
    made["qfsw_undp"] = await create(
        kind="mou",
        title={"ar": "مذكرة تفاهم للتمكين الاجتماعي", "en": "MoU on social empowerment"},
        parties=[
            {"org_id": world["qfsw"], "role": "signatory"},
            {"org_id": world["undp"], "role": "implementer"},
        ],
        themes={"sdgs": [10], "sectors": ["social-development"], "priorities": []},
        funding=[],
        expires_on="2025-06-30",
    )
    made["moi_escwa"] = await create(
        editor=("moi", "editor"),
        kind="technical_assistance",
        title={"en": "Technical assistance on coordination"},
        owner_org_id=world["moi"],
        parties=[
            {"org_id": world["moi"], "role": "signatory"},
            {"org_id": world["escwa"], "role": "implementer"},
        ],
        themes={"sdgs": [16], "sectors": [], "priorities": ["NDS2-IC-3"]},
        funding=[],
        expires_on="2026-01-31",
    )
    editor = as_(*EDITOR)
    # qfsw_undp: signed without clearance; moi_escwa: cleared then signed.
    await client.post(
        f"/v1/agreements/{made['qfsw_undp']['id']}/actions/sign",
        json={"signed_on": "2024-03-01"},
        headers=editor,
    )
    moi = as_("moi", "editor")
    url = f"/v1/agreements/{made['moi_escwa']['id']}/actions"
    await client.post(f"{url}/submit", headers=moi)
    await client.post(f"{url}/clear", json={}, headers=as_("icd", "coordinator"))
    await client.post(f"{url}/sign", json={"signed_on": "2025-02-01"}, headers=moi)
    return {name: a["id"] for name, a in made.items()}


FILTER_CASES = [
    ("", ["qfsw_unesco", "qfsw_undp", "moi_escwa"]),
    ("status=draft", ["qfsw_unesco"]),
    ("status=signed", ["qfsw_undp", "moi_escwa"]),
    ("status=draft&status=signed", ["qfsw_unesco", "qfsw_undp", "moi_escwa"]),
    ("kind=mou", ["qfsw_undp"]),
    ("kind=mou&kind=technical_assistance", ["qfsw_undp", "moi_escwa"]),
    ("owner_org_id={moi}", ["moi_escwa"]),
    ("owner_org_id={moi_upper}", ["moi_escwa"]),
    ("owner_org_id=not-a-uuid", []),
    ("party_org_id={undp}", ["qfsw_undp"]),
    ("party_org_id={qfsw}", ["qfsw_unesco", "qfsw_undp"]),  # the owner counts
    ("ministry_id={msdf}", ["qfsw_unesco", "qfsw_undp"]),
    ("ministry_id={moi}", ["moi_escwa"]),
    ("sdg=4", ["qfsw_unesco"]),
    ("sdg=4&sdg=5", ["qfsw_unesco"]),
    ("sdg=4&sdg=10", []),
    ("sector=social-development", ["qfsw_undp"]),
    ("priority=NDS2-IC-3", ["moi_escwa"]),
    ("expiring_before=2026-01-31", ["qfsw_undp"]),
    ("expiring_before=2026-02-01", ["qfsw_undp", "moi_escwa"]),
    ("signed_from=2024-03-01&signed_to=2024-03-01", ["qfsw_undp"]),
    ("signed_from=2024-03-02", ["moi_escwa"]),
    ("signed_to=2025-01-31", ["qfsw_undp"]),
    ("cleared=true", ["moi_escwa"]),
    ("cleared=false", ["qfsw_unesco", "qfsw_undp"]),
    ("signed_uncleared=true", ["qfsw_undp"]),
    ("visibility=restricted", []),
    ("q=تمكين", ["qfsw_undp"]),
    ("q=مذكره تفاهم", ["qfsw_undp"]),  # ة typed as ه
    ("q=COORDINATION", ["moi_escwa"]),
    ("q=cooperation%20agreement", ["qfsw_unesco"]),
    ("q=inclusive%20education", ["qfsw_unesco", "qfsw_undp", "moi_escwa"]),  # the summary
    ("q=100%25", []),  # a LIKE wildcard matches itself
]


async def test_filters(client, world, as_, catalogue):
    """Every filter against one catalogue (built once: the cases share it)."""
    who = as_("icd", "coordinator")
    wrong = []
    for query, expected in FILTER_CASES:
        query = query.format(
            moi=world["moi"], moi_upper=world["moi"].upper(), undp=world["undp"],
            qfsw=world["qfsw"], msdf=world["msdf"],
        )  # fmt: skip
        want = [catalogue[name] for name in expected]
        got = await ids(client, query, who)
        counted = await count(client, query, who)
        if got != want or counted != len(want):
            names = {v: k for k, v in catalogue.items()}
            wrong.append(f"{query}: got {[names.get(i, i) for i in got]} (count {counted})")
    assert not wrong, "\n".join(wrong)


async def test_pages_follow_creation_order_with_a_cursor(client, as_, catalogue):
    who = as_("moi", "viewer")
    first = await client.get("/v1/agreements?limit=2", headers=who)
    assert [a["id"] for a in first.json()["items"]] == [
        catalogue["qfsw_unesco"],
        catalogue["qfsw_undp"],
    ]
    cursor = first.json()["next_cursor"]
    assert cursor
    second = await client.get(f"/v1/agreements?limit=2&cursor={cursor}", headers=who)
    assert [a["id"] for a in second.json()["items"]] == [catalogue["moi_escwa"]]
    assert second.json()["next_cursor"] is None


@pytest.mark.parametrize(
    "query",
    ["status=approved", "sdg=18", "sdg=0", "limit=0", "limit=501", "signed_from=yesterday",
     "cleared=perhaps", "sector=two%20words", "cursor=not-a-cursor", "q=" + "x" * 201],
)  # fmt: skip
async def test_bad_list_parameters_are_4xx_problems(client, as_, query):
    response = await client.get(f"/v1/agreements?{query}", headers=as_("moi", "viewer"))
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_unknown_ids_are_404(client, as_):
    for path in ("not-a-uuid", "00000000-0000-4000-8000-000000000000"):
        response = await client.get(f"/v1/agreements/{path}", headers=as_("moi", "viewer"))
        assert response.status_code == 404
        assert response.json()["type"] == problem("agreement-not-found")
