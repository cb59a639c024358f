"""The reads on the driver's connection (queries.agreement_state, agreement_states,
count_agreements, milestone_states) against the SQLAlchemy path they replaced: the same state key
for key, the same agreements for every caller and filter, the same pages."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from tansiq_agreements.agreements import queries
from tansiq_agreements.agreements.model import AgreementNotFound, Status, allowed_actions
from tansiq_agreements.agreements.repository import MAPPER, visible
from tansiq_agreements.agreements.tables import agreements
from tansiq_common.auth import Principal
from tansiq_common.codec import to_json
from tansiq_common.pagination import after_cursor, encode_cursor
from tansiq_common.search import matches

EDITOR = ("qfsw", "editor")
QA_COORDINATOR = ("icd", "coordinator")


# --- the former path, kept here as the oracle -------------------------------------------------


def former_state(row: Any) -> dict[str, Any]:
    """What the SQLAlchemy path answered for a row (its `state_of`)."""
    data = row._mapping
    return {
        name: value.isoformat() if isinstance(value, date) else value
        for name, value in ((n, data[n]) for n in queries.STATE_COLUMNS)
    }


def _id_condition(column: Any, raw: str) -> Any:
    canonical = queries.parse_id(raw)
    return column == canonical if canonical else sa.false()


def former_conditions(f: queries.AgreementFilter) -> list[Any]:
    """The SQLAlchemy path's filter clauses, as they were."""
    t = agreements
    where: list[Any] = []
    if f.statuses:
        where.append(t.c.status.in_(f.statuses))
    if f.kinds:
        where.append(t.c.kind.in_(f.kinds))
    if f.owner_org_id is not None:
        where.append(_id_condition(t.c.owner_org_id, f.owner_org_id))
    if f.ministry_id is not None:
        where.append(_id_condition(t.c.owner_ministry_id, f.ministry_id))
    if f.party_org_id is not None:
        canonical = queries.parse_id(f.party_org_id)
        where.append(t.c.party_org_ids.contains([canonical]) if canonical else sa.false())
    if f.supersedes is not None:
        where.append(_id_condition(t.c.supersedes, f.supersedes))
    if f.sdgs:
        where.append(t.c.themes.contains({"sdgs": list(f.sdgs)}))
    if f.sector is not None:
        where.append(t.c.themes.contains({"sectors": [f.sector]}))
    if f.priority is not None:
        where.append(t.c.themes.contains({"priorities": [f.priority]}))
    if f.expiring_before is not None:
        where.append(t.c.expires_on < f.expiring_before)
    if f.signed_from is not None:
        where.append(t.c.signed_on >= f.signed_from)
    if f.signed_to is not None:
        where.append(t.c.signed_on <= f.signed_to)
    if f.cleared is not None:
        where.append(t.c.cleared.is_(f.cleared))
    if f.signed_uncleared is not None:
        where.append(t.c.signed_uncleared.is_(f.signed_uncleared))
    if f.visibility is not None:
        where.append(t.c.visibility == f.visibility)
    where.extend(matches(t.c.search_text, f.q))
    return where


async def former_page(
    app, f: queries.AgreementFilter, who: Principal, scope, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None, int]:
    stmt = sa.select(agreements).where(visible(who, scope), *former_conditions(f))
    if cursor:
        stmt = stmt.where(after_cursor(queries.PAGE_ORDER, cursor))
    stmt = stmt.order_by(*queries.PAGE_ORDER).limit(limit + 1)
    count = (
        sa.select(sa.func.count())
        .select_from(agreements)
        .where(visible(who, scope), *former_conditions(f))
    )
    async with app.state.read_engine.connect() as connection:
        rows = list(await connection.execute(stmt))
        counted = int((await connection.execute(count)).scalar_one())
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].created_at, rows[-1].id])
    return [former_state(row) for row in rows], next_cursor, counted


# --- callers -------------------------------------------------------------------------------------

# (organization, roles): every case of the visibility rule (tansiq_common.auth.visible_to).
CALLERS = [
    ("qfsw", "viewer"),  # an owner
    ("msdf", "viewer"),  # the owner's ministry
    ("wifaq", "viewer"),  # in the owner's ministry
    ("unesco", "viewer"),  # a party, with no ministry
    ("dic", "viewer"),  # a Syrian party
    ("icd", "coordinator"),  # Qatar's coordinating body: Qatar's records
    ("icd", "auditor"),  # a Qatari auditor
    ("mofae", "coordinator"),  # Syria's coordinating body
    ("moi", "viewer"),  # another ministry
    ("moi", "coordinator"),  # the role, but no coordinating body
    ("undp", "integration"),
    ("no-such-org", "auditor"),  # a global auditor: every record
    ("no-such-org", "viewer"),  # an organization nobody knows
]


async def caller(app, world, org: str, role: str) -> tuple[Principal, Any]:
    org_id = world[org] if org in world.ids else org
    principal = Principal(sub=f"{org}-{role}", org=org_id, roles=frozenset({role}))
    return principal, await app.state.organization_directory.scope_of(org_id)


# --- the agreements ------------------------------------------------------------------------------


@pytest.fixture
async def made(client, world, as_, create) -> dict[str, str]:
    """Agreements with every part of the state filled in some of them: parties, funding,
    milestones (one done), themes, clearance with conditions, signature, entry into force,
    termination, a successor and its predecessor, restricted ones across the country boundary."""
    editor = as_(*EDITOR)
    ids: dict[str, str] = {}
    full = await create(
        funding=[
            {"funder_org_id": world["unesco"], "amount": "250000.00", "currency": "USD"},
            {"funder_org_id": world["qfsw"], "amount": "1000", "currency": "QAR"},
        ],
    )
    ids["full"] = full["id"]
    url = f"/v1/agreements/{full['id']}"
    for title, due_on in (("Annual report", "2025-03-31"), ("Kick-off", "2024-02-01")):
        response = await client.post(
            f"{url}/milestones",
            json={"title": title, "due_on": due_on, "responsible_org_id": world["qfsw"]},
            headers=editor,
        )
        assert response.status_code == 201, response.text
    milestone = response.json()["id"]
    done = await client.patch(
        f"{url}/milestones/{milestone}",
        json={"status": "done"},
        headers={**editor, "If-Match": '"3"'},
    )
    assert done.status_code == 200, done.text
    for action, who, body in (
        ("submit", EDITOR, None),
        ("clear", QA_COORDINATOR, {"conditions": "Report yearly.", "comments": "تمت الموافقة"}),
        ("sign", EDITOR, {"signed_on": "2024-01-15"}),
        ("enter-into-force", EDITOR, None),
    ):
        response = await client.post(f"{url}/actions/{action}", json=body, headers=as_(*who))
        assert response.status_code == 200, (action, response.text)
    renewed = await client.post(
        f"{url}/actions/renew", json={"expires_on": "2030-12-31"}, headers=editor
    )
    assert renewed.status_code == 201, renewed.text
    ids["successor"] = renewed.json()["id"]

    restricted_sy = await create(
        visibility="restricted",
        kind="mou",
        title={"ar": "مذكرة تفاهم للتمكين الاجتماعي", "en": "MoU on social empowerment"},
        parties=[
            {"org_id": world["qfsw"], "role": "signatory"},
            {"org_id": world["dic"], "role": "beneficiary"},
        ],
        themes={"sdgs": [10], "sectors": ["social-development"], "priorities": []},
        funding=[],
        expires_on="2025-06-30",
    )
    ids["restricted_sy"] = restricted_sy["id"]
    signed = await client.post(
        f"/v1/agreements/{restricted_sy['id']}/actions/sign",
        json={"signed_on": "2024-03-01"},
        headers=editor,
    )
    assert signed.status_code == 200, signed.text  # signed without clearance

    moi = as_("moi", "editor")
    moi_restricted = await create(
        editor=("moi", "editor"),
        visibility="restricted",
        kind="technical_assistance",
        title={"en": "Technical assistance on coordination 100%"},
        owner_org_id=world["moi"],
        parties=[
            {"org_id": world["moi"], "role": "signatory"},
            {"org_id": world["escwa"], "role": "implementer"},
        ],
        themes={"sdgs": [16], "sectors": [], "priorities": ["NDS2-IC-3"]},
        funding=[],
        expires_on="2026-01-31",
    )
    ids["moi_restricted"] = moi_restricted["id"]
    ended = await client.post(
        f"/v1/agreements/{moi_restricted['id']}/actions/terminate",
        json={"reason": "Abandoned", "terminated_on": "2024-05-01"},
        headers=moi,
    )
    assert ended.status_code == 200, ended.text
    ids["draft"] = (await create(summary={"ar": "التعليم الدامج"}))["id"]
    return ids


async def test_the_state_is_the_aggregates_snapshot_key_for_key(app, client, world, as_, made):
    who, scope = await caller(app, world, "no-such-org", "auditor")
    async with app.state.read_engine.connect() as connection:
        rows = {str(row.id): row for row in await connection.execute(sa.select(agreements))}
    assert set(rows) == set(made.values())
    full = rows[made["full"]]
    # The state has every part to compare.
    assert full.clearance["conditions"] == "Report yearly."
    assert [m["status"] for m in full.milestones] == ["pending", "done"]
    assert full.superseded_by == made["successor"]
    assert rows[made["moi_restricted"]].termination["reason"] == "Abandoned"
    for agreement_id, row in rows.items():
        state = await queries.agreement_state(app.state.reads, agreement_id, who, scope)
        snapshot = to_json(MAPPER.from_row(row))
        assert state == snapshot == former_state(row) == MAPPER.state_from_row(row), agreement_id
        # in the model's field order, as the snapshot
        assert list(state) == list(snapshot)
        # and through the API: the representation, its ETag, the list's item
        response = await client.get(
            f"/v1/agreements/{agreement_id}", headers=as_("icd", "coordinator")
        )
        assert response.headers["etag"] == f'"{snapshot["version"]}"'
        assert response.json() == {
            **snapshot,
            "allowed_actions": allowed_actions(Status(snapshot["status"])),
        }
    page = await client.get("/v1/agreements?limit=500", headers=as_("icd", "coordinator"))
    for item in page.json()["items"]:
        one = await client.get(f"/v1/agreements/{item['id']}", headers=as_("icd", "coordinator"))
        assert item == one.json()


async def test_an_agreement_hidden_or_missing_is_the_same_404(app, world, made):
    who, scope = await caller(app, world, "moi", "viewer")
    for agreement_id in (made["restricted_sy"], "00000000-0000-4000-8000-000000000000", "x"):
        with pytest.raises(AgreementNotFound) as raised:
            await queries.agreement_state(app.state.reads, agreement_id, who, scope)
        assert str(raised.value) == f"No agreement {agreement_id}."
        with pytest.raises(AgreementNotFound):
            await queries.milestone_states(app.state.reads, agreement_id, who, scope)
    # the owner's ministry sees the restricted one
    who, scope = await caller(app, world, "msdf", "viewer")
    state = await queries.agreement_state(app.state.reads, made["restricted_sy"], who, scope)
    assert state["id"] == made["restricted_sy"]


def filters(world, made) -> list[queries.AgreementFilter]:
    F = queries.AgreementFilter  # noqa: N806 - short, for the table below
    return [
        F(),
        F(statuses=("draft",)),
        F(statuses=("signed", "terminated")),
        F(kinds=("mou", "technical_assistance")),
        F(owner_org_id=world["moi"]),
        F(owner_org_id=world["moi"].upper()),
        F(owner_org_id="not-a-uuid"),
        F(party_org_id=world["dic"]),
        F(party_org_id=world["qfsw"]),
        F(party_org_id="nope"),
        F(ministry_id=world["msdf"]),
        F(ministry_id="nope"),
        F(sdgs=(4, 5)),
        F(sdgs=(4, 10)),
        F(sector="social-development"),
        F(priority="NDS2-IC-3"),
        F(expiring_before=date(2026, 2, 1)),
        F(expiring_before=date(2026, 1, 31)),  # the day it expires: not before it
        F(signed_from=date(2024, 1, 15), signed_to=date(2024, 3, 1)),
        F(signed_to=date(2024, 2, 1)),
        F(cleared=True),
        F(cleared=False),
        F(signed_uncleared=True),
        F(signed_uncleared=False),
        F(visibility="restricted"),
        F(visibility="interagency"),
        F(supersedes=made["full"]),
        F(supersedes=made["full"].upper()),
        F(supersedes="not-a-uuid"),
        F(q="تمكين"),
        F(q="مذكره تفاهم"),  # ة typed as ه
        F(q="COORDINATION"),
        F(q="100%"),  # a LIKE wildcard matches itself
        F(q="_"),
        F(q="inclusive education", statuses=("draft", "in_force")),
        F(q="الدامج"),
        F(statuses=("draft",), kinds=("cooperation_agreement",), sdgs=(4,), cleared=False),
    ]


async def test_every_caller_and_filter_finds_what_the_sqlalchemy_path_found(app, world, made):
    wrong = []
    for org, role in CALLERS:
        who, scope = await caller(app, world, org, role)
        for f in filters(world, made):
            want, _, want_count = await former_page(app, f, who, scope, limit=500, cursor=None)
            got, next_cursor = await queries.agreement_states(
                app.state.reads, f, who, scope, limit=500, cursor=None
            )
            counted = await queries.count_agreements(app.state.reads, f, who, scope)
            if got != want or counted != want_count or next_cursor is not None:
                wrong.append(f"{org} {role} {f}: {len(got)} / {len(want)}")
    assert not wrong, "\n".join(wrong)
    # and the matrix tells callers apart: not every one sees the same
    seen = set()
    for org, role in CALLERS:
        who, scope = await caller(app, world, org, role)
        page, _ = await queries.agreement_states(
            app.state.reads, queries.AgreementFilter(), who, scope, limit=500, cursor=None
        )
        seen.add(frozenset(state["id"] for state in page))
    everything = frozenset(made.values())
    interagency = everything - {made["restricted_sy"], made["moi_restricted"]}
    assert seen == {
        everything,
        interagency,
        interagency | {made["restricted_sy"]},
        interagency | {made["moi_restricted"]},
    }


async def test_pages_and_cursors_are_the_sqlalchemy_paths(app, world, made):
    for org, role in (("no-such-org", "auditor"), ("msdf", "viewer"), ("moi", "viewer")):
        who, scope = await caller(app, world, org, role)
        for f in (queries.AgreementFilter(), queries.AgreementFilter(q="agreement")):
            cursor: str | None = None
            former_cursor: str | None = None
            pages = 0
            while True:
                got, cursor = await queries.agreement_states(
                    app.state.reads, f, who, scope, limit=2, cursor=cursor
                )
                want, former_cursor, _ = await former_page(
                    app, f, who, scope, limit=2, cursor=former_cursor
                )
                # the same page and the same cursor, so a cursor issued before still works
                assert (got, cursor) == (want, former_cursor)
                pages += 1
                if cursor is None:
                    break
            assert pages >= 2


async def test_the_supersedes_filter_finds_the_successor(client, as_, made):
    who = as_("moi", "viewer")
    for value, expected in (
        (made["full"], [made["successor"]]),
        (made["full"].upper(), [made["successor"]]),
        (made["successor"], []),
        ("not-a-uuid", []),
    ):
        response = await client.get(f"/v1/agreements?supersedes={value}", headers=who)
        assert [a["id"] for a in response.json()["items"]] == expected
        counted = await client.get(f"/v1/agreements/count?supersedes={value}", headers=who)
        assert counted.json() == {"count": len(expected)}


async def test_milestones_are_read_from_the_agreements_row(client, as_, made):
    who = as_("moi", "viewer")
    url = f"/v1/agreements/{made['full']}/milestones"
    listed = await client.get(url, headers=who)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [(m["title"], m["due_on"], m["status"]) for m in items] == [
        ("Kick-off", "2024-02-01", "done"),
        ("Annual report", "2025-03-31", "pending"),
    ]
    assert items[0]["completed_on"] is not None
    one = await client.get(f"{url}/{items[0]['id']}", headers=who)
    assert one.json() == items[0]
    agreement = await client.get(f"/v1/agreements/{made['full']}", headers=who)
    assert one.headers["etag"] == agreement.headers["etag"]
    upper = await client.get(f"{url}/{items[0]['id'].upper()}", headers=who)
    assert upper.json() == items[0]
    for missing in ("00000000-0000-4000-8000-000000000000", "nope"):
        response = await client.get(f"{url}/{missing}", headers=who)
        assert response.status_code == 404
        assert response.json()["type"] == "urn:tansiq:problem:milestone-not-found"
    hidden = await client.get(
        f"/v1/agreements/{made['moi_restricted']}/milestones/{items[0]['id']}",
        headers=as_("msdf", "viewer"),
    )
    assert hidden.status_code == 404
    assert hidden.json()["type"] == "urn:tansiq:problem:agreement-not-found"


async def test_agreements_created_at_the_same_instant_page_in_id_order(app, world, made, sql):
    """Copies and imports can share a creation time: the keyset's second key, the id, orders
    them, and no page repeats or skips one."""
    await sql.execute("UPDATE agreements SET created_at = '2024-01-01T00:00:00Z'")
    who, scope = await caller(app, world, "no-such-org", "auditor")
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = await queries.agreement_states(
            app.state.reads, queries.AgreementFilter(), who, scope, limit=1, cursor=cursor
        )
        seen.extend(state["id"] for state in page)
        if cursor is None:
            break
    assert seen == sorted(made.values(), key=uuid.UUID)
