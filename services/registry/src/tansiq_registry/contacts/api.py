"""HTTP endpoints for focal points: thin handlers over the contact service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from tansiq_common.auth import Principal, Role, authorize
from tansiq_common.deps import IfMatch, Scope, Uow, versioned
from tansiq_common.problems import problem_responses

from tansiq_registry.contacts.schemas import ContactIn, ContactOut
from tansiq_registry.contacts.service import ContactService

router = APIRouter(prefix="/v1/organizations/{org_id}/contacts", tags=["contacts"])

# Focal points are personal data: government users only, not machine integrations.
READ_CONTACTS = authorize(
    Role.viewer, Role.editor, Role.coordinator, Role.registry_admin, Role.auditor
)
WRITE_CONTACTS = authorize(Role.registry_admin, Role.editor)


@router.get("", response_model=list[ContactOut], responses=problem_responses(401, 403, 404))
async def list_contacts(
    org_id: str, uow: Uow, scope: Scope, principal: Principal = Depends(READ_CONTACTS)
) -> list[dict[str, Any]]:
    return await ContactService(uow, principal, scope).list(org_id)


@router.post(
    "", status_code=201, response_model=ContactOut, responses=problem_responses(401, 403, 404, 422)
)
async def add_contact(
    org_id: str,
    body: ContactIn,
    uow: Uow,
    scope: Scope,
    principal: Principal = Depends(WRITE_CONTACTS),
) -> JSONResponse:
    contact = await ContactService(uow, principal, scope).add(org_id, body.model_dump())
    location = f"/v1/organizations/{contact['org_id']}/contacts/{contact['id']}"
    return versioned(ContactOut, contact, 201, location=location)


@router.get("/{contact_id}", response_model=ContactOut, responses=problem_responses(401, 403, 404))
async def get_contact(
    org_id: str,
    contact_id: str,
    uow: Uow,
    scope: Scope,
    principal: Principal = Depends(READ_CONTACTS),
) -> JSONResponse:
    contact = await ContactService(uow, principal, scope).get(org_id, contact_id)
    return versioned(ContactOut, contact)


@router.put(
    "/{contact_id}",
    response_model=ContactOut,
    responses=problem_responses(401, 403, 404, 412, 422, 428),
)
async def replace_contact(
    org_id: str,
    contact_id: str,
    body: ContactIn,
    uow: Uow,
    scope: Scope,
    if_match: IfMatch = None,
    principal: Principal = Depends(WRITE_CONTACTS),
) -> JSONResponse:
    service = ContactService(uow, principal, scope)
    contact = await service.replace(org_id, contact_id, body.model_dump(), if_match)
    return versioned(ContactOut, contact)


@router.delete("/{contact_id}", status_code=204, responses=problem_responses(401, 403, 404))
async def remove_contact(
    org_id: str,
    contact_id: str,
    uow: Uow,
    scope: Scope,
    principal: Principal = Depends(WRITE_CONTACTS),
) -> Response:
    await ContactService(uow, principal, scope).remove(org_id, contact_id)
    return Response(status_code=204)
