"""The inputs issue 9 found answered with 500, each sent to every service that takes it: each
must be a 4xx problem+json, and nothing may be written."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tansiq_common.testing.plugin import running_app

from .conftest import SERVICES

PROBLEM_JSON = "application/problem+json"
INT8_MAX = 2**63 - 1


def cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.fixture(params=SERVICES)
async def client(request, build_service_app) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = await build_service_app(request.param)
    async with running_app(app) as client:
        yield client


@pytest.fixture
def auditor(auth_headers) -> dict[str, str]:
    return auth_headers(str(uuid.uuid4()), ["auditor"], sub="auditor-1")


def assert_refused(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers


AUDIT_QUERIES = [
    pytest.param({"entity_id": "\x00"}, id="nul-in-text"),
    pytest.param({"actor_sub": "a\x00b"}, id="nul-inside-text"),
    pytest.param({"from": "0001-01-01T00:00:00+05:00"}, id="time-before-year-1"),
    pytest.param({"to": "9999-12-31T23:59:59-05:00"}, id="time-after-year-9999"),
    pytest.param({"cursor": cursor([INT8_MAX + 1])}, id="cursor-int-beyond-int8"),
    pytest.param({"cursor": cursor([-(2**63) - 1])}, id="cursor-int-below-int8"),
]


@pytest.mark.parametrize("query", AUDIT_QUERIES)
async def test_audit_refuses_what_the_database_cannot_take(
    client, auditor, query: dict[str, str]
) -> None:
    response = await client.get("/v1/audit", params=query, headers=auditor)
    assert_refused(response)


async def test_nul_in_a_path_segment_is_refused(client, auditor) -> None:
    response = await client.get("/v1/audit%00", headers=auditor)
    assert_refused(response)


# --- the registry's own cases from issue 9 --------------------------------------------------


@pytest.fixture
async def registry(build_service_app) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = await build_service_app("registry")
    async with running_app(app) as client:
        yield client


@pytest.fixture
def admin(auth_headers) -> dict[str, str]:
    return auth_headers(str(uuid.uuid4()), ["registry_admin"], sub="fuzz-admin")


@pytest.mark.parametrize(
    "query",
    [
        {"q": "\x00"},
        {"iati_identifier": "\x00"},
        {"iati_identifier": "XM-\x00"},
        {"cursor": cursor([{"t": "0001-01-01T00:00:00+05:00"}, {"u": str(uuid.uuid4())}])},
    ],
    ids=["nul-search", "nul-iati", "nul-inside-iati", "cursor-time-before-year-1"],
)
async def test_organization_list_refuses(registry, admin, query) -> None:
    assert_refused(await registry.get("/v1/organizations", params=query, headers=admin))


async def test_contact_with_nul_is_refused_and_not_written(registry, admin, auditor) -> None:
    created = await registry.post(
        "/v1/organizations",
        json={"kind": "ministry", "names": {"en": f"Fuzz {uuid.uuid4().hex[:6]}"}, "country": "QA"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    contacts = f"/v1/organizations/{created.json()['id']}/contacts"
    refused = await registry.post(contacts, json={"name": "a\u0000b"}, headers=admin)
    assert_refused(refused)
    listed = await registry.get(contacts, headers=auditor)
    assert listed.status_code == 200, listed.text
    assert listed.json() == []


async def test_unsafe_request_id_is_not_audited(registry, admin, auditor) -> None:
    forged = "forged\n"
    response = await registry.post(
        "/v1/organizations",
        json={"kind": "ministry", "names": {"en": f"Fuzz {uuid.uuid4().hex[:6]}"}, "country": "QA"},
        headers={**admin, "X-Request-ID": forged},
    )
    assert response.status_code == 201, response.text
    assert response.headers["x-request-id"] != forged
    audit = await registry.get(
        "/v1/audit", params={"entity_id": response.json()["id"]}, headers=auditor
    )
    assert audit.status_code == 200, audit.text
    rows = audit.json()["items"]
    assert rows
    assert {row["request_id"] for row in rows} == {response.headers["x-request-id"]}
