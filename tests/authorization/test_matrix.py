"""The authorization matrix, driven by the explicit tables beside this file.

For every route of a service's app:
- the route is in the service's table (a new route without a row fails here, named);
- without a token: 401 problem+json with a Bearer challenge;
- as each role the table does not allow: 403 `role-not-allowed`, nothing written;
- as each role it allows: a valid call on real records succeeds with the table's status; on a
  scoped route, on records of the caller's own organization, of another organization of the
  same country and of another country, each with the outcome the table gives.
The table is data, not read from the code: widening a rule in the code fails this test.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from tansiq_common.auth import ROLE_NOT_ALLOWED, Role
from tansiq_common.problems import problem_type
from tansiq_common.testing import databases
from tansiq_common.testing.plugin import running_app

from .model import Call, Route

PUBLIC = {
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
}
TABLES = ("registry", "agreements")


def app_routes(app: Any) -> set[tuple[str, str]]:
    found = set()
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            for method in context.methods or ():
                found.add((method, str(context.path)))
    return found - PUBLIC


async def _send(client: Any, call: Call, headers: dict[str, str]) -> Any:
    return await client.request(
        call.method,
        call.path,
        json=call.json,
        content=call.content,
        headers={**call.headers, **headers},
    )


def _outcome(response: Any) -> int | str:
    if response.status_code < 400:
        return response.status_code
    body = response.json()
    return str(body.get("type", "")).removeprefix("urn:tansiq:problem:")


@pytest.fixture
async def registry_world(build_service_app):
    from tansiq_common.db import Database

    from .registry import World

    app, settings = await build_service_app("registry")
    await databases.truncate_all(settings.database_url)
    db = Database(settings.database_url)
    world = World(db, list(settings.home_countries))
    await world.load()
    yield app, world
    await db.dispose()


@pytest.mark.parametrize("service", TABLES)
async def test_every_route_has_a_row(service, build_service_app):
    app, _ = await build_service_app(service)
    table = {
        route.key for route in importlib.import_module(f"tests.authorization.{service}").ROUTES
    }
    routes = app_routes(app)
    assert routes - table == set(), f"{service}: routes missing from the table"
    assert table - routes == set(), f"{service}: rows for routes that do not exist"


async def test_registry_routes_answer_as_the_table_says(registry_world, auth_headers):
    from .registry import ROUTES

    app, world = registry_world
    await _check(app, world, ROUTES, auth_headers)


async def _world(build_service_app: Any, service: str) -> Any:
    """The service's app on its emptied test database, and the table's world loaded in it."""
    from tansiq_common.db import Database

    module = importlib.import_module(f"tests.authorization.{service}")
    app, settings = await build_service_app(service)
    await databases.truncate_all(settings.database_url)
    db = Database(settings.database_url)
    world = module.World(db)
    await world.load()
    return app, world, db


@pytest.fixture
async def agreements_world(build_service_app):
    app, world, db = await _world(build_service_app, "agreements")
    yield app, world
    await db.dispose()


async def test_agreements_routes_answer_as_the_table_says(agreements_world, auth_headers):
    from .agreements import ROUTES

    app, world = agreements_world
    await _check(app, world, ROUTES, auth_headers)


async def _check(app: Any, world: Any, routes: list[Route], auth_headers: Any) -> None:
    wrong: list[str] = []
    async with running_app(app) as client:
        for route in routes:
            name = f"{route.method} {route.path}"
            anonymous = await _send(client, await route.call(world, Role.viewer, "own"), {})
            if anonymous.status_code != 401 or not anonymous.headers.get(
                "www-authenticate", ""
            ).startswith("Bearer"):
                wrong.append(f"{name} without a token: {anonymous.status_code}, want 401")
            for role in sorted(Role):
                headers = auth_headers(world.org_of(role), [role], sub=f"matrix-{role}")
                if role not in route.allowed:
                    response = await _send(client, await route.call(world, role, "own"), headers)
                    if _outcome(response) != ROLE_NOT_ALLOWED:
                        wrong.append(
                            f"{name} as {role}: {response.status_code} {_outcome(response)}, "
                            f"want 403 {ROLE_NOT_ALLOWED}"
                        )
                    continue
                for target in route.targets():
                    response = await _send(client, await route.call(world, role, target), headers)
                    want = route.expected(role, target)
                    if _outcome(response) != want:
                        wrong.append(
                            f"{name} as {role} on {target}: {response.status_code} "
                            f"{_outcome(response)}, want {want}"
                            + (f" ({response.text[:200]})" if response.status_code >= 400 else "")
                        )
    assert not wrong, "\n".join(wrong)
    assert problem_type(ROLE_NOT_ALLOWED) == "urn:tansiq:problem:" + ROLE_NOT_ALLOWED
