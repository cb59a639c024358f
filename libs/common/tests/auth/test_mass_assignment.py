"""RequestModel, the common base for request bodies: unknown and server-owned fields are
422, never silently applied. Here on a model of the test's own; each service checks its real
schemas through its API (the registry's: services/registry/tests/test_mass_assignment.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends
from tansiq_common.app import create_service_app
from tansiq_common.auth import Principal, Role, authorize, install_auth
from tansiq_common.schemas import RequestModel
from tansiq_common.testing.plugin import running_app

from .conftest import auth_settings


class Names(RequestModel):
    ar: str | None = None
    en: str | None = None


class NewOrganization(RequestModel):
    kind: str
    names: Names
    parent_id: str | None = None


router = APIRouter()


@router.post("/v1/organizations", status_code=201)
async def create(
    body: NewOrganization, principal: Principal = Depends(authorize(Role.registry_admin))
) -> Any:
    return body.model_dump()


@pytest.fixture
async def org_client(infra_db, test_jwks_file) -> AsyncIterator[httpx.AsyncClient]:
    settings = auth_settings(infra_db.url, test_jwks_file)
    app = create_service_app(service="example", settings=settings, routers=[router])
    install_auth(app, settings)
    async with running_app(app) as client:
        yield client


VALID = {"kind": "ministry", "names": {"en": "Ministry of Education"}}


async def test_a_clean_body_is_accepted(org_client, auth_headers):
    response = await org_client.post(
        "/v1/organizations", json=VALID, headers=auth_headers("o", ["registry_admin"])
    )
    assert response.status_code == 201
    assert response.json() == {
        **VALID,
        "names": {"ar": None, "en": "Ministry of Education"},
        "parent_id": None,
    }


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"id": "chosen-by-client"}, "id"),
        ({"version": 7}, "version"),
        ({"status": "archived"}, "status"),
        ({"owner_org_id": "someone-else"}, "owner_org_id"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ({"names": {"en": "x", "fr": "y"}}, "names.fr"),
    ],
)
async def test_unknown_or_server_owned_fields_are_422(org_client, auth_headers, extra, field):
    response = await org_client.post(
        "/v1/organizations", json={**VALID, **extra}, headers=auth_headers("o", ["registry_admin"])
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert [e["type"] for e in response.json()["errors"]] == ["extra_forbidden"]


async def test_authorization_comes_before_body_validation(org_client, auth_headers):
    body = {**VALID, "id": "x"}
    assert (await org_client.post("/v1/organizations", json=body)).status_code == 401
    viewer = auth_headers("o", ["viewer"])
    assert (
        await org_client.post("/v1/organizations", json=body, headers=viewer)
    ).status_code == 403
