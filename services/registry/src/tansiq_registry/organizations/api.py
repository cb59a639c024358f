"""HTTP endpoints for organizations: thin handlers over the service layer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from tansiq_common.auth import OrgScope, Principal, Role, authorize, get_scope
from tansiq_common.etag import etag_for
from tansiq_common.pagination import DEFAULT_LIMIT, Cursor, Limit
from tansiq_common.problems import BadRequest, Problem, problem_responses
from tansiq_common.uow import UnitOfWork

from tansiq_registry.organizations import contacts as contact_service
from tansiq_registry.organizations import queries
from tansiq_registry.organizations.contacts import ContactIn, ContactOut
from tansiq_registry.organizations.importer import Importer, parse_csv
from tansiq_registry.organizations.model import Designation, Kind, Organization, Scope, Status
from tansiq_registry.organizations.repository import OrganizationRepository
from tansiq_registry.organizations.schemas import (
    Hierarchy,
    ImportReport,
    OrganizationCreate,
    OrganizationOut,
    OrganizationPage,
    OrganizationPatch,
)
from tansiq_registry.organizations.service import OrganizationService, load
from tansiq_registry.settings import RegistrySettings

router = APIRouter(prefix="/v1/organizations", tags=["organizations"])

READ = authorize(
    Role.viewer, Role.editor, Role.coordinator, Role.registry_admin, Role.auditor, Role.integration
)
# Focal points are personal data: government users only, not machine integrations.
READ_CONTACTS = authorize(
    Role.viewer, Role.editor, Role.coordinator, Role.registry_admin, Role.auditor
)
ADMIN = authorize(Role.registry_admin)
WRITE_CONTACTS = authorize(Role.registry_admin, Role.editor)

IfMatch = Annotated[str | None, Header(alias="If-Match")]


class UnsupportedMediaType(Problem):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


MERGE_PATCH_TYPES = ("application/merge-patch+json", "application/json")


def merge_patch_content(request: Request) -> None:
    """PATCH bodies are JSON merge patches; any other media type is refused, not guessed at."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in MERGE_PATCH_TYPES:
        raise UnsupportedMediaType(
            "Send the changes as application/merge-patch+json (or application/json).",
            headers={"Accept-Patch": ", ".join(MERGE_PATCH_TYPES)},
        )


def settings_of(request: Request) -> RegistrySettings:
    settings: RegistrySettings = request.app.state.settings
    return settings


def uow_for(request: Request, principal: Principal) -> UnitOfWork:
    return UnitOfWork(request.app.state.db.sessionmaker, actor=principal)


def service_for(request: Request, principal: Principal) -> OrganizationService:
    return OrganizationService(uow_for(request, principal), settings_of(request).home_countries)


def _respond(org: Organization, status_code: int = 200, **headers: str) -> JSONResponse:
    body = OrganizationOut.model_validate(org.snapshot()).model_dump(mode="json")
    return JSONResponse(body, status_code, headers={"ETag": etag_for(org.version), **headers})


@router.post(
    "",
    status_code=201,
    response_model=OrganizationOut,
    responses=problem_responses(400, 401, 403, 409, 413, 422),
)
async def create_organization(
    body: OrganizationCreate, request: Request, principal: Principal = Depends(ADMIN)
) -> JSONResponse:
    org = await service_for(request, principal).create(body.model_dump(mode="json"))
    return _respond(org, 201, Location=f"/v1/organizations/{org.id}")


@router.get("", response_model=OrganizationPage, responses=problem_responses(400, 401, 403))
async def list_organizations(
    request: Request,
    principal: Principal = Depends(READ),
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    kind: Kind | None = None,
    scope: Scope | None = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    parent_id: str | None = None,
    ministry_id: str | None = None,
    designation: Designation | None = None,
    status: Status | None = None,
    iati_identifier: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Bilingual search")] = None,
    include_archived: bool = False,
) -> dict[str, Any]:
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
    async with request.app.state.db.sessionmaker() as session:
        orgs, next_cursor = await queries.list_organizations(session, f, limit=limit, cursor=cursor)
    return {"items": [o.snapshot() for o in orgs], "next_cursor": next_cursor}


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
    request: Request, principal: Principal = Depends(ADMIN)
) -> dict[str, Any]:
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("The file must be UTF-8 CSV.", slug="import-encoding") from None
    settings = settings_of(request)
    rows = parse_csv(text, max_rows=settings.import_max_rows)
    outcome = await Importer(uow_for(request, principal), settings.home_countries).run(rows)
    return outcome.report()


@router.get("/{org_id}", response_model=OrganizationOut, responses=problem_responses(401, 403, 404))
async def get_organization(
    org_id: str, request: Request, principal: Principal = Depends(READ)
) -> JSONResponse:
    # Archived organizations stay resolvable: other services' records still point at them.
    async with request.app.state.db.sessionmaker() as session:
        org = await load(OrganizationRepository(session), org_id)
    return _respond(org)


@router.patch(
    "/{org_id}",
    response_model=OrganizationOut,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422, 428),
    openapi_extra={
        "requestBody": {
            "content": {
                "application/merge-patch+json": {
                    "schema": {"$ref": "#/components/schemas/OrganizationPatch"}
                }
            }
        }
    },
)
async def update_organization(
    org_id: str,
    body: OrganizationPatch,
    request: Request,
    if_match: IfMatch = None,
    principal: Principal = Depends(ADMIN),
    # After the caller is known: an anonymous caller hears 401, not 415.
    _: None = Depends(merge_patch_content),
) -> JSONResponse:
    changes = body.model_dump(mode="json", exclude_unset=True)
    org = await service_for(request, principal).update(org_id, changes, if_match)
    return _respond(org)


@router.post(
    "/{org_id}/actions/archive",
    response_model=OrganizationOut,
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def archive_organization(
    org_id: str, request: Request, if_match: IfMatch = None, principal: Principal = Depends(ADMIN)
) -> JSONResponse:
    return _respond(await service_for(request, principal).archive(org_id, if_match))


@router.post(
    "/{org_id}/actions/restore",
    response_model=OrganizationOut,
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def restore_organization(
    org_id: str, request: Request, if_match: IfMatch = None, principal: Principal = Depends(ADMIN)
) -> JSONResponse:
    return _respond(await service_for(request, principal).restore(org_id, if_match))


@router.get(
    "/{org_id}/hierarchy", response_model=Hierarchy, responses=problem_responses(401, 403, 404)
)
async def get_hierarchy(
    org_id: str, request: Request, principal: Principal = Depends(READ)
) -> dict[str, Any]:
    async with request.app.state.db.sessionmaker() as session:
        org = await load(OrganizationRepository(session), org_id)
        return await queries.hierarchy(session, org)


# --- focal points ------------------------------------------------------------------------------


@router.get(
    "/{org_id}/contacts",
    response_model=list[ContactOut],
    responses=problem_responses(401, 403, 404),
)
async def list_contacts(
    org_id: str, request: Request, principal: Principal = Depends(READ_CONTACTS)
) -> list[dict[str, Any]]:
    return await contact_service.list_contacts(uow_for(request, principal), org_id)


def _contact_response(
    contact: dict[str, Any], status_code: int = 200, **headers: str
) -> JSONResponse:
    return JSONResponse(
        contact, status_code, headers={"ETag": etag_for(contact["version"]), **headers}
    )


@router.post(
    "/{org_id}/contacts",
    status_code=201,
    response_model=ContactOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def add_contact(
    org_id: str,
    body: ContactIn,
    request: Request,
    principal: Principal = Depends(WRITE_CONTACTS),
    scope: OrgScope = Depends(get_scope),
) -> JSONResponse:
    contact = await contact_service.add_contact(
        uow_for(request, principal), scope, org_id, body.model_dump()
    )
    location = f"/v1/organizations/{contact['org_id']}/contacts/{contact['id']}"
    return _contact_response(contact, 201, Location=location)


@router.get(
    "/{org_id}/contacts/{contact_id}",
    response_model=ContactOut,
    responses=problem_responses(401, 403, 404),
)
async def get_contact(
    org_id: str, contact_id: str, request: Request, principal: Principal = Depends(READ_CONTACTS)
) -> JSONResponse:
    contact = await contact_service.get_contact(uow_for(request, principal), org_id, contact_id)
    return _contact_response(contact)


@router.put(
    "/{org_id}/contacts/{contact_id}",
    response_model=ContactOut,
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
async def replace_contact(
    org_id: str,
    contact_id: str,
    body: ContactIn,
    request: Request,
    if_match: IfMatch = None,
    principal: Principal = Depends(WRITE_CONTACTS),
    scope: OrgScope = Depends(get_scope),
) -> JSONResponse:
    contact = await contact_service.replace_contact(
        uow_for(request, principal), scope, org_id, contact_id, body.model_dump(), if_match
    )
    return _contact_response(contact)


@router.delete(
    "/{org_id}/contacts/{contact_id}",
    status_code=204,
    responses=problem_responses(401, 403, 404),
)
async def remove_contact(
    org_id: str,
    contact_id: str,
    request: Request,
    principal: Principal = Depends(WRITE_CONTACTS),
    scope: OrgScope = Depends(get_scope),
) -> Response:
    await contact_service.remove_contact(uow_for(request, principal), scope, org_id, contact_id)
    return Response(status_code=204)
