"""HTTP endpoints for organizations: thin handlers over the service (writes) and the query
functions (reads)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from tansiq_common.auth import Principal, Role, authorize
from tansiq_common.deps import (
    IfMatch,
    MergePatch,
    Reads,
    Scope,
    Uow,
    merge_patch_body,
    page,
    versioned,
)
from tansiq_common.pagination import DEFAULT_LIMIT, Cursor, Limit
from tansiq_common.problems import BadRequest, problem_responses

from tansiq_registry.organizations import queries
from tansiq_registry.organizations.importer import Importer, parse_csv
from tansiq_registry.organizations.model import Designation, Kind, Organization, Status
from tansiq_registry.organizations.model import Scope as OrgKindScope
from tansiq_registry.organizations.schemas import (
    Hierarchy,
    ImportReport,
    OrganizationCreate,
    OrganizationOut,
    OrganizationPage,
    OrganizationPatch,
)
from tansiq_registry.organizations.service import OrganizationService
from tansiq_registry.settings import RegistrySettings

router = APIRouter(prefix="/v1/organizations", tags=["organizations"])

READ = authorize(
    Role.viewer, Role.editor, Role.coordinator, Role.registry_admin, Role.auditor, Role.integration
)
ADMIN = authorize(Role.registry_admin)


async def get_registry_settings(request: Request) -> RegistrySettings:
    settings: RegistrySettings = request.app.state.settings
    return settings


Settings = Annotated[RegistrySettings, Depends(get_registry_settings)]


def _service(uow: Uow, settings: RegistrySettings, scope: Any) -> OrganizationService:
    return OrganizationService(uow, settings.home_countries, scope)


def _respond(org: Organization, status_code: int = 200, **kw: Any) -> JSONResponse:
    return versioned(OrganizationOut, org.snapshot(), status_code, **kw)


@router.post(
    "",
    status_code=201,
    response_model=OrganizationOut,
    responses=problem_responses(400, 401, 403, 409, 413, 422),
)
async def create_organization(
    body: OrganizationCreate,
    uow: Uow,
    settings: Settings,
    scope: Scope,
    _: Principal = Depends(ADMIN),
) -> JSONResponse:
    org = await _service(uow, settings, scope).create(body.model_dump(mode="json"))
    return _respond(org, 201, location=f"/v1/organizations/{org.id}")


@router.get("", response_model=OrganizationPage, responses=problem_responses(400, 401, 403))
async def list_organizations(
    reads: Reads,
    _: Principal = Depends(READ),
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    kind: Kind | None = None,
    scope: OrgKindScope | None = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    parent_id: str | None = None,
    ministry_id: str | None = None,
    designation: Designation | None = None,
    status: Status | None = None,
    iati_identifier: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Bilingual search")] = None,
    include_archived: bool = False,
) -> JSONResponse:
    f = queries.OrganizationFilter(
        kind=kind.value if kind else None,
        scope=scope.value if scope else None,
        country=country,
        parent_id=parent_id,
        ministry_id=ministry_id,
        designation=designation.value if designation else None,
        status=status.value if status else None,
        iati_identifier=iati_identifier,
        q=q,
        include_archived=include_archived,
    )
    states, next_cursor = await queries.organization_states(reads, f, limit=limit, cursor=cursor)
    return page(states, next_cursor)


@router.post(
    "/import",
    response_model=ImportReport,
    responses=problem_responses(400, 401, 403, 413, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "CSV with a header row; columns as in tansiq_registry importer.",
        }
    },
)
async def import_organizations(
    request: Request, uow: Uow, settings: Settings, _: Principal = Depends(ADMIN)
) -> dict[str, Any]:
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("The file must be UTF-8 CSV.", slug="import-encoding") from None
    rows = parse_csv(text, max_rows=settings.import_max_rows)
    outcome = await Importer(uow, settings.home_countries).run(rows)
    return outcome.report()


@router.get("/{org_id}", response_model=OrganizationOut, responses=problem_responses(401, 403, 404))
async def get_organization(org_id: str, reads: Reads, _: Principal = Depends(READ)) -> JSONResponse:
    return versioned(OrganizationOut, await queries.organization_state(reads, org_id))


@router.patch(
    "/{org_id}",
    response_model=OrganizationOut,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422, 428),
    openapi_extra=merge_patch_body("OrganizationPatch"),
    dependencies=[MergePatch],
)
async def update_organization(
    org_id: str,
    body: OrganizationPatch,
    uow: Uow,
    settings: Settings,
    scope: Scope,
    if_match: IfMatch = None,
    _: Principal = Depends(ADMIN),
) -> JSONResponse:
    changes = body.model_dump(mode="json", exclude_unset=True)
    return _respond(await _service(uow, settings, scope).update(org_id, changes, if_match))


@router.post(
    "/{org_id}/actions/archive",
    response_model=OrganizationOut,
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def archive_organization(
    org_id: str,
    uow: Uow,
    settings: Settings,
    scope: Scope,
    if_match: IfMatch = None,
    _: Principal = Depends(ADMIN),
) -> JSONResponse:
    return _respond(await _service(uow, settings, scope).archive(org_id, if_match))


@router.post(
    "/{org_id}/actions/restore",
    response_model=OrganizationOut,
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def restore_organization(
    org_id: str,
    uow: Uow,
    settings: Settings,
    scope: Scope,
    if_match: IfMatch = None,
    _: Principal = Depends(ADMIN),
) -> JSONResponse:
    return _respond(await _service(uow, settings, scope).restore(org_id, if_match))


@router.get(
    "/{org_id}/hierarchy", response_model=Hierarchy, responses=problem_responses(401, 403, 404)
)
async def get_hierarchy(org_id: str, reads: Reads, _: Principal = Depends(READ)) -> dict[str, Any]:
    org = await queries.get_organization(reads, org_id)
    return await queries.hierarchy(reads, org)
