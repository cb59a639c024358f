"""HTTP endpoints for engagements, their reports and action items, and the ingestion batch:
thin handlers over the service (writes) and the query functions (reads)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from tansiq_common.auth import OrgScope, Principal, Role, authorize
from tansiq_common.auth.dependencies import scope_for
from tansiq_common.deps import (
    IfMatch,
    MergePatch,
    Scope,
    Uow,
    merge_patch_body,
    page,
    versioned,
)
from tansiq_common.pagination import DEFAULT_LIMIT, Cursor, Limit
from tansiq_common.problems import UnprocessableEntity, problem_responses

from tansiq_engagements.engagements import queries
from tansiq_engagements.engagements.ingest import BatchIngestion, integration_leads
from tansiq_engagements.engagements.model import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    ActionItem,
    Channel,
    Engagement,
    Kind,
    Status,
    Visibility,
)
from tansiq_engagements.engagements.schemas import (
    MAX_BATCH,
    ActionItemCreate,
    ActionItemOut,
    ActionItemPage,
    ActionItemPatch,
    EngagementCreate,
    EngagementOut,
    EngagementPage,
    EngagementPatch,
    EngagementReport,
    EngagementReportIn,
    IngestBatch,
    IngestReport,
)
from tansiq_engagements.engagements.service import EngagementService
from tansiq_engagements.lookups import Lookups, get_lookups

router = APIRouter(prefix="/v1/engagements", tags=["engagements"])
ingest_router = APIRouter(prefix="/v1/ingest", tags=["ingestion"])

READ = authorize(
    Role.viewer, Role.editor, Role.coordinator, Role.auditor, Role.integration, Role.registry_admin
)
WRITE = authorize(Role.editor)
INGEST = authorize(Role.integration)

# The claim naming the organizations an integration token pushes engagements for.
ORGS_CLAIM = "orgs"

LookupsDep = Annotated[Lookups, Depends(get_lookups)]


async def read_access(request: Request, principal: Principal = Depends(READ)) -> queries.ReadAccess:
    """The role rule of the reads, then what they need (the driver's reads, the caller's scope)
    in one dependency: each level of FastAPI's graph is solved again on every request."""
    scope = await scope_for(request, principal)
    return queries.ReadAccess(request.app.state.reads, principal, scope)


Access = Annotated[queries.ReadAccess, Depends(read_access)]


def bearer_of(request: Request) -> str | None:
    """The caller's token, handed on to the owners of referenced records."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _service(
    uow: Uow, lookups: Lookups, request: Request, principal: Principal, scope: OrgScope
) -> EngagementService:
    return EngagementService(
        uow, lookups, principal=principal, scope=scope, bearer=bearer_of(request)
    )


def _respond(engagement: Engagement, status_code: int = 200, **kw: Any) -> JSONResponse:
    return versioned(EngagementOut, engagement.snapshot(), status_code, **kw)


def _item(
    engagement: Engagement, item: ActionItem, status_code: int = 200, **kw: Any
) -> JSONResponse:
    state = engagement.snapshot()
    body = next(i for i in state["action_items"] if i["id"] == item.id)
    return versioned(ActionItemOut, {**body, "version": state["version"]}, status_code, **kw)


# --- engagements -------------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    response_model=EngagementOut,
    responses=problem_responses(400, 401, 403, 409, 413, 422, 503),
)
async def create_engagement(
    body: EngagementCreate,
    request: Request,
    uow: Uow,
    lookups: LookupsDep,
    scope: Scope,
    principal: Principal = Depends(WRITE),
) -> JSONResponse:
    service = _service(uow, lookups, request, principal, scope)
    engagement = await service.create(body.model_dump(mode="json"))
    return _respond(engagement, 201, location=f"/v1/engagements/{engagement.id}")


@router.get("", response_model=EngagementPage, responses=problem_responses(400, 401, 403, 422))
async def list_engagements(
    access: Access,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    kind: Kind | None = None,
    status: Status | None = None,
    channel: Channel | None = None,
    visibility: Visibility | None = None,
    lead_org_id: Annotated[str | None, Query(max_length=100)] = None,
    ministry_id: Annotated[
        str | None, Query(max_length=100, description="The lead organization's ministry")
    ] = None,
    org_id: Annotated[
        str | None, Query(max_length=100, description="The lead or a participant")
    ] = None,
    agreement_id: Annotated[str | None, Query(max_length=100)] = None,
    sdg: Annotated[int | None, Query(ge=1, le=17)] = None,
    sector: Annotated[str | None, Query(max_length=50, pattern=r"^[^\x00]*$")] = None,
    priority: Annotated[str | None, Query(max_length=50, pattern=r"^[^\x00]*$")] = None,
    country: Annotated[
        str | None, Query(pattern="^[A-Za-z]{2}$", description="A country involved")
    ] = None,
    source: Annotated[str | None, Query(max_length=63, pattern=r"^[A-Za-z0-9._-]+$")] = None,
    external_id: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")] = None,
    start_from: Annotated[
        datetime | None, Query(description="Engagements starting at or after")
    ] = None,
    start_before: Annotated[
        datetime | None, Query(description="Engagements starting before")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=r"^[^\x00]*$",
            description="Bilingual search in titles, outcomes and reports",
        ),
    ] = None,
) -> JSONResponse:
    f = queries.EngagementFilter(
        kind=kind.value if kind else None,
        status=status.value if status else None,
        channel=channel.value if channel else None,
        visibility=visibility.value if visibility else None,
        lead_org_id=lead_org_id,
        ministry_id=ministry_id,
        org_id=org_id,
        agreement_id=agreement_id,
        sdg=sdg,
        sector=sector,
        priority=priority,
        country=country,
        source=source,
        external_id=external_id,
        start_from=_bounded(start_from, "start_from"),
        start_before=_bounded(start_before, "start_before"),
        q=q,
    )
    states, next_cursor = await queries.engagement_states(access, f, limit=limit, cursor=cursor)
    return page(states, next_cursor)


@router.get(
    "/{engagement_id}",
    response_model=EngagementOut,
    responses=problem_responses(401, 403, 404),
)
async def get_engagement(
    engagement_id: str,
    access: Access,
) -> JSONResponse:
    state = await queries.engagement_state(access, engagement_id)
    return versioned(EngagementOut, state)


@router.patch(
    "/{engagement_id}",
    response_model=EngagementOut,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 413, 415, 422, 428, 503),
    openapi_extra=merge_patch_body("EngagementPatch"),
    dependencies=[MergePatch],
)
async def update_engagement(
    engagement_id: str,
    body: EngagementPatch,
    request: Request,
    uow: Uow,
    lookups: LookupsDep,
    scope: Scope,
    if_match: IfMatch = None,
    principal: Principal = Depends(WRITE),
) -> JSONResponse:
    changes = body.model_dump(mode="json", exclude_unset=True)
    service = _service(uow, lookups, request, principal, scope)
    return _respond(await service.update(engagement_id, changes, if_match))


# --- the report --------------------------------------------------------------------------------


def _report(engagement: Engagement, status_code: int = 200) -> JSONResponse:
    state = engagement.snapshot()
    report = {**state["report"], "version": state["version"]}
    return versioned(EngagementReport, report, status_code)


@router.put(
    "/{engagement_id}/report",
    response_model=EngagementReport,
    responses={
        201: {"description": "The first report on the engagement", "model": EngagementReport},
        **problem_responses(400, 401, 403, 404, 409, 412, 413, 422, 428),
    },
    summary="File the report on a held engagement, or replace it (If-Match required then)",
)
async def put_report(
    engagement_id: str,
    body: EngagementReportIn,
    request: Request,
    uow: Uow,
    lookups: LookupsDep,
    scope: Scope,
    if_match: IfMatch = None,
    principal: Principal = Depends(WRITE),
) -> JSONResponse:
    service = _service(uow, lookups, request, principal, scope)
    attachments = [a.model_dump(mode="json") for a in body.attachments]
    engagement, first = await service.put_report(engagement_id, body.text, attachments, if_match)
    return _report(engagement, 201 if first else 200)


@router.get(
    "/{engagement_id}/report",
    response_model=EngagementReport,
    responses=problem_responses(401, 403, 404),
)
async def get_report(
    engagement_id: str,
    access: Access,
) -> JSONResponse:
    report = await queries.report_state(access, engagement_id)
    return versioned(EngagementReport, report)


# --- action items ------------------------------------------------------------------------------


@router.get(
    "/{engagement_id}/action-items",
    response_model=ActionItemPage,
    responses=problem_responses(401, 403, 404),
)
async def list_action_items(
    engagement_id: str,
    access: Access,
) -> JSONResponse:
    return page(await queries.action_item_states(access, engagement_id), None)


@router.post(
    "/{engagement_id}/action-items",
    status_code=201,
    response_model=ActionItemOut,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 413, 422, 503),
)
async def add_action_item(
    engagement_id: str,
    body: ActionItemCreate,
    request: Request,
    uow: Uow,
    lookups: LookupsDep,
    scope: Scope,
    if_match: IfMatch = None,
    principal: Principal = Depends(WRITE),
) -> JSONResponse:
    service = _service(uow, lookups, request, principal, scope)
    engagement, item = await service.add_action_item(
        engagement_id, body.model_dump(mode="json"), if_match
    )
    location = f"/v1/engagements/{engagement.id}/action-items/{item.id}"
    return _item(engagement, item, 201, location=location)


@router.get(
    "/{engagement_id}/action-items/{item_id}",
    response_model=ActionItemOut,
    responses=problem_responses(401, 403, 404),
)
async def get_action_item(
    engagement_id: str,
    item_id: str,
    access: Access,
) -> JSONResponse:
    item = await queries.action_item_state(access, engagement_id, item_id)
    return versioned(ActionItemOut, item)


@router.patch(
    "/{engagement_id}/action-items/{item_id}",
    response_model=ActionItemOut,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 413, 415, 422, 428, 503),
    openapi_extra=merge_patch_body("ActionItemPatch"),
    dependencies=[MergePatch],
)
async def update_action_item(
    engagement_id: str,
    item_id: str,
    body: ActionItemPatch,
    request: Request,
    uow: Uow,
    lookups: LookupsDep,
    scope: Scope,
    if_match: IfMatch = None,
    principal: Principal = Depends(WRITE),
) -> JSONResponse:
    service = _service(uow, lookups, request, principal, scope)
    changes = body.model_dump(mode="json", exclude_unset=True)
    engagement, item = await service.update_action_item(engagement_id, item_id, changes, if_match)
    return _item(engagement, item)


# --- ingestion ---------------------------------------------------------------------------------


async def leads_of_token(
    request: Request,
    scope: Scope,
    principal: Principal = Depends(INGEST),
) -> frozenset[str]:
    """The organizations the integration token pushes engagements for (its `orgs` claim, the
    rule in `ingest.integration_leads`)."""
    claimed = principal.claims.get(ORGS_CLAIM)
    return await integration_leads(claimed, scope, request.app.state.organization_directory)


@ingest_router.post(
    "/engagements",
    response_model=IngestReport,
    responses=problem_responses(400, 401, 403, 409, 413, 422),
    summary="Upsert up to 1,000 engagements by (source, external_id); a result per item",
    description=(
        "Each item is an engagement as its system has it, keyed by `(source, external_id)`: "
        "a new key creates the engagement, a known one brings it in line with the item "
        "(`updated`, or `unchanged` when nothing differs). Items are checked one by one: a bad "
        "item is `rejected` with its reasons and never affects the others. An `integration` "
        "token pushes engagements led by the organizations it is for: by default its own "
        "organization (`org`) and those below it; a token with an `orgs` claim (a list of at "
        "most 100 organization ids) is for the organizations listed and those below them "
        "instead. The same items may be published on the Kafka topic `engagements.ingest.v1` "
        "(ce_type `tansiq.integration.engagement.v1`, ce_source "
        "`/tansiq/integration/<source>`, key `<source>:<external_id>`)."
    ),
)
async def ingest_engagements(
    body: IngestBatch,
    request: Request,
    uow: Uow,
    lookups: LookupsDep,
    scope: Scope,
    leads: frozenset[str] = Depends(leads_of_token),
    principal: Principal = Depends(INGEST),
) -> dict[str, Any]:
    items: Any = body.items
    if not isinstance(items, list) or not items:
        raise UnprocessableEntity(
            "`items` is a list of 1 to 1,000 engagements.", slug="validation-error"
        )
    if len(items) > MAX_BATCH:
        raise UnprocessableEntity(
            f"A batch holds at most {MAX_BATCH} items; this one has {len(items)}.",
            slug="batch-too-large",
        )
    ingestion = BatchIngestion(
        uow, lookups, principal=principal, scope=scope, bearer=bearer_of(request), leads=leads
    )
    return await ingestion.run(items)


def _bounded(value: datetime | None, name: str) -> datetime | None:
    """A time filter the database can compare (naive means UTC; far years are typing errors
    that would overflow on the way to UTC)."""
    if value is None:
        return None
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise UnprocessableEntity(
            f"{name} is not between {EARLIEST_YEAR} and {LATEST_YEAR}.", slug="validation-error"
        )
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
