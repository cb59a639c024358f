"""The engagements service against its own migrated test database, with a small world of
organizations in its replica and a stand-in for the services that own them (registry,
agreements), reached over HTTP as in production."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import make_url
from tansiq_common.testing import databases
from tansiq_common.testing.plugin import running_app
from tansiq_common.testing.pools import connections_taken
from tansiq_engagements import MIGRATIONS_DIR
from tansiq_engagements.app import create_app
from tansiq_engagements.settings import EngagementsSettings

PROBLEM = "urn:tansiq:problem:"


def _id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"tansiq-test:{name}"))


@dataclass(frozen=True)
class Org:
    id: str
    kind: str
    scope: str
    country: str | None
    parent_id: str | None = None
    ministry_id: str | None = None
    designations: tuple[str, ...] = ()
    status: str = "active"

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "scope": self.scope,
            "country": self.country,
            "parent_id": self.parent_id,
            "ministry_id": self.ministry_id,
            "designations": list(self.designations),
            "status": self.status,
            "version": 1,
        }


# The world of the tests (the demo's shape): Qatar's coordinating body, a ministry with the
# foundation it supervises and one of its centres, another ministry, Syria's directorate, and
# international partners.
MOFA = Org(_id("mofa"), "ministry", "national", "QA", ministry_id=_id("mofa"))
ICD = Org(_id("icd"), "directorate", "national", "QA", MOFA.id, MOFA.id, ("coordinating_body",))
MSDF = Org(_id("msdf"), "ministry", "national", "QA", ministry_id=_id("msdf"))
QFSW = Org(_id("qfsw"), "public_foundation", "national", "QA", MSDF.id, MSDF.id)
WIFAQ = Org(_id("wifaq"), "centre", "national", "QA", QFSW.id, MSDF.id)
MOI = Org(_id("moi"), "ministry", "national", "QA", ministry_id=_id("moi"))
OLD = Org(_id("old"), "agency", "national", "QA", MSDF.id, MSDF.id, status="archived")
MLAE = Org(_id("mlae"), "ministry", "national", "SY", ministry_id=_id("mlae"))
DIC = Org(_id("dic"), "directorate", "national", "SY", MLAE.id, MLAE.id)
MOFAE = Org(
    _id("mofae"), "ministry", "national", "SY", ministry_id=_id("mofae"),
    designations=("coordinating_body",),
)  # fmt: skip
UNESCO = Org(_id("unesco"), "un_entity", "international", None)
UNOCT = Org(_id("unoct"), "un_entity", "international", None)
EMB_GB = Org(_id("emb-gb"), "diplomatic_mission", "international", "GB")
WORLD = [MOFA, ICD, MSDF, QFSW, WIFAQ, MOI, OLD, MLAE, DIC, MOFAE, UNESCO, UNOCT, EMB_GB]

AGREEMENT = _id("agreement-qfsw-unesco")


@dataclass
class Owners:
    """The registry and the agreements service as the engagements service sees them: records
    they hold that its replicas may not have yet, and the calls they received."""

    organizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    agreements: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str | None]] = field(default_factory=list)
    down: bool = False

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/organizations/{org_id}")
        async def organization(org_id: str, request: Request) -> Any:
            return self._answer(request, self.organizations.get(org_id))

        @app.get("/v1/agreements/{agreement_id}")
        async def agreement(agreement_id: str, request: Request) -> Any:
            return self._answer(request, self.agreements.get(agreement_id))

        return app

    def _answer(self, request: Request, record: dict[str, Any] | None) -> JSONResponse:
        self.calls.append((request.url.path, request.headers.get("authorization")))
        if self.down:
            return JSONResponse({"title": "down"}, status_code=503)
        if record is None:
            return JSONResponse({"type": "urn:tansiq:problem:not-found"}, status_code=404)
        return JSONResponse(record)

    def reset(self) -> None:
        self.organizations.clear()
        self.agreements.clear()
        self.calls.clear()
        self.down = False


@pytest.fixture(scope="session")
async def engagements_db(service_database) -> str:
    return await service_database("engagements", MIGRATIONS_DIR)


@pytest.fixture(scope="session")
def engagements_settings(engagements_db, test_jwks_file, topic_prefix, kafka_bootstrap):
    return EngagementsSettings(
        database_url=engagements_db,
        auth_jwks_file=test_jwks_file,
        environment="test",
        topic_prefix=topic_prefix,
        kafka_bootstrap_servers=kafka_bootstrap,
        registry_base_url="http://registry.test",
        agreements_base_url="http://agreements.test",
        run_relay=False,
        run_consumers=False,
    )


@pytest.fixture(scope="session")
def owners() -> Owners:
    return Owners()


@pytest.fixture(scope="session")
def engagements_app(engagements_settings, owners) -> FastAPI:
    app = create_app(engagements_settings)
    app.state.reference_transport = httpx.ASGITransport(app=owners.app())
    return app


@pytest.fixture(scope="session")
async def session_client(engagements_app) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(engagements_app) as client:
        yield client


def plain_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def load_world(url: str) -> None:
    conn = await asyncpg.connect(plain_url(url))
    try:
        await conn.executemany(
            "INSERT INTO organization_directory "
            "(id, parent_id, ministry_id, kind, scope, country, designations, status, version) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1)",
            [
                (
                    o.id, o.parent_id, o.ministry_id, o.kind, o.scope, o.country,
                    list(o.designations), o.status,
                )
                for o in WORLD
            ],
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO agreement_directory (id, kind, status, owner_org_id, party_org_ids, "
            "visibility, version) VALUES ($1, 'cooperation_agreement', 'signed', $2, $3, "
            "'interagency', 3)",
            AGREEMENT,
            QFSW.id,
            [QFSW.id, UNESCO.id],
        )
    finally:
        await conn.close()


@pytest.fixture
async def client(session_client, engagements_app, engagements_db, owners) -> httpx.AsyncClient:
    await databases.truncate_all(engagements_db)
    await load_world(engagements_db)
    owners.reset()
    # Scopes are cached for a few seconds; a test that changes the world must not see stale ones.
    engagements_app.state.organization_directory.forget()
    return session_client


@pytest.fixture
async def sql(engagements_db) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the test database, to check what was (not) written."""
    conn = await asyncpg.connect(plain_url(engagements_db))
    yield conn
    await conn.close()


@pytest.fixture
def as_editor(auth_headers) -> Callable[..., dict[str, str]]:
    def make(org: Org, *roles: str, sub: str = "editor-1") -> dict[str, str]:
        return auth_headers(org.id, list(roles or ("editor",)), sub=sub)

    return make


def engagement_body(**overrides: Any) -> dict[str, Any]:
    """The embassies forum of seed 002, as a client would post it."""
    body: dict[str, Any] = {
        "kind": "conference",
        "title": {
            "ar": "ملتقى السفارات للعمل الاجتماعي",
            "en": "Embassies forum on social work",
        },
        "start": "2025-03-10T09:00:00+03:00",
        "end": "2025-03-10T13:00:00+03:00",
        "location": {"city": "Doha", "country": "QA", "virtual": False},
        "lead_org_id": QFSW.id,
        "participants": [
            {"org_id": QFSW.id, "role": "host"},
            {"org_id": UNESCO.id, "role": "participant"},
            {"org_id": EMB_GB.id, "role": "participant"},
        ],
        "attendees": {"total": 80, "nationals": 30, "nationals_trained": 0},
        "agreement_ids": [AGREEMENT],
        "related_engagement_ids": [],
        "themes": {"sdgs": [4, 5], "sectors": ["social-development"], "priorities": []},
        "report_due_on": "2025-03-24",
        "channel": "direct",
        "coordinating_body_notified_at": None,
        "status": "held",
        "visibility": "interagency",
        "outcome": "تعاون مع السفارات في مجال العمل الاجتماعي",
    }
    body.update(overrides)
    return body


def ingest_item(external_id: str = "cal-1", **overrides: Any) -> dict[str, Any]:
    item = engagement_body(source="calendar", external_id=external_id)
    item.update(overrides)
    return item


async def outbox(sql: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await sql.fetch("SELECT aggregateid, type, payload, topic FROM outbox ORDER BY seq")
    return [
        {
            "id": r["aggregateid"],
            "type": r["type"],
            "topic": r["topic"],
            "payload": json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"],
        }
        for r in rows
    ]


@pytest.fixture
def connections(engagements_app) -> Iterator[dict[str, int]]:
    """How many connections the requests took: from the writes' driver pool, from the
    engine's."""
    with connections_taken(engagements_app.state.db) as counts:
        yield counts
