"""The authorization matrix, driven by the explicit tables beside this file.

For every route of a service's app:
- the route is in the service's table (a new route without a row fails here, named), and so is
  every operation of the app's OpenAPI document;
- without a token: 401 problem+json with a Bearer challenge (a public route: its success);
- as each role the table does not allow: 403 `role-not-allowed`;
- as each role it allows: a valid call on real records succeeds with the table's status; on a
  scoped route, on records of the caller's own organization, of another organization of the
  same country and of another country, each with the outcome the table gives;
- from an organization no directory knows, with the roles allowed: never a 500 nor a 401, and
  never a write that succeeds.
The table is data, not read from the code: widening a rule in the code fails this test.
"""

from __future__ import annotations

import importlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from tansiq_common.auth import ROLE_NOT_ALLOWED, Role
from tansiq_common.auth.devkeys import PRIVATE_KEY_FILE, jwks_document
from tansiq_common.db import Database
from tansiq_common.problems import problem_type
from tansiq_common.testing import databases
from tansiq_common.testing.plugin import running_app

from .model import Call, Route

# Served by every service without a token, whatever the table: health, metrics, the documents.
PUBLIC = {
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
}
TABLES = ("registry", "agreements", "engagements", "reporting")
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def app_routes(app: Any) -> set[tuple[str, str]]:
    found = set()
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            for method in context.methods or ():
                found.add((method, str(context.path)))
    return found - PUBLIC


def openapi_operations(app: Any) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    } - PUBLIC


def _table(service: str) -> list[Route]:
    routes: list[Route] = importlib.import_module(f"tests.authorization.{service}").ROUTES
    return routes


@pytest.mark.parametrize("service", TABLES)
async def test_every_route_has_a_row(service, build_service_app):
    app, _ = await build_service_app(service)
    table = {route.key for route in _table(service)}
    routes = app_routes(app)
    assert openapi_operations(app) - table == set(), f"{service}: OpenAPI operations missing"
    assert routes - table == set(), f"{service}: routes missing from the table"
    assert table - routes == set(), f"{service}: rows for routes that do not exist"


@pytest.fixture
async def development_keys(tmp_path: Path, test_identity_provider: Any) -> Path:
    """The JWKS file of a development setup whose key is the test identity provider's RSA key:
    the reporting service then serves the dashboard's development routes, and trusts the
    tokens `auth_headers` mints."""
    key = test_identity_provider.rsa
    (tmp_path / PRIVATE_KEY_FILE).write_bytes(_pem(key))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(jwks_document([key])), encoding="utf-8")
    return jwks


def _pem(key: Any) -> bytes:
    pem = key.pem()
    return pem if isinstance(pem, bytes) else str(pem).encode()


@pytest.fixture
async def world(
    request: pytest.FixtureRequest, build_service_app: Any, development_keys: Path
) -> AsyncIterator[tuple[str, Any, Any]]:
    """The service's app on its emptied test database, and the table's world loaded in it."""
    service = request.param
    module = importlib.import_module(f"tests.authorization.{service}")
    overrides: dict[str, Any] = {}
    if service == "reporting":
        overrides = {"environment": "development", "auth_jwks_file": development_keys}
    app, settings = await build_service_app(service, **overrides)
    await databases.truncate_all(settings.database_url)
    db = Database(settings.database_url)
    if service == "registry":
        made = module.World(db, list(settings.home_countries))
    else:
        made = module.World(db)
    await made.load()
    yield service, app, made
    await db.dispose()


@pytest.mark.parametrize("world", TABLES, indirect=True)
async def test_routes_answer_as_the_table_says(world, auth_headers):
    service, app, made = world
    await _check(app, made, _table(service), auth_headers, service)


async def _send(client: Any, call: Call, headers: dict[str, str]) -> Any:
    return await client.request(
        call.method,
        call.path,
        json=call.json,
        content=call.content,
        headers={**call.headers, **headers},
    )


async def _check(
    app: Any, world: Any, routes: list[Route], auth_headers: Any, service: str
) -> None:
    wrong: list[str] = []

    def token(org: str, role: Role | list[Role], call: Call | None) -> dict[str, str]:
        roles = role if isinstance(role, list) else [role]
        claims = dict(call.claims) if call else {}
        return dict(auth_headers(org, roles, sub=f"matrix-{roles[0]}", **claims))

    async with running_app(app) as client:
        for route in routes:
            name = f"{route.method} {route.path}"
            anonymous = await _send(client, await route.call(world, Role.viewer, "own"), {})
            if route.public:
                if route.judge(anonymous) != route.success:
                    wrong.append(
                        f"{name} without a token: {anonymous.status_code}, want {route.success}"
                    )
            elif (
                anonymous.status_code != 401
                or not anonymous.headers.get("www-authenticate", "").startswith("Bearer")
                or anonymous.headers.get("content-type") != "application/problem+json"
            ):
                wrong.append(f"{name} without a token: {anonymous.status_code}, want 401")
            for role in sorted(Role):
                if role not in route.allowed and not route.public:
                    call = await route.call(world, role, "own")
                    response = await _send(client, call, token(world.org_of(role), role, call))
                    if route.judge(response) != ROLE_NOT_ALLOWED:
                        wrong.append(
                            f"{name} as {role}: {response.status_code} "
                            f"{route.judge(response)}, want 403 {ROLE_NOT_ALLOWED}"
                        )
                    continue
                for target in route.targets():
                    call = await route.call(world, role, target)
                    response = await _send(client, call, token(world.org_of(role), role, call))
                    want = route.expected(role, target)
                    if route.judge(response) != want:
                        wrong.append(
                            f"{name} as {role} on {target}: {response.status_code} "
                            f"{route.judge(response)}, want {want}"
                            + (f" ({response.text[:200]})" if response.status_code >= 400 else "")
                        )
            if not route.public:
                await _from_a_foreign_organization(client, world, route, token, wrong)
    assert not wrong, f"{service}:\n" + "\n".join(wrong)
    assert problem_type(ROLE_NOT_ALLOWED) == "urn:tansiq:problem:" + ROLE_NOT_ALLOWED


async def _from_a_foreign_organization(
    client: Any, world: Any, route: Route, token: Any, wrong: list[str]
) -> None:
    """A token of an organization no directory knows, with each allowed role: authenticated
    (never a 401), never a 500, and a write refused unless the table says otherwise."""
    name = f"{route.method} {route.path}"
    for role in sorted(route.allowed):
        call = await route.call(world, role, "own")
        foreign = f"matrix-foreign-{uuid.uuid4().hex[:8]}"
        response = await _send(client, call, token(foreign, role, None))
        outcome = route.judge(response)
        if role in route.foreign:
            if outcome != route.foreign[role]:
                wrong.append(
                    f"{name} as {role} of a foreign organization: {response.status_code} "
                    f"{outcome}, want {route.foreign[role]}"
                )
        elif response.status_code in (401, 500) or outcome == ROLE_NOT_ALLOWED:
            wrong.append(
                f"{name} as {role} of a foreign organization: {response.status_code} {outcome}"
            )
        elif route.method in WRITES and isinstance(outcome, int) and outcome < 300:
            wrong.append(f"{name} as {role} of a foreign organization wrote: {outcome}")
