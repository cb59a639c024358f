"""HTTP endpoints for agreements: thin handlers over the service (writes) and the query
functions (reads). Role rules are the module-level `authorize(...)` constants below; who may
act on which agreement (the owner's editors, the owner's country's coordinating body) is
decided in the service."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from tansiq_common.auth import Principal, Role, authorize
from tansiq_common.codec import to_json
from tansiq_common.deps import (
    IfMatch,
    MergePatch,
    Reads,
    ReadSession,
    Scope,
    Uow,
    merge_patch_body,
    versioned,
)
from tansiq_common.etag import etag_for
from tansiq_common.pagination import DEFAULT_LIMIT, Cursor, Limit
from tansiq_common.problems import problem_responses

from tansiq_agreements.agreements import queries
from tansiq_agreements.agreements.model import (
    Agreement,
    Kind,
    Milestone,
    Status,
    Visibility,
    allowed_actions,
)
from tansiq_agreements.agreements.organizations import OrganizationLookup
from tansiq_agreements.agreements.schemas import (
    AgreementCount,
    AgreementCreate,
    AgreementOut,
    AgreementPage,
    AgreementPatch,
    ClearIn,
    EnterIntoForceIn,
    HistoryPage,
    MilestoneCreate,
    MilestoneOut,
    MilestonePage,
    MilestonePatch,
    NoBody,
    RenewIn,
    ReturnIn,
    SignIn,
    TerminateIn,
)
from tansiq_agreements.agreements.service import AgreementService

router = APIRouter(prefix="/v1/agreements", tags=["agreements"])

# Who may call what (tests/authorization/agreements.py states it as data): every government
# role reads (integration jobs too: they link engagements to agreements); editors write, for the
# organizations they act for; coordinators decide clearance, for their own country.
READ = authorize(
    Role.viewer, Role.editor, Role.coordinator, Role.registry_admin, Role.auditor, Role.integration
)
WRITE = authorize(Role.editor)
CLEARANCE = authorize(Role.coordinator)

WRITE_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 412, 413, 422, 503)
READ_ONE_PROBLEMS = problem_responses(401, 403, 404)
LIST_PROBLEMS = problem_responses(400, 401, 403, 422)

NoNul = r"^[^\x00]*$"
CodeParam = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$"


async def get_organization_lookup(request: Request) -> OrganizationLookup:
    lookup: OrganizationLookup = request.app.state.organization_lookup
    return lookup


async def bearer_token(request: Request) -> str | None:
    """The caller's own token, forwarded to the registry when the replica misses."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


Organizations = Annotated[OrganizationLookup, Depends(get_organization_lookup)]
Bearer = Annotated[str | None, Depends(bearer_token)]


def _service(
    uow: Uow, orgs: OrganizationLookup, principal: Principal, scope: Any, bearer: str | None
) -> AgreementService:
    return AgreementService(uow, orgs, principal=principal, scope=scope, bearer=bearer)


def representation(agreement: Agreement) -> dict[str, Any]:
    return with_actions(agreement.snapshot())


# The actions of each status, worked out once: a page decorates fifty states.
_ACTIONS = {status.value: tuple(allowed_actions(status)) for status in Status}


def with_actions(state: dict[str, Any]) -> dict[str, Any]:
    state["allowed_actions"] = list(_ACTIONS[state["status"]])
    return state


def _respond(agreement: Agreement, status_code: int = 200, **kw: Any) -> JSONResponse:
    return versioned(AgreementOut, representation(agreement), status_code, **kw)


def _location(agreement: Agreement) -> str:
    return f"/v1/agreements/{agreement.id}"


def _milestone(
    agreement: Agreement, milestone: Milestone, status_code: int = 200, **headers: str
) -> JSONResponse:
    body = MilestoneOut.model_validate(to_json(milestone)).model_dump(mode="json")
    return JSONResponse(body, status_code, headers={"ETag": etag_for(agreement.version), **headers})


# --- agreements ----------------------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    response_model=AgreementOut,
    responses=problem_responses(400, 401, 403, 409, 413, 422, 503),
)
async def create_agreement(
    body: AgreementCreate,
    uow: Uow,
    orgs: Organizations,
    scope: Scope,
    bearer: Bearer,
    principal: Principal = Depends(WRITE),
) -> JSONResponse:
    """A new agreement, in `draft`. The owner is a national organization the editor writes
    for; the owner and the parties must exist in the registry (and parties be active)."""
    service = _service(uow, orgs, principal, scope, bearer)
    agreement = await service.create(body.model_dump(mode="json", exclude_none=False))
    return _respond(agreement, 201, location=_location(agreement))


def _filter(
    status: list[Status] | None,
    kind: list[Kind] | None,
    owner_org_id: str | None,
    party_org_id: str | None,
    ministry_id: str | None,
    sdg: list[int] | None,
    sector: str | None,
    priority: str | None,
    expiring_before: date | None,
    signed_from: date | None,
    signed_to: date | None,
    cleared: bool | None,
    signed_uncleared: bool | None,
    visibility: Visibility | None,
    supersedes: str | None,
    q: str | None,
) -> queries.AgreementFilter:
    return queries.AgreementFilter(
        statuses=tuple(s.value for s in status or ()),
        kinds=tuple(k.value for k in kind or ()),
        owner_org_id=owner_org_id,
        party_org_id=party_org_id,
        ministry_id=ministry_id,
        sdgs=tuple(sdg or ()),
        sector=sector,
        priority=priority,
        expiring_before=expiring_before,
        signed_from=signed_from,
        signed_to=signed_to,
        cleared=cleared,
        signed_uncleared=signed_uncleared,
        visibility=visibility.value if visibility else None,
        supersedes=supersedes,
        q=q,
    )


async def agreement_filter(
    status: Annotated[list[Status] | None, Query(description="Any of these statuses")] = None,
    kind: Annotated[list[Kind] | None, Query(description="Any of these kinds")] = None,
    owner_org_id: Annotated[str | None, Query(max_length=64)] = None,
    party_org_id: Annotated[
        str | None, Query(max_length=64, description="The owner or a party")
    ] = None,
    ministry_id: Annotated[
        str | None, Query(max_length=64, description="The owner's ministry")
    ] = None,
    sdg: Annotated[
        list[Annotated[int, Query(ge=1, le=17)]] | None,
        Query(description="Carries every one of these SDG goals"),
    ] = None,
    sector: Annotated[str | None, Query(pattern=CodeParam, max_length=40)] = None,
    priority: Annotated[str | None, Query(pattern=CodeParam, max_length=40)] = None,
    expiring_before: Annotated[
        date | None, Query(description="expires_on strictly before this date")
    ] = None,
    signed_from: Annotated[date | None, Query(description="Signed on or after")] = None,
    signed_to: Annotated[date | None, Query(description="Signed on or before")] = None,
    cleared: Annotated[bool | None, Query(description="Cleared by a coordinating body")] = None,
    signed_uncleared: Annotated[bool | None, Query(description="Signed without clearance")] = None,
    visibility: Visibility | None = None,
    supersedes: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, pattern=NoNul, description="Bilingual search in titles, summaries"),
    ] = None,
) -> queries.AgreementFilter:
    return _filter(
        status,
        kind,
        owner_org_id,
        party_org_id,
        ministry_id,
        sdg,
        sector,
        priority,
        expiring_before,
        signed_from,
        signed_to,
        cleared,
        signed_uncleared,
        visibility,
        supersedes,
        q,
    )


Filter = Annotated[queries.AgreementFilter, Depends(agreement_filter)]


@router.get("", response_model=AgreementPage, responses=LIST_PROBLEMS)
async def list_agreements(
    reads: Reads,
    scope: Scope,
    f: Filter,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    principal: Principal = Depends(READ),
) -> JSONResponse:
    """The agreements the caller may see, oldest first, with filters and bilingual `q`."""
    found, next_cursor = await queries.agreement_states(
        reads, f, principal, scope, limit=limit, cursor=cursor
    )
    # The states are JSON-ready and shaped as documented (AgreementPage): written as they are,
    # exactly as GET by id writes one.
    items = [with_actions(state) for state in found]
    return JSONResponse({"items": items, "next_cursor": next_cursor})


@router.get("/count", response_model=AgreementCount, responses=LIST_PROBLEMS)
async def count_agreements(
    reads: Reads, scope: Scope, f: Filter, principal: Principal = Depends(READ)
) -> dict[str, Any]:
    """How many agreements match the filters, of those the caller may see."""
    return {"count": await queries.count_agreements(reads, f, principal, scope)}


@router.get("/{agreement_id}", response_model=AgreementOut, responses=READ_ONE_PROBLEMS)
async def get_agreement(
    agreement_id: str, reads: Reads, scope: Scope, principal: Principal = Depends(READ)
) -> JSONResponse:
    state = await queries.agreement_state(reads, agreement_id, principal, scope)
    return versioned(AgreementOut, with_actions(state))


@router.patch(
    "/{agreement_id}",
    response_model=AgreementOut,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 413, 415, 422, 428, 503),
    openapi_extra=merge_patch_body("AgreementPatch"),
    dependencies=[MergePatch],
)
async def update_agreement(
    agreement_id: str,
    body: AgreementPatch,
    uow: Uow,
    orgs: Organizations,
    scope: Scope,
    bearer: Bearer,
    if_match: IfMatch = None,
    principal: Principal = Depends(WRITE),
) -> JSONResponse:
    changes = body.model_dump(mode="json", exclude_unset=True)
    service = _service(uow, orgs, principal, scope, bearer)
    return _respond(await service.update(agreement_id, changes, if_match))


@router.get(
    "/{agreement_id}/history",
    response_model=HistoryPage,
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def get_history(
    agreement_id: str,
    session: ReadSession,
    scope: Scope,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    principal: Principal = Depends(READ),
) -> dict[str, Any]:
    """Every version of the agreement, oldest first: who, when, which transition (and what it
    was given) or which fields."""
    items, next_cursor = await queries.history(
        session, agreement_id, principal, scope, limit=limit, cursor=cursor
    )
    return {"items": items, "next_cursor": next_cursor}


# --- lifecycle actions ---------------------------------------------------------------------------


@router.post(
    "/{agreement_id}/actions/submit", response_model=AgreementOut, responses=WRITE_PROBLEMS
)
async def submit_agreement(
    agreement_id: str,
    uow: Uow,
    orgs: Organizations,
    scope: Scope,
    bearer: Bearer,
    body: NoBody | None = None,
    if_match: IfMatch = None,
    principal: Principal = Depends(WRITE),
) -> JSONResponse:
    """Submit a draft (or a returned agreement) to the coordinating body for clearance."""
    service = _service(uow, orgs, principal, scope, bearer)
    return _respond(await service.submit(agreement_id, if_match))


@router.post("/{agreement_id}/actions/clear", response_model=AgreementOut, responses=WRITE_PROBLEMS)
async def clear_agreement(
    agreement_id: str,
    uow: Uow,
    orgs: Organizations,
    scope: Scope,
    bearer: Bearer,
    body: ClearIn | None = None,
    if_match: IfMatch = None,
    principal: Principal = Depends(CLEARANCE),
) -> JSONResponse:
    """Clear a submitted agreement, with conditions if any. Coordinators of a coordinating body
    of the owner's country only."""
    given = body or ClearIn()
    service = _service(uow, orgs, principal, scope, bearer)
    agreement = await service.clear(
        agreement_id, if_match, conditions=given.conditions, comments=given.comments
    )
    return _respond(agreement)


@router.post(
    "/{agreement_id}/actions/return", response_model=AgreementOut, responses=WRITE_PROBLEMS
)
async def return_agreement(
    agreement_id: str,
    body: ReturnIn,
    uow: Uow,
    orgs: Organizations,
    scope: Scope,
    bearer: Bearer,
    if_match: IfMatch = None,
    principal: Principal = Depends(CLEARANCE),
) -> JSONResponse:
    """Return a submitted agreement to its owner with comments. Coordinators of a coordinating
    body of the owner's country only."""
    service = _service(uow, orgs, principal, scope, bearer)
    return _respond(await service.return_(agreement_id, if_match, comments=body.comments))


@router.post("/{agreement_id}/actions/sign", response_model=AgreementOut, responses=WRITE_PROBLEMS)
async def sign_agreement(
    agreement_id: str,
    body: SignIn,
    uow: Uow,
    orgs: Organizations,
    scope: Scope,
    bearer: Bearer,
    if_match: IfMatch = None,
    principal: Principal = Depends(WRITE),
) -> JSONResponse:
    """Record the signature. Allowed before clearance too: it is then recorded as signed
    without clearance (`signed_uncleared`)."""
    service = _service(uow, orgs, principal, scope, bearer)
    return _respond(await service.sign(agreement_id, if_match, signed_on=body.signed_on))


@router.post(
    "/{agreement_id}/actions/enter-into-force",
    response_model=AgreementOut,
    responses=WRITE_PROBLEMS,
)
async def enter_into_force(
    agreement_id: str,
    uow: Uow,
    orgs: Organizations,
    scope: Scope,
    bearer: Bearer,
    body: EnterIntoForceIn | None = None,
    if_match: IfMatch = None,
    principal: Principal = Depends(WRITE),
) -> JSONResponse:
    service = _service(uow, orgs, principal, scope, bearer)
    effective_from = body.effective_from if body else None
    return _respond(
        await service.enter_into_force(agreement_id, if_match, effective_from=effective_from)
    )


@router.post(
    "/{agreement_id}/actions/terminate", response_model=AgreementOut, responses=WRITE_PROBLEMS
)
async def terminate_agreement(
    agreement_id: str,
    body: TerminateIn,
    uow: Uow,
    orgs: Organizations,
    scope: Scope,
    bearer: Bearer,
    if_match: IfMatch = None,
    principal: Principal = Depends(WRITE),
) -> JSONResponse:
    """End the agreement early (or abandon a draft), with the reason."""
    service = _service(uow, orgs, principal, scope, bearer)
    agreement = await service.terminate(
        agreement_id, if_match, reason=body.reason, terminated_on=body.terminated_on
    )
    return _respond(agreement)


@router.post(
    "/{agreement_id}/actions/expire", response_model=AgreementOut, responses=WRITE_PROBLEMS
)
async def expire_agreement(
    agreement_id: str,
    uow: Uow,
    orgs: Organizations,
    scope: Scope,
    bearer: Bearer,
    body: NoBody | None = None,
    if_match: IfMatch = None,
    principal: Principal = Depends(WRITE),
) -> JSONResponse:
    """Record that it expired (once `expires_on` has passed; a job does it every hour)."""
    service = _service(uow, orgs, principal, scope, bearer)
    return _respond(await service.expire(agreement_id, if_match))


@router.post(
    "/{agreement_id}/actions/renew",
    status_code=201,
    response_model=AgreementOut,
    responses=WRITE_PROBLEMS,
)
async def renew_agreement(
    agreement_id: str,
    uow: Uow,
    orgs: Organizations,
    scope: Scope,
    bearer: Bearer,
    body: RenewIn | None = None,
    if_match: IfMatch = None,
    principal: Principal = Depends(WRITE),
) -> JSONResponse:
    """Create the successor: a new draft that `supersedes` this agreement, with the changes
    given (new dates, typically). Answers the successor."""
    changes = body.model_dump(mode="json", exclude_unset=True) if body else {}
    service = _service(uow, orgs, principal, scope, bearer)
    successor = await service.renew(agreement_id, if_match, changes)
    return _respond(successor, 201, location=_location(successor))


# --- milestones ----------------------------------------------------------------------------------


@router.get("/{agreement_id}/milestones", response_model=MilestonePage, responses=READ_ONE_PROBLEMS)
async def list_milestones(
    agreement_id: str, reads: Reads, scope: Scope, principal: Principal = Depends(READ)
) -> dict[str, Any]:
    """The agreement's milestones and obligations, by due date (at most 200: one page)."""
    _, _, milestones = await queries.milestone_states(reads, agreement_id, principal, scope)
    return {"items": milestones, "next_cursor": None}


@router.post(
    "/{agreement_id}/milestones",
    status_code=201,
    response_model=MilestoneOut,
    responses=WRITE_PROBLEMS,
)
async def add_milestone(
    agreement_id: str,
    body: MilestoneCreate,
    uow: Uow,
    orgs: Organizations,
    scope: Scope,
    bearer: Bearer,
    if_match: IfMatch = None,
    principal: Principal = Depends(WRITE),
) -> JSONResponse:
    """Add a milestone or obligation; the answer's ETag is the agreement's new version."""
    service = _service(uow, orgs, principal, scope, bearer)
    agreement, milestone = await service.add_milestone(
        agreement_id, body.model_dump(mode="json"), if_match
    )
    location = f"/v1/agreements/{agreement.id}/milestones/{milestone.id}"
    return _milestone(agreement, milestone, 201, Location=location)


@router.get(
    "/{agreement_id}/milestones/{milestone_id}",
    response_model=MilestoneOut,
    responses=READ_ONE_PROBLEMS,
)
async def get_milestone(
    agreement_id: str,
    milestone_id: str,
    reads: Reads,
    scope: Scope,
    principal: Principal = Depends(READ),
) -> JSONResponse:
    version, milestone = await queries.milestone_state(
        reads, agreement_id, milestone_id, principal, scope
    )
    body = MilestoneOut.model_validate(milestone).model_dump(mode="json")
    return JSONResponse(body, headers={"ETag": etag_for(version)})


@router.patch(
    "/{agreement_id}/milestones/{milestone_id}",
    response_model=MilestoneOut,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 413, 415, 422, 428, 503),
    openapi_extra=merge_patch_body("MilestonePatch"),
    dependencies=[MergePatch],
)
async def update_milestone(
    agreement_id: str,
    milestone_id: str,
    body: MilestonePatch,
    uow: Uow,
    orgs: Organizations,
    scope: Scope,
    bearer: Bearer,
    if_match: IfMatch = None,
    principal: Principal = Depends(WRITE),
) -> JSONResponse:
    """Change a milestone (its status, typically); If-Match is the agreement's ETag."""
    changes = body.model_dump(mode="json", exclude_unset=True)
    service = _service(uow, orgs, principal, scope, bearer)
    agreement, milestone = await service.update_milestone(
        agreement_id, milestone_id, changes, if_match
    )
    return _milestone(agreement, milestone)
