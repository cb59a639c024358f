"""The authorization matrix: every route of every service, called as every role.

Walks each app's routes as they are added. Every route must declare its rule with
`Depends(authorize(...))` (tansiq_common.auth) or be in PUBLIC below; a new route without one
fails this suite, naming it. Then each route is called in-process:

- without a token → 401 (problem+json, WWW-Authenticate: Bearer);
- with a token of each single role → the role rule's 403 (problem type role-not-allowed) when
  the rule does not allow that role; otherwise neither 401, nor that 403, nor a 500 (an empty
  body, a made-up id or an organization outside the caller's scope may well be 403/404/422);
- with a token of a foreign organization (unknown to every directory) holding the allowed
  roles → authenticated (not 401), never a 500, and never a successful write.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from tansiq_common.auth import ALL_ROLES, ROLE_NOT_ALLOWED, Role, rule_of
from tansiq_common.problems import problem_type
from tansiq_common.testing.plugin import running_app

from .conftest import SERVICES

PUBLIC = {
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    # The dashboard's pages and assets; its data comes from the API with the user's token.
    ("GET", "/dashboard"),
    ("GET", "/dashboard/{page}"),
    ("GET", "/dashboard/static/{asset:path}"),
    ("GET", "/dashboard/dev/organizations"),
    ("POST", "/dashboard/dev/token"),
}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
HOME_ORG = "matrix-home-org"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    roles: frozenset[Role] | None  # None: no rule declared

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _rules(dependant: Any) -> list[frozenset[Role]]:
    found = []
    for dependency in dependant.dependencies:
        roles = rule_of(dependency.call)
        if roles is not None:
            found.append(roles)
        found.extend(_rules(dependency))
    return found


def endpoints(app: FastAPI) -> list[Endpoint]:
    result = []
    # FastAPI includes routers lazily: the route contexts carry the effective path (prefix
    # included) and the effective dependencies (include_router(dependencies=...) included).
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute):
            continue
        rules = _rules(context.dependant)
        # Several rules on one route all have to pass: the allowed roles are their intersection.
        roles = frozenset.intersection(*rules) if rules else None
        for method in sorted(context.methods or ()):
            result.append(Endpoint(method, str(context.path), roles))
    return result


def _probe_value(parameter: dict[str, Any]) -> str:
    schema = parameter.get("schema", {})
    for option in [schema, *schema.get("anyOf", [])]:
        if option.get("enum"):
            return str(option["enum"][0])
        if option.get("format") == "uuid":
            return str(uuid.uuid4())
        if option.get("type") == "integer":
            return "1"
    return f"probe-{uuid.uuid4().hex[:8]}"


def concrete_path(app: FastAPI, endpoint: Endpoint) -> str:
    operation = app.openapi()["paths"].get(endpoint.path, {}).get(endpoint.method.lower(), {})
    path = endpoint.path
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path":
            path = path.replace("{" + parameter["name"] + "}", _probe_value(parameter))
    return path


def _refused_by_role_rule(response: Any) -> bool:
    return response.status_code == 403 and response.json().get("type") == problem_type(
        ROLE_NOT_ALLOWED
    )


async def _call(client, app: FastAPI, endpoint: Endpoint, headers: dict[str, str]):
    path = concrete_path(app, endpoint)
    body = {"json": {}} if endpoint.method in WRITES else {}
    return await client.request(endpoint.method, path, headers=headers, **body)


@pytest.mark.parametrize("service", SERVICES)
async def test_every_route_declares_its_rule(service, build_service_app):
    app, _ = await build_service_app(service)
    undeclared = [
        str(e) for e in endpoints(app) if e.roles is None and (e.method, e.path) not in PUBLIC
    ]
    assert not undeclared, f"{service}: routes without an authorize() rule: {undeclared}"
    assert any(e.path == "/v1/audit" for e in endpoints(app)), f"{service}: no GET /v1/audit"


@pytest.mark.parametrize("service", SERVICES)
async def test_every_route_answers_each_role_as_its_rule_says(
    service, build_service_app, auth_headers
):
    app, _ = await build_service_app(service)
    guarded = [e for e in endpoints(app) if e.roles is not None]
    wrong: list[str] = []
    async with running_app(app) as client:
        for endpoint in guarded:
            anonymous = await _call(client, app, endpoint, {})
            if anonymous.status_code != 401:
                wrong.append(f"{endpoint} without a token: {anonymous.status_code}, want 401")
            elif not anonymous.headers.get("www-authenticate", "").startswith("Bearer"):
                wrong.append(f"{endpoint} without a token: no Bearer challenge")
            elif anonymous.headers["content-type"] != "application/problem+json":
                wrong.append(f"{endpoint} without a token: not problem+json")

            for role in sorted(Role):
                response = await _call(client, app, endpoint, auth_headers(HOME_ORG, [role]))
                status, by_rule = response.status_code, _refused_by_role_rule(response)
                allowed = role in endpoint.roles
                if not allowed and not by_rule:
                    wrong.append(f"{endpoint} as {role}: {status}, want 403 {ROLE_NOT_ALLOWED}")
                if allowed and (status in (401, 500) or by_rule):
                    wrong.append(f"{endpoint} as {role}: {status}, want it allowed")

            foreign_org = f"foreign-{uuid.uuid4().hex[:8]}"
            roles = sorted(endpoint.roles or ALL_ROLES)
            response = await _call(client, app, endpoint, auth_headers(foreign_org, roles))
            status = response.status_code
            if status in (401, 500) or _refused_by_role_rule(response):
                wrong.append(f"{endpoint} from a foreign organization: {status}")
            if endpoint.method in WRITES and 200 <= status < 300:
                wrong.append(f"{endpoint} from a foreign organization wrote: {status}")
    assert not wrong, f"{service}:\n" + "\n".join(wrong)
    assert guarded, f"{service}: no guarded route was exercised"


def test_the_walk_sees_undeclared_and_included_routes():
    from fastapi import APIRouter, Depends
    from tansiq_common.auth import authorize

    inner = APIRouter(prefix="/v1/things")

    @inner.get("/{thing_id}")
    async def guarded(_: Any = Depends(authorize(Role.viewer, Role.editor))) -> None: ...

    @inner.post("")
    async def forgotten() -> None: ...

    outer = APIRouter()
    outer.include_router(inner, dependencies=[Depends(authorize(Role.editor, Role.auditor))])
    app = FastAPI()
    app.include_router(outer)
    found = {str(e): e.roles for e in endpoints(app) if e.path.startswith("/v1")}
    # the include-level rule applies too: only roles allowed by both rules pass
    assert found == {
        "GET /v1/things/{thing_id}": frozenset({Role.editor}),
        "POST /v1/things": frozenset({Role.editor, Role.auditor}),
    }
    bare = FastAPI()
    bare.include_router(APIRouter(routes=inner.routes))
    assert {str(e): e.roles for e in endpoints(bare)}["POST /v1/things"] is None
