"""The agreements service under test, with a real registry beside it.

Both apps run in-process on their own migrated test databases. The registry's organizations
(the `world`, created once per session through its API) reach the agreements service's
organization replica as its consumer would apply them, except those left out on purpose
(`registry_only`), which only the registry's REST API knows. The agreements app asks the
registry app itself on a replica miss (its lookup's HTTP client is the registry's in-process
client).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from tansiq_agreements import MIGRATIONS_DIR
from tansiq_agreements.agreements.organizations import organization_lookup
from tansiq_agreements.app import create_app
from tansiq_agreements.settings import AgreementsSettings
from tansiq_common.auth.directory import apply_organization_event
from tansiq_common.db import Database
from tansiq_common.testing.plugin import running_app
from tansiq_registry import MIGRATIONS_DIR as REGISTRY_MIGRATIONS_DIR
from tansiq_registry.app import create_app as create_registry_app
from tansiq_registry.settings import RegistrySettings

# The tables the agreements service writes; emptied before each test (the replica stays).
OWN_TABLES = "agreements, agreement_history, outbox, audit_log, idempotency_keys, processed_events"
PLATFORM_ADMIN_ORG = str(uuid.uuid4())  # names no organization: a platform administrator


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
async def registry_db(service_database) -> str:
    return await service_database("registry", REGISTRY_MIGRATIONS_DIR)


@pytest.fixture(scope="session")
async def agreements_db(service_database) -> str:
    return await service_database("agreements", MIGRATIONS_DIR)


@pytest.fixture(scope="session")
async def registry_client(
    registry_db, test_jwks_file, topic_prefix
) -> AsyncIterator[httpx.AsyncClient]:
    settings = RegistrySettings(
        database_url=registry_db,
        auth_jwks_file=test_jwks_file,
        topic_prefix=topic_prefix,
        run_relay=False,
        run_consumers=False,
    )
    async with running_app(create_registry_app(settings)) as client:
        yield client


@pytest.fixture(scope="session")
def agreements_settings(agreements_db, test_jwks_file, topic_prefix) -> AgreementsSettings:
    return AgreementsSettings(
        database_url=agreements_db,
        auth_jwks_file=test_jwks_file,
        topic_prefix=topic_prefix,
        run_relay=False,
        run_consumers=False,
        run_expiry=False,
    )


@dataclass
class World:
    """The organizations of the tests, by short name → registry id."""

    ids: dict[str, str]
    states: dict[str, dict[str, Any]]

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


# name: (body, replicated to the agreements service?)
WORLD: list[tuple[str, dict[str, Any], bool]] = [
    ("mofa", {"kind": "ministry", "names": {"en": "Ministry of Foreign Affairs"}, "country": "QA"}, True),
    ("icd", {"kind": "directorate", "names": {"en": "International Cooperation Department", "ar": "إدارة التعاون الدولي"}, "country": "QA", "parent": "mofa", "designations": ["coordinating_body"]}, True),
    ("msdf", {"kind": "ministry", "names": {"en": "Ministry of Social Development and Family"}, "country": "QA"}, True),
    ("qfsw", {"kind": "public_foundation", "names": {"en": "Qatar Foundation for Social Work"}, "country": "QA", "parent": "msdf"}, True),
    ("wifaq", {"kind": "centre", "names": {"en": "Family Consulting Center"}, "country": "QA", "parent": "qfsw"}, True),
    ("moi", {"kind": "ministry", "names": {"en": "Ministry of Interior"}, "country": "QA"}, True),
    ("mofae", {"kind": "ministry", "names": {"en": "Ministry of Foreign Affairs and Expatriates"}, "country": "SY", "designations": ["coordinating_body"]}, True),
    ("mlae", {"kind": "ministry", "names": {"en": "Ministry of Local Administration and Environment"}, "country": "SY"}, True),
    ("dic", {"kind": "directorate", "names": {"en": "Directorate of International Cooperation"}, "country": "SY", "parent": "mlae"}, True),
    ("unesco", {"kind": "un_entity", "names": {"en": "UNESCO", "ar": "اليونسكو"}}, True),
    ("undp", {"kind": "un_entity", "names": {"en": "UNDP"}}, True),
    ("escwa", {"kind": "un_entity", "names": {"en": "ESCWA"}}, True),
    ("embassy_gb", {"kind": "diplomatic_mission", "names": {"en": "British Embassy Doha"}, "country": "GB"}, True),
    ("archived", {"kind": "un_entity", "names": {"en": "A partner since archived"}}, True),
    # Known to the registry only: found through its REST API.
    ("unicef", {"kind": "un_entity", "names": {"en": "UNICEF"}}, False),
    ("mol", {"kind": "ministry", "names": {"en": "Ministry of Labour"}, "country": "QA"}, False),
]  # fmt: skip


@dataclass
class _Event:
    data: dict[str, Any]


@pytest.fixture(scope="session")
async def world(registry_client, registry_db, agreements_db, auth_headers) -> World:
    admin = auth_headers(PLATFORM_ADMIN_ORG, ["registry_admin"], sub="platform-admin")
    ids: dict[str, str] = {}
    replicated: set[str] = set()
    for name, body, replicate in WORLD:
        body = dict(body)
        if "parent" in body:
            body["parent_id"] = ids[body.pop("parent")]
        response = await registry_client.post("/v1/organizations", json=body, headers=admin)
        assert response.status_code == 201, response.text
        ids[name] = response.json()["id"]
        if replicate:
            replicated.add(ids[name])
    archived = await registry_client.post(
        f"/v1/organizations/{ids['archived']}/actions/archive", headers=admin
    )
    assert archived.status_code == 200, archived.text
    # What the organization consumer would apply: every registry event, in order.
    conn = await asyncpg.connect(plain(registry_db))
    try:
        rows = await conn.fetch("select aggregateid, payload from outbox order by seq")
    finally:
        await conn.close()
    states: dict[str, dict[str, Any]] = {}
    db = Database(agreements_db, pool_size=1, max_overflow=0)
    try:
        async with db.sessionmaker() as session, session.begin():
            for row in rows:
                payload = row["payload"]
                data = payload if isinstance(payload, dict) else json.loads(payload)
                states[str(data["id"])] = data
                if str(data["id"]) in replicated:
                    await apply_organization_event(session, _Event(data))
    finally:
        await db.dispose()
    return World(ids=ids, states={name: states[i] for name, i in ids.items()})


@pytest.fixture(scope="session")
async def app_and_client(
    agreements_settings, registry_client, world
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(agreements_settings)
    app.state.organization_lookup = organization_lookup(
        str(registry_client.base_url), timeout_s=2.0, client=registry_client
    )
    async with running_app(app) as client:
        yield app, client


@pytest.fixture
async def client(app_and_client, agreements_db) -> httpx.AsyncClient:
    conn = await asyncpg.connect(plain(agreements_db))
    try:
        await conn.execute(f"TRUNCATE {OWN_TABLES} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    return app_and_client[1]


@pytest.fixture
def app(app_and_client) -> Any:
    return app_and_client[0]


@pytest.fixture
async def sql(agreements_db) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the agreements test database, to check what was (not) written."""
    conn = await asyncpg.connect(plain(agreements_db))
    yield conn
    await conn.close()


@pytest.fixture
def as_(auth_headers, world) -> Callable[..., dict[str, str]]:
    """`as_("qfsw", "editor")` → headers of a caller of that organization with those roles."""

    def headers(org: str, *roles: str, sub: str | None = None) -> dict[str, str]:
        org_id = world[org] if org in world.ids else org
        return auth_headers(org_id, list(roles), sub=sub or f"{org}-{'-'.join(roles)}")

    return headers


def agreement_body(world: World, **overrides: Any) -> dict[str, Any]:
    """A valid cooperation agreement of the Qatar Foundation for Social Work with UNESCO."""
    body: dict[str, Any] = {
        "kind": "cooperation_agreement",
        "title": {"ar": "اتفاقية تعاون", "en": "Cooperation agreement on inclusive education"},
        "summary": {"en": "Social and human development, inclusive education."},
        "owner_org_id": world["qfsw"],
        "parties": [
            {"org_id": world["qfsw"], "role": "signatory"},
            {"org_id": world["unesco"], "role": "signatory"},
        ],
        "themes": {"sdgs": [4, 5], "sectors": ["education"], "priorities": ["NDS2-IC-1"]},
        "effective_from": "2024-01-01",
        "expires_on": "2027-12-31",
        "funding": [{"funder_org_id": world["unesco"], "amount": "250000.00", "currency": "USD"}],
        "visibility": "interagency",
    }
    body.update(overrides)
    return body


@pytest.fixture
def create(client, world, as_) -> Callable[..., Any]:
    """`await create(**overrides)` → the created agreement (as an editor of its owner)."""

    async def make(
        editor: tuple[str, ...] = ("qfsw", "editor"), **overrides: Any
    ) -> dict[str, Any]:
        response = await client.post(
            "/v1/agreements", json=agreement_body(world, **overrides), headers=as_(*editor)
        )
        assert response.status_code == 201, response.text
        return response.json()

    return make


@pytest.fixture
def outbox(sql) -> Callable[[str], Any]:
    """`await outbox(agreement_id)` → its events in the outbox, oldest first."""

    async def events(agreement_id: str) -> list[dict[str, Any]]:
        rows = await sql.fetch(
            "select type, topic, payload from outbox where aggregateid = $1 order by seq",
            agreement_id,
        )
        return [{"type": r["type"], "topic": r["topic"], **json.loads(r["payload"])} for r in rows]

    return events


@pytest.fixture
def counts(sql) -> Callable[[], Any]:
    """`await counts()` → rows in every table the service writes (a refusal changes none)."""

    async def count() -> dict[str, int]:
        found = {}
        for table in ("agreements", "agreement_history", "outbox", "audit_log"):
            # the service's own table names, not input
            found[table] = await sql.fetchval(f"select count(*) from {table}")  # noqa: S608
        return found

    return count


@pytest.fixture
def body(world) -> Callable[..., dict[str, Any]]:
    return lambda **overrides: agreement_body(world, **overrides)
