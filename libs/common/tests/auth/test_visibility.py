"""visible_to over a real table: lists, counts and GET by id all obey the restricted rule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from sqlalchemy.dialects.postgresql import ARRAY
from tansiq_common.app import create_service_app
from tansiq_common.auth import (
    OrgScope,
    Principal,
    Role,
    apply_organization_event,
    authorize,
    get_scope,
    install_auth,
    visible_to,
)
from tansiq_common.db import new_metadata
from tansiq_common.problems import NotFound
from tansiq_common.testing.plugin import running_app

from .conftest import auth_settings
from .test_directory import HIERARCHY

metadata = new_metadata()
records = sa.Table(
    "visibility_records",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("visibility", sa.Text, nullable=False),
    sa.Column("owner_ministry_id", sa.Text, nullable=True),
    sa.Column("party_org_ids", ARRAY(sa.Text), nullable=False),
    sa.Column("country_codes", ARRAY(sa.Text), nullable=False),
)

ROWS = [
    {
        "id": "open",
        "visibility": "interagency",
        "owner_ministry_id": "moe",
        "party_org_ids": ["moe", "unesco"],
        "country_codes": ["QA"],
    },
    {
        "id": "moe-secret",
        "visibility": "restricted",
        "owner_ministry_id": "moe",
        "party_org_ids": ["moe-dir", "unesco"],
        "country_codes": ["QA"],
    },
    {
        "id": "mofa-secret",
        "visibility": "restricted",
        "owner_ministry_id": "mofa",
        "party_org_ids": ["icd", "unesco"],
        "country_codes": ["QA"],
    },
    {
        "id": "sy-secret",
        "visibility": "restricted",
        "owner_ministry_id": "sy-mlae",
        "party_org_ids": ["sy-mlae", "unesco"],
        "country_codes": ["SY"],
    },
    {
        "id": "odd",
        "visibility": "secret-ish",
        "owner_ministry_id": "x",
        "party_org_ids": [],
        "country_codes": ["QA"],
    },
]

ALL = {"open", "moe-secret", "mofa-secret", "sy-secret", "odd"}
QATAR = ALL - {"sy-secret"}


def p(org: str, *roles: str) -> Principal:
    return Principal(sub="s", org=org, roles=frozenset(roles))


@pytest.fixture
async def loaded(infra_db, directory_db_url):
    async with infra_db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(sa.insert(records), ROWS)
    async with infra_db.sessionmaker() as session, session.begin():
        for event in HIERARCHY:
            await apply_organization_event(session, event)
    yield infra_db
    async with infra_db.engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)


def _filter(scope: OrgScope, principal: Principal) -> sa.ColumnElement[bool]:
    return visible_to(
        scope,
        principal,
        visibility_col=records.c.visibility,
        owner_ministry_col=records.c.owner_ministry_id,
        party_org_ids_col=records.c.party_org_ids,
        countries_col=records.c.country_codes,
    )


async def _visible(db, scope: OrgScope, principal: Principal) -> set[str]:
    async with db.engine.connect() as conn:
        ids = set(
            (await conn.execute(sa.select(records.c.id).where(_filter(scope, principal)))).scalars()
        )
        count = (
            await conn.execute(
                sa.select(sa.func.count()).select_from(records).where(_filter(scope, principal))
            )
        ).scalar_one()
    assert count == len(ids)  # counts obey the same rule as lists
    return ids


MOE = OrgScope("moe", "moe", frozenset({"moe", "moe-dir"}), False, "QA", True)
MOE_DIR = OrgScope("moe-dir", "moe", frozenset({"moe-dir"}), False, "QA", True)
ICD = OrgScope("icd", "mofa", frozenset({"icd"}), True, "QA", True)
SY_MOFAE = OrgScope("sy-mofae", "sy-mofae", frozenset({"sy-mofae"}), True, "SY", True)
MOH = OrgScope("moh", "moh", frozenset({"moh"}), False, "QA", True)
UNKNOWN = OrgScope.empty("ghost")


@pytest.mark.parametrize(
    ("scope", "principal", "expected"),
    [
        # the owner's ministry, anywhere in it
        (MOE, p("moe", "viewer"), {"open", "moe-secret"}),
        (MOE_DIR, p("moe-dir", "editor"), {"open", "moe-secret"}),
        # another ministry sees only interagency records
        (MOH, p("moh", "viewer", "editor"), {"open"}),
        # a party to the record, though not of the owner's ministry
        (
            OrgScope("unesco", None, frozenset({"unesco"}), False),
            p("unesco", "viewer"),
            {"open", "moe-secret", "mofa-secret", "sy-secret"},
        ),
        # coordinators of a coordinating body see everything of their own country only
        (ICD, p("icd", "coordinator"), QATAR),
        (SY_MOFAE, p("sy-mofae", "coordinator"), {"open", "sy-secret"}),
        # a national auditor reads their country's records; one the registry does not know is
        # a global auditor
        (MOH, p("moh", "auditor"), QATAR),
        (UNKNOWN, p("ghost", "auditor"), ALL),
        # the coordinator role outside a coordinating body is an ordinary reader
        (MOH, p("moh", "coordinator"), {"open"}),
        # an organization the directory does not know: interagency only
        (UNKNOWN, p("ghost", "viewer", "coordinator"), {"open"}),
    ],
)
async def test_who_sees_what(loaded, scope, principal, expected):
    assert await _visible(loaded, scope, principal) == expected


router = APIRouter()


@router.get("/v1/records/{record_id}")
async def get_record(
    record_id: str,
    request: Request,
    principal: Principal = Depends(authorize(Role.viewer, Role.coordinator, Role.auditor)),
    scope: OrgScope = Depends(get_scope),
) -> Any:
    async with request.app.state.db.engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(records).where(records.c.id == record_id, _filter(scope, principal))
            )
        ).first()
    if row is None:
        raise NotFound("No such record.")
    return {"id": row.id}


@pytest.fixture
async def records_client(loaded, test_jwks_file) -> AsyncIterator[httpx.AsyncClient]:
    settings = auth_settings(loaded.url, test_jwks_file)
    app = create_service_app(service="example", settings=settings, routers=[router])
    install_auth(app, settings)
    async with running_app(app) as client:
        yield client


async def test_get_by_id_of_a_hidden_record_is_404_like_a_missing_one(records_client, auth_headers):
    outsider = auth_headers("moh", ["viewer"])
    hidden = await records_client.get("/v1/records/moe-secret", headers=outsider)
    missing = await records_client.get("/v1/records/nothing", headers=outsider)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"] == missing.json()["detail"]
    assert (await records_client.get("/v1/records/open", headers=outsider)).status_code == 200


async def test_get_scope_reads_the_replica(records_client, auth_headers):
    # moe-dir's scope comes from the replica loaded with the registry's events.
    response = await records_client.get(
        "/v1/records/moe-secret", headers=auth_headers("moe-dir", ["viewer"])
    )
    assert response.status_code == 200
    coordinator = auth_headers("icd-unit", ["coordinator"])
    assert (
        await records_client.get("/v1/records/mofa-secret", headers=coordinator)
    ).status_code == 200
    assert (await records_client.get("/v1/records/odd", headers=coordinator)).status_code == 200
