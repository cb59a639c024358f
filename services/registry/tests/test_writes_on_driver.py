"""Every registry write a request makes runs on the writes' driver pool: no SQLAlchemy session,
so no engine connection is checked out for it (the engine serves consumers and seeding)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tansiq_common.testing import databases
from tansiq_common.testing.plugin import running_app
from tansiq_common.testing.pools import connections_taken
from tansiq_registry.app import create_app

CSV = """source_key,kind,name_ar,name_en,acronym,country,iati_identifier,parent,reporting_lines
mosd-0,ministry,وزارة التنمية الاجتماعية والأسرة,Ministry of Social Development and Family,MSDF,QA,,,
mosd-1,directorate,,Family Directorate,,QA,,mosd-0,mosd-0:supervision
bad-parent,directorate,,Lost Directorate,,QA,,no-such-key,
"""


@pytest.fixture
async def served(registry_settings, registry_db) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    await databases.truncate_all(registry_db)
    app = create_app(registry_settings)
    async with running_app(app) as client:
        yield client, app


async def test_creates_updates_moves_actions_contacts_and_imports_take_no_engine_connection(
    served, admin, auth_headers
) -> None:
    client, app = served
    with connections_taken(app.state.db) as taken:
        await _every_kind_of_write(client, admin, auth_headers)
    # One writes-pool connection per request (12, the refused duplicate and the audited read of
    # the focal points included), and none of the engine's.
    assert taken == {"write_pool": 12, "engine": 0}


async def _every_kind_of_write(client: httpx.AsyncClient, admin: Any, auth_headers: Any) -> None:
    async def call(method: str, url: str, status: int, **kw: Any) -> Any:
        response = await client.request(method, url, **kw)
        assert response.status_code == status, response.text
        return response

    body = {"kind": "ministry", "names": {"en": "Ministry of Finance"}, "country": "QA"}
    ministry = (await call("POST", "/v1/organizations", 201, json=body, headers=admin)).json()
    other = (await call("POST", "/v1/organizations", 201, json=body | {"names": {"en": "Ministry of Labour"}}, headers=admin)).json()  # fmt: skip
    child_body = {"kind": "directorate", "names": {"en": "Cooperation"}, "country": "QA",
                  "parent_id": ministry["id"], "iati_identifier": "QA-COOP-1"}  # fmt: skip
    child = (await call("POST", "/v1/organizations", 201, json=child_body, headers=admin)).json()
    await call("POST", "/v1/organizations", 409, json=child_body | {"parent_id": None},
               headers=admin)  # fmt: skip
    moved = await call(
        "PATCH", f"/v1/organizations/{child['id']}", 200, json={"parent_id": other["id"]},
        headers={**admin, "If-Match": f'"{child["version"]}"'},
    )  # fmt: skip
    assert moved.json()["ministry_id"] == other["id"]
    await call("POST", f"/v1/organizations/{child['id']}/actions/archive", 200, headers=admin)
    await call("POST", f"/v1/organizations/{child['id']}/actions/restore", 200, headers=admin)
    contacts = f"/v1/organizations/{other['id']}/contacts"
    added = (await call("POST", contacts, 201, json={"name": "Focal"}, headers=admin)).json()
    await call(
        "PUT", f"{contacts}/{added['id']}", 200, json={"name": "Focal point"},
        headers={**admin, "If-Match": f'"{added["version"]}"'},
    )  # fmt: skip
    staff = auth_headers(other["id"], ["viewer"], sub="staff-1")  # reads are audited: writes
    listed = (await call("GET", contacts, 200, headers=staff)).json()
    assert [c["name"] for c in listed] == ["Focal point"]
    await call("DELETE", f"{contacts}/{added['id']}", 204, headers=admin)
    report = await call(
        "POST", "/v1/organizations/import", 200, content=CSV.encode(),
        headers={**admin, "Content-Type": "text/csv"},
    )  # fmt: skip
    assert (report.json()["created"], report.json()["failed"]) == (2, 1)  # a savepoint each
