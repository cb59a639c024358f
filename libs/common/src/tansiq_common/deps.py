"""Typed FastAPI dependencies every service's endpoints use, and the responses they return.

    async def get_agreement(agreement_id: str, session: ReadSession, caller: Caller) -> ...
    async def sign(agreement_id: str, uow: Uow, if_match: IfMatch, ...) -> ...

`Caller` carries the verified principal and its organization scope; `Uow` is a unit of work
acting as the principal; `ReadSession` a session for the query functions (reads take no
transaction of their own: one statement, or several that need no common snapshot).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel
from pydantic_core import to_json
from sqlalchemy.ext.asyncio import AsyncConnection

from tansiq_common.auth.dependencies import (
    bearer_scheme,
    current_principal,
    get_scope,
    scope_for,
    verified_caller,
)
from tansiq_common.auth.principal import Principal
from tansiq_common.auth.scope import OrgScope
from tansiq_common.db import DriverReads
from tansiq_common.etag import etag_for
from tansiq_common.problems import Problem
from tansiq_common.settings import ServiceSettings
from tansiq_common.uow import UnitOfWork

# Every dependency is `async def`: FastAPI runs a plain `def` one in a worker thread, a thread
# hop per request for what is an attribute lookup.


async def get_settings(request: Request) -> ServiceSettings:
    settings: ServiceSettings = request.app.state.settings
    return settings


async def get_read_session(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme)
) -> AsyncIterator[AsyncConnection]:
    """A Core connection in autocommit mode: each query of the read functions stands alone, with
    no ORM session and no BEGIN/ROLLBACK around it (the request path's largest costs after the
    query itself). Reads that need one snapshot across statements take a unit of work.

    The caller's scope is looked up first (and kept for the request): looked up while this
    connection is held, it would take a second one, and a full pool of requests each holding
    one and waiting for another never frees any."""
    principal = await verified_caller(request, credentials)
    if principal is not None:
        await scope_for(request, principal)
    async with request.app.state.read_engine.connect() as connection:
        yield connection


async def get_reads(request: Request) -> DriverReads:
    """Reads on the driver's connection (tansiq_common.db.DriverReads): a plain dependency, no
    connection held for the request; each read takes one from the pool for its statements."""
    reads: DriverReads = request.app.state.reads
    return reads


async def get_uow(
    request: Request, principal: Principal = Depends(current_principal)
) -> UnitOfWork:
    db = request.app.state.db
    return UnitOfWork(db.sessionmaker, actor=principal, pool=db.write_pool)


@dataclass(frozen=True)
class CallerContext:
    """Who calls (the verified token) and where their organization sits in the registry."""

    principal: Principal
    scope: OrgScope


async def get_caller(
    principal: Principal = Depends(current_principal), scope: OrgScope = Depends(get_scope)
) -> CallerContext:
    return CallerContext(principal, scope)


Settings = Annotated[ServiceSettings, Depends(get_settings)]
ReadSession = Annotated[AsyncConnection, Depends(get_read_session)]
Reads = Annotated[DriverReads, Depends(get_reads)]
Uow = Annotated[UnitOfWork, Depends(get_uow)]
Caller = Annotated[CallerContext, Depends(get_caller)]
Scope = Annotated[OrgScope, Depends(get_scope)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]


# --- JSON merge patch --------------------------------------------------------------------------


class UnsupportedMediaType(Problem):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


MERGE_PATCH_TYPES = ("application/merge-patch+json", "application/json")


async def merge_patch_content(request: Request, _: Principal = Depends(current_principal)) -> None:
    """PATCH bodies are JSON merge patches (RFC 7396); any other media type is refused, not
    guessed at. Depends on the caller first: an anonymous caller hears 401, not 415."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in MERGE_PATCH_TYPES:
        raise UnsupportedMediaType(
            "Send the changes as application/merge-patch+json (or application/json).",
            headers={"Accept-Patch": ", ".join(MERGE_PATCH_TYPES)},
        )


MergePatch = Depends(merge_patch_content)


def merge_patch_body(schema_name: str) -> dict[str, Any]:
    """`openapi_extra` documenting a PATCH body as merge-patch JSON of `schema_name`."""
    ref = {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}
    return {
        "requestBody": {"content": {"application/merge-patch+json": ref, "application/json": ref}}
    }


# --- versioned responses -----------------------------------------------------------------------


class StateResponse(JSONResponse):
    """JSON of states that are already JSON-ready, encoded by pydantic-core: the same bytes as
    the standard library's compact encoding of such values, in a fraction of its time (the
    largest single cost of a list page's encoding). A NaN or infinity, which JSON cannot
    write, is null."""

    def render(self, content: Any) -> bytes:
        return to_json(content, inf_nan_mode="null")


def versioned(
    schema: type[BaseModel],
    state: Mapping[str, Any],
    status_code: int = 200,
    *,
    location: str | None = None,
) -> JSONResponse:
    """A record's representation with its ETag (from `state["version"]`) and, on create, its
    Location. `schema` shapes the body as the OpenAPI document says: `state` is already
    JSON-ready (an aggregate's snapshot), so its fields are taken as they are, without a second
    validation on the hot path; a state lacking one of them goes through the schema."""
    fields = schema.model_fields
    if all(name in state for name in fields):
        body: Any = {name: state[name] for name in fields}
    else:
        body = schema.model_validate(state).model_dump(mode="json")
    headers = {"ETag": etag_for(int(state["version"]))}
    if location is not None:
        headers["Location"] = location
    return StateResponse(body, status_code, headers=headers)


def page(items: list[Any], next_cursor: str | None) -> JSONResponse:
    """A list page of JSON-ready states, answered as it is: the route's `response_model`
    documents it, and the states are already in that shape (no second validation per item)."""
    return StateResponse({"items": items, "next_cursor": next_cursor})
