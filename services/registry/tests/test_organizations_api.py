"""The organizations API against the real database: writes, reads, events and audit."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tansiq_registry.organizations.schemas import OrganizationOut

ADMIN_ORG = str(uuid.uuid4())  # the callers' organization; not in the registry


async def outbox(sql, org_id: str) -> list[dict[str, Any]]:
    rows = await sql.fetch(
        "select type, payload, topic from outbox where aggregateid = $1 order by seq", org_id
    )
    return [{"type": r["type"], "topic": r["topic"], **json.loads(r["payload"])} for r in rows]


async def test_create_then_get_with_derived_fields_and_etag(client, admin, viewer, sql):
    ministry = await client.post(
        "/v1/organizations",
        json={
            "kind": "ministry",
            "names": {"ar": "وزارة الخارجية", "en": "Ministry of Foreign Affairs"},
            "acronym": "MOFA",
            "country": "qa",
        },
        headers=admin,
    )
    assert ministry.status_code == 201
    body = ministry.json()
    assert ministry.headers["location"] == f"/v1/organizations/{body['id']}"
    assert ministry.headers["etag"] == '"1"'
    assert body["scope"] == "national"
    assert body["country"] == "QA"
    assert body["ministry_id"] == body["id"]
    assert body["iati_org_type"] == 10
    assert body["status"] == "active"
    fetched = await client.get(f"/v1/organizations/{body['id']}", headers=viewer)
    assert fetched.status_code == 200
    assert fetched.json() == body
    assert fetched.headers["etag"] == '"1"'
    [event] = await outbox(sql, body["id"])
    assert event["type"] == "tansiq.registry.organization.created.v1"
    assert event["topic"] == "registry.organization.v1"
    assert event["version"] == 1
    assert event["names"]["ar"] == "وزارة الخارجية"
    audit = await sql.fetch(
        "select action, actor_sub, changed_fields from audit_log where entity_id = $1", body["id"]
    )
    assert [(a["action"], a["actor_sub"]) for a in audit] == [("organization.created", "admin-1")]
    assert "names" in json.loads(audit[0]["changed_fields"])


async def test_international_partner_scope_and_type(create):
    undp = await create(
        "un_entity", en="United Nations Development Programme", iati_identifier="XM-DAC-41114"
    )
    assert undp["scope"] == "international"
    assert undp["ministry_id"] is None
    assert undp["iati_org_type"] == 40


async def test_hierarchy_ministry_and_move_updates_descendants(client, admin, viewer, create, sql):
    mofa = await create(en="Ministry of Foreign Affairs")
    msdf = await create(en="Ministry of Social Development and Family")
    foundation = await create(
        "public_foundation", en="Qatar Foundation for Social Work", parent_id=msdf["id"]
    )
    centre = await create("centre", en="Wifaq", parent_id=foundation["id"])
    assert foundation["ministry_id"] == msdf["id"]
    assert centre["ministry_id"] == msdf["id"]

    tree = (await client.get(f"/v1/organizations/{centre['id']}/hierarchy", headers=viewer)).json()
    assert [a["id"] for a in tree["ancestors"]] == [msdf["id"], foundation["id"]]
    assert tree["ministry"]["id"] == msdf["id"]
    top = (await client.get(f"/v1/organizations/{msdf['id']}/hierarchy", headers=viewer)).json()
    assert [(d["id"], d["depth"]) for d in top["descendants"]] == [
        (foundation["id"], 1),
        (centre["id"], 2),
    ]

    # Cycle: the ministry under its own centre.
    cycle = await client.patch(
        f"/v1/organizations/{msdf['id']}",
        json={"parent_id": centre["id"]},
        headers={**admin, "If-Match": '"1"'},
    )
    assert cycle.status_code == 409
    assert cycle.headers["content-type"] == "application/problem+json"
    assert cycle.json()["type"] == "urn:tansiq:problem:hierarchy-cycle"
    assert cycle.json()["errors"] == [{"field": "parent_id", "message": "would create a cycle"}]
    assert (await client.get(f"/v1/organizations/{msdf['id']}", headers=viewer)).json()[
        "parent_id"
    ] is None

    moved = await client.patch(
        f"/v1/organizations/{foundation['id']}",
        json={"parent_id": mofa["id"]},
        headers={**admin, "If-Match": '"1"', "Content-Type": "application/merge-patch+json"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["ministry_id"] == mofa["id"]
    assert moved.headers["etag"] == '"2"'
    centre_now = (await client.get(f"/v1/organizations/{centre['id']}", headers=viewer)).json()
    assert centre_now["ministry_id"] == mofa["id"]
    assert centre_now["version"] == 2
    assert [e["type"].split(".")[-2] for e in await outbox(sql, foundation["id"])] == [
        "created",
        "moved",
    ]
    centre_events = await outbox(sql, centre["id"])
    assert centre_events[-1]["ministry_id"] == mofa["id"]
    assert centre_events[-1]["version"] == 2
    moves = await sql.fetch(
        "select from_parent_id::text, to_parent_id::text from organization_moves"
    )
    assert [tuple(m) for m in moves] == [(msdf["id"], mofa["id"])]
    by_ministry = (
        await client.get("/v1/organizations", params={"ministry_id": mofa["id"]}, headers=viewer)
    ).json()
    assert {o["id"] for o in by_ministry["items"]} == {mofa["id"], foundation["id"], centre["id"]}


async def test_unknown_parent_and_reporting_line_are_422_and_write_nothing(client, admin, sql):
    for body, expected_field in (
        (
            {
                "kind": "directorate",
                "names": {"en": "D"},
                "country": "QA",
                "parent_id": str(uuid.uuid4()),
            },
            "parent_id",
        ),
        (
            {
                "kind": "directorate",
                "names": {"en": "D"},
                "country": "QA",
                "reporting_lines": [{"org_id": str(uuid.uuid4()), "line": "technical"}],
            },
            "reporting_lines",
        ),
    ):
        response = await client.post("/v1/organizations", json=body, headers=admin)
        assert response.status_code == 422
        assert response.json()["type"] == "urn:tansiq:problem:validation-error"
        assert [e["field"] for e in response.json()["errors"]] == [expected_field]
    assert await sql.fetchval("select count(*) from organizations") == 0
    assert await sql.fetchval("select count(*) from outbox") == 0


async def test_reporting_lines_and_designation_only_by_registry_admin(
    client, admin, auth_headers, create
):
    mofae = await create(en="Ministry of Foreign Affairs and Expatriates", country="SY")
    mlae = await create(en="Ministry of Local Administration and Environment", country="SY")
    dic = await create(
        "directorate",
        en="Directorate of International Cooperation",
        country="SY",
        parent_id=mlae["id"],
        reporting_lines=[
            {"org_id": mofae["id"], "line": "technical"},
            {"org_id": mofae["id"], "line": "administrative"},
        ],
    )
    assert dic["ministry_id"] == mlae["id"]
    assert {rl["line"] for rl in dic["reporting_lines"]} == {"technical", "administrative"}

    editor = auth_headers(mofae["id"], ["editor", "coordinator"])
    denied = await client.patch(
        f"/v1/organizations/{mofae['id']}",
        json={"designations": ["coordinating_body"]},
        headers={**editor, "If-Match": '"1"'},
    )
    assert denied.status_code == 403
    assert denied.json()["type"] == "urn:tansiq:problem:role-not-allowed"
    granted = await client.patch(
        f"/v1/organizations/{mofae['id']}",
        json={"designations": ["coordinating_body"]},
        headers={**admin, "If-Match": '"1"'},
    )
    assert granted.status_code == 200
    assert granted.json()["designations"] == ["coordinating_body"]
    listed = (
        await client.get(
            "/v1/organizations", params={"designation": "coordinating_body"}, headers=admin
        )
    ).json()
    assert [o["id"] for o in listed["items"]] == [mofae["id"]]


async def test_if_match_required_and_stale_etag_refused(client, admin, create, sql):
    org = await create(en="Ministry of Interior")
    url = f"/v1/organizations/{org['id']}"
    missing = await client.patch(url, json={"acronym": "MOI"}, headers=admin)
    assert missing.status_code == 428
    ok = await client.patch(url, json={"acronym": "MOI"}, headers={**admin, "If-Match": '"1"'})
    assert ok.status_code == 200
    assert ok.json()["version"] == 2
    stale = await client.patch(url, json={"acronym": "X"}, headers={**admin, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["type"] == "urn:tansiq:problem:stale-etag"
    assert stale.json()["current_etag"] == '"2"'
    assert (await client.get(url, headers=admin)).json()["acronym"] == "MOI"
    # Merge patch: null removes, absent keeps.
    cleared = await client.patch(
        url,
        json={"acronym": None, "names": {"ar": "وزارة الداخلية"}},
        headers={**admin, "If-Match": '"2"'},
    )
    assert cleared.json()["acronym"] is None
    assert cleared.json()["names"] == {"ar": "وزارة الداخلية", "en": "Ministry of Interior"}
    assert await sql.fetchval("select count(*) from outbox where aggregateid = $1", org["id"]) == 3


async def test_idempotency_key_replays_and_refuses_another_body(client, admin, sql):
    body = {"kind": "un_entity", "names": {"en": "UNICEF"}, "iati_identifier": "XM-DAC-41122"}
    headers = {**admin, "Idempotency-Key": "k-1"}
    first = await client.post("/v1/organizations", json=body, headers=headers)
    again = await client.post("/v1/organizations", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    other = await client.post(
        "/v1/organizations", json={**body, "acronym": "UNICEF"}, headers=headers
    )
    assert other.status_code == 422
    assert other.json()["type"] == "urn:tansiq:problem:idempotency-key-reused"
    assert await sql.fetchval("select count(*) from organizations") == 1


async def test_archive_hides_from_lists_but_stays_resolvable(client, admin, viewer, create, sql):
    org = await create(
        "international_organization", en="International Monetary Fund", acronym="IMF"
    )
    archived = await client.post(f"/v1/organizations/{org['id']}/actions/archive", headers=admin)
    assert archived.status_code == 200
    assert archived.json()["status"] == "archived"
    assert (await client.get(f"/v1/organizations/{org['id']}", headers=viewer)).json()[
        "status"
    ] == "archived"
    assert (await client.get("/v1/organizations", headers=viewer)).json()["items"] == []
    shown = (
        await client.get("/v1/organizations", params={"include_archived": "true"}, headers=viewer)
    ).json()
    assert [o["id"] for o in shown["items"]] == [org["id"]]
    again = await client.post(f"/v1/organizations/{org['id']}/actions/archive", headers=admin)
    assert again.status_code == 409
    assert again.json()["type"] == "urn:tansiq:problem:status-conflict"
    changed = await client.patch(
        f"/v1/organizations/{org['id']}",
        json={"acronym": "X"},
        headers={**admin, "If-Match": '"2"'},
    )
    assert changed.status_code == 409
    assert changed.json()["type"] == "urn:tansiq:problem:organization-archived"
    restored = await client.post(f"/v1/organizations/{org['id']}/actions/restore", headers=admin)
    assert restored.json()["status"] == "active"
    types = [e["type"].split(".")[-2] for e in await outbox(sql, org["id"])]
    assert types == ["created", "archived", "restored"]
    assert (await client.delete(f"/v1/organizations/{org['id']}", headers=admin)).status_code == 405


async def test_search_is_bilingual_and_folds_arabic_variants(client, viewer, create):
    undp = await create(
        "un_entity",
        en="United Nations Development Programme",
        ar="برنامج الأمم المتحدة الإنمائي",
        acronym="UNDP",
        iati_identifier="XM-DAC-41114",
    )
    qfsw = await create(
        "public_foundation",
        en="Qatar Foundation for Social Work",
        ar="المؤسسة القطرية للعمل الاجتماعي",
    )
    health = await create("ministry", en="Ministry of Public Health", ar="وزارة الصحة العامة")
    orphans = await create("centre", en="Orphan Care Center", ar="مركز رعاية الأيتام")

    async def search(q: str) -> set[str]:
        response = await client.get("/v1/organizations", params={"q": q}, headers=viewer)
        assert response.status_code == 200
        return {o["id"] for o in response.json()["items"]}

    assert await search("الامم") == {undp["id"]}
    assert await search("الأُمَمِ المتحده") == {undp["id"]}
    assert await search("الانمائي") == {undp["id"]}
    assert await search("undp") == {undp["id"]}
    assert await search("development PROGRAMME") == {undp["id"]}
    assert await search("xm-dac-41114") == {undp["id"]}
    assert await search("المؤسسه القطريه") == {qfsw["id"]}
    assert await search("الاجتماعـــي") == {qfsw["id"]}
    # ؤ is not folded to و: that would be a different word.
    assert await search("الموسسه") == set()
    assert await search("الايتام") == {orphans["id"]}
    assert await search("وزاره الصحه") == {health["id"]}
    assert await search("qatar social") == {qfsw["id"]}
    # Every term must match: one absent term empties the result.
    assert await search("qatar nothing") == set()
    assert await search("nothing-like-this") == set()


async def test_list_filters_and_pagination(client, viewer, create):
    created = [await create(en=f"Ministry {i}") for i in range(5)]
    await create("un_entity", en="UNFPA", iati_identifier="XM-DAC-41119")
    await create("diplomatic_mission", en="British Embassy Doha", country="GB")
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "kind": "ministry", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/organizations", params=params, headers=viewer)).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [o["id"] for o in created]
    intl = (
        await client.get("/v1/organizations", params={"scope": "international"}, headers=viewer)
    ).json()
    assert {o["names"]["en"] for o in intl["items"]} == {"UNFPA", "British Embassy Doha"}
    by_country = (
        await client.get("/v1/organizations", params={"country": "gb"}, headers=viewer)
    ).json()
    assert [o["names"]["en"] for o in by_country["items"]] == ["British Embassy Doha"]
    by_id = (
        await client.get(
            "/v1/organizations", params={"iati_identifier": "XM-DAC-41119"}, headers=viewer
        )
    ).json()
    assert [o["names"]["en"] for o in by_id["items"]] == ["UNFPA"]
    assert (
        await client.get("/v1/organizations", params={"limit": 501}, headers=viewer)
    ).status_code == 422
    assert (
        await client.get("/v1/organizations", params={"cursor": "garbage"}, headers=viewer)
    ).json()["type"] == "urn:tansiq:problem:invalid-cursor"


async def test_bad_input_is_problem_json_and_writes_nothing(client, admin, create, sql):
    await create("un_entity", en="UNESCO", iati_identifier="XM-DAC-41304")
    cases = [
        (
            {"kind": "un_entity", "names": {"en": "Copy"}, "iati_identifier": "XM-DAC-41304"},
            409,
            "duplicate-identifier",
            None,
        ),
        ({"kind": "ministry", "names": {"en": "M"}, "country": "QQ"}, 422, None, "country"),
        (
            {"kind": "ministry", "names": {"en": "M"}, "iati_identifier": "41304"},
            422,
            None,
            "iati_identifier",
        ),
        ({"kind": "ministry", "names": {}}, 422, None, "names"),
        ({"kind": "ministry", "names": {"en": "M"}, "version": 7}, 422, None, "version"),
        ({"kind": "ministry", "names": {"en": "M"}, "colour": "red"}, 422, None, "colour"),
        ({"kind": "castle", "names": {"en": "M"}}, 422, None, "kind"),
    ]
    for body, status, slug, field in cases:
        response = await client.post("/v1/organizations", json=body, headers=admin)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"] == f"urn:tansiq:problem:{slug or 'validation-error'}", problem
        if field is not None:
            assert [e["field"] for e in problem["errors"]] == [field], problem
    duplicate = await client.post("/v1/organizations", json=cases[0][0], headers=admin)
    assert duplicate.json()["existing_id"] == (
        await sql.fetchval("select id::text from organizations")
    )
    malformed = await client.post(
        "/v1/organizations",
        content=b'{"kind": ',
        headers={**admin, "Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["type"] == "urn:tansiq:problem:malformed-json"
    huge = await client.post(
        "/v1/organizations",
        content=b"x" * 1_100_000,
        headers={**admin, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    assert huge.json()["type"] == "urn:tansiq:problem:payload-too-large"
    assert await sql.fetchval("select count(*) from organizations") == 1
    assert await sql.fetchval("select count(*) from outbox") == 1
    missing = await client.get(f"/v1/organizations/{uuid.uuid4()}", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["type"] == "urn:tansiq:problem:organization-not-found"
    assert (await client.get("/v1/organizations/not-a-uuid", headers=admin)).status_code == 404


async def test_auth_rules(client, auth_headers, create):
    anonymous = await client.get("/v1/organizations")
    assert anonymous.status_code == 401
    assert anonymous.json()["type"] == "urn:tansiq:problem:unauthorized"
    viewer = auth_headers(ADMIN_ORG, ["viewer"])
    denied = await client.post(
        "/v1/organizations", json={"kind": "ministry", "names": {"en": "M"}}, headers=viewer
    )
    assert denied.status_code == 403
    assert denied.json()["type"] == "urn:tansiq:problem:role-not-allowed"
    integration = auth_headers(ADMIN_ORG, ["integration"])
    assert (await client.get("/v1/organizations", headers=integration)).status_code == 200


async def test_contacts_visible_to_government_users_and_never_in_events(
    client, admin, auth_headers, create, sql
):
    ministry = await create(en="Ministry of Education and Higher Education")
    directorate = await create(
        "directorate", en="International Cooperation", parent_id=ministry["id"]
    )
    contact = {
        "name": "Fatima Al-Kuwari",
        "title": "Head of section",
        "email": "f.kuwari@example.qa",
        "phone": "+974 4000 0000",
    }
    editor_elsewhere = auth_headers(str(uuid.uuid4()), ["editor"])
    refused = await client.post(
        f"/v1/organizations/{directorate['id']}/contacts", json=contact, headers=editor_elsewhere
    )
    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:tansiq:problem:contacts-forbidden"
    editor = auth_headers(ministry["id"], ["editor"], sub="editor-1")
    added = await client.post(
        f"/v1/organizations/{directorate['id']}/contacts", json=contact, headers=editor
    )
    assert added.status_code == 201, added.text
    # Personal data: a viewer of an organization the registry does not know is refused; one of
    # a known, active, national organization reads them, and the read is audited.
    stranger = auth_headers(ADMIN_ORG, ["viewer"])
    hidden = await client.get(f"/v1/organizations/{directorate['id']}/contacts", headers=stranger)
    assert hidden.status_code == 403
    assert hidden.json()["type"] == "urn:tansiq:problem:personal-data-forbidden"
    viewer = auth_headers(ministry["id"], ["viewer"], sub="reader-1")
    listed = await client.get(f"/v1/organizations/{directorate['id']}/contacts", headers=viewer)
    assert [c["email"] for c in listed.json()] == ["f.kuwari@example.qa"]
    reads = await sql.fetch(
        "select actor_sub, entity_id from audit_log where action = 'organization_contact.read'"
    )
    assert [(r["actor_sub"], r["entity_id"]) for r in reads] == [("reader-1", added.json()["id"])]
    machine = auth_headers(ADMIN_ORG, ["integration"])
    assert (
        await client.get(f"/v1/organizations/{directorate['id']}/contacts", headers=machine)
    ).status_code == 403
    assert (await client.get(f"/v1/organizations/{directorate['id']}/contacts")).status_code == 401
    bad = await client.post(
        f"/v1/organizations/{directorate['id']}/contacts",
        json={**contact, "email": "nope"},
        headers=admin,
    )
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["email"]
    # No personal data anywhere in events or audit rows.
    everything = json.dumps([dict(r) for r in await sql.fetch("select payload::text from outbox")])
    everything += json.dumps(
        [dict(r) for r in await sql.fetch("select changed_fields::text, action from audit_log")]
    )
    for value in contact.values():
        assert value not in everything
    assert "organization_contact.created" in everything
    removed = await client.delete(
        f"/v1/organizations/{directorate['id']}/contacts/{added.json()['id']}", headers=editor
    )
    assert removed.status_code == 204
    assert (
        await client.get(f"/v1/organizations/{directorate['id']}/contacts", headers=viewer)
    ).json() == []


async def test_event_payload_is_the_documented_schema(client, admin, sql):
    """The AsyncAPI document describes payloads with OrganizationOut; the outbox must match it."""
    created = await client.post(
        "/v1/organizations",
        json={"kind": "un_entity", "names": {"en": "UNESCO"}, "iati_identifier": "XM-DAC-41304"},
        headers=admin,
    )
    assert created.status_code == 201
    state = json.loads(await sql.fetchval("select payload::text from outbox limit 1"))
    assert set(state) == set(OrganizationOut.model_fields)
    assert OrganizationOut.model_validate(state).id == created.json()["id"]
