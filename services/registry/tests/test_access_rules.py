"""The registry's part of the access model: the country boundary of registry administrators,
archived organizations, and loops in the hierarchy however deep."""

from __future__ import annotations

PROBLEM = "urn:tansiq:problem:"


async def test_a_national_registry_admin_stays_in_their_country(client, create, auth_headers):
    qa_ministry = await create(en="Ministry of Foreign Affairs", country="QA")
    sy_ministry = await create(en="Ministry of Local Administration", country="SY")
    unesco = await create("un_entity", en="UNESCO")
    qa_admin = auth_headers(qa_ministry["id"], ["registry_admin"], sub="qa-admin")

    # Their own country's national bodies and international ones: allowed.
    own = await client.post(
        "/v1/organizations",
        json={"kind": "agency", "names": {"en": "PSA"}, "country": "QA"},
        headers=qa_admin,
    )
    assert own.status_code == 201, own.text
    patched = await client.patch(
        f"/v1/organizations/{unesco['id']}",
        json={"acronym": "UNESCO"},
        headers={**qa_admin, "If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text

    # Another country's national bodies: neither created, changed, designated nor archived.
    created = await client.post(
        "/v1/organizations",
        json={"kind": "agency", "names": {"en": "x"}, "country": "SY"},
        headers=qa_admin,
    )
    assert created.status_code == 403
    assert created.json()["type"] == PROBLEM + "country-boundary"
    for call in (
        client.patch(
            f"/v1/organizations/{sy_ministry['id']}",
            json={"designations": ["coordinating_body"]},
            headers={**qa_admin, "If-Match": '"1"'},
        ),
        client.post(f"/v1/organizations/{sy_ministry['id']}/actions/archive", headers=qa_admin),
    ):
        response = await call
        assert response.status_code == 403, response.text
        assert response.json()["type"] == PROBLEM + "country-boundary"
    # Nor may they move one of their own bodies into the other country.
    moved = await client.patch(
        f"/v1/organizations/{own.json()['id']}",
        json={"country": "SY"},
        headers={**qa_admin, "If-Match": '"1"'},
    )
    assert moved.status_code == 403
    assert moved.json()["type"] == PROBLEM + "country-boundary"
    unchanged = await client.get(f"/v1/organizations/{sy_ministry['id']}", headers=qa_admin)
    assert unchanged.json()["version"] == 1

    # A registry administrator whose organization the registry does not know is a platform
    # administrator: any country (the `admin` fixture).


async def test_an_archived_organization_confers_nothing(client, create, admin, auth_headers):
    ministry = await create(en="Ministry of Education")
    directorate = await create("directorate", en="Cooperation", parent_id=ministry["id"])
    editor = auth_headers(ministry["id"], ["editor"])
    contact = {"name": "Focal point"}
    url = f"/v1/organizations/{directorate['id']}/contacts"
    assert (await client.post(url, json=contact, headers=editor)).status_code == 201
    archived = await client.post(
        f"/v1/organizations/{ministry['id']}/actions/archive", headers=admin
    )
    assert archived.status_code == 200
    refused = await client.post(url, json=contact, headers=editor)
    assert refused.status_code == 403
    assert refused.json()["type"] == PROBLEM + "contacts-forbidden"
    # Its staff no longer read personal data either.
    hidden = await client.get(url, headers=auth_headers(ministry["id"], ["viewer"]))
    assert hidden.status_code == 403
    # And an archived organization cannot become a parent.
    child = await client.post(
        "/v1/organizations",
        json={
            "kind": "directorate",
            "names": {"en": "y"},
            "country": "QA",
            "parent_id": ministry["id"],
        },
        headers=admin,
    )
    assert child.status_code == 422
    assert child.json()["errors"][0]["field"] == "parent_id"


async def test_an_archived_coordinating_body_reads_no_audit(client, create, admin, auth_headers):
    body = await create(en="Coordination", designations=["coordinating_body"])
    coordinator = auth_headers(body["id"], ["coordinator"])
    assert (await client.get("/v1/audit", headers=coordinator)).status_code == 200
    await client.post(f"/v1/organizations/{body['id']}/actions/archive", headers=admin)
    refused = await client.get("/v1/audit", headers=coordinator)
    assert refused.status_code == 403
    assert refused.json()["type"] == PROBLEM + "audit-forbidden"


async def test_a_loop_is_refused_below_any_depth(client, create, admin):
    top = await create(en="Top")
    parent = top
    for level in range(80):  # deeper than the old 64-level walk
        parent = await create("directorate", en=f"Level {level}", parent_id=parent["id"])
    looped = await client.patch(
        f"/v1/organizations/{top['id']}",
        json={"parent_id": parent["id"]},
        headers={**admin, "If-Match": '"1"'},
    )
    assert looped.status_code == 409
    assert looped.json()["type"] == PROBLEM + "hierarchy-cycle"


async def test_contact_deletion_is_audited_under_the_canonical_id(client, create, admin, sql):
    org = await create(en="Ministry")
    added = await client.post(
        f"/v1/organizations/{org['id']}/contacts", json={"name": "A"}, headers=admin
    )
    contact_id = added.json()["id"]
    spelt = "urn:uuid:" + contact_id.upper()
    deleted = await client.delete(f"/v1/organizations/{org['id']}/contacts/{spelt}", headers=admin)
    assert deleted.status_code == 204
    found = await client.get("/v1/audit", params={"entity_id": contact_id}, headers=admin)
    # The platform admin is no auditor: read the table itself.
    rows = await sql.fetch(
        "select action from audit_log where entity_id = $1 order by id", contact_id
    )
    assert [r["action"] for r in rows] == [
        "organization_contact.created",
        "organization_contact.deleted",
    ]
    assert found.status_code == 403
