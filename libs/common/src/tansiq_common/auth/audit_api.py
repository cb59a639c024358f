"""GET /v1/audit: the service's append-only audit trail, for auditors and coordinators.

Read-only by construction: this router has no write route, and the table refuses UPDATE and
DELETE (schema.AUDIT_APPEND_ONLY_DDL).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from tansiq_common.auth.dependencies import authorize, get_scope
from tansiq_common.auth.principal import Principal, Role
from tansiq_common.auth.scope import OrgScope, reads_audit
from tansiq_common.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, keyset_page
from tansiq_common.problems import BadRequest, Forbidden, problem_responses
from tansiq_common.schema import audit_log

router = APIRouter(tags=["audit"])

READ_AUDIT = authorize(Role.auditor, Role.coordinator)


class AuditRecord(BaseModel):
    id: int
    occurred_at: datetime
    actor_sub: str
    actor_org: str | None
    actor_roles: list[str]
    action: str
    entity_type: str
    entity_id: str
    request_id: str | None
    changed_fields: list[Any] | dict[str, Any]


@router.get(
    "/v1/audit",
    response_model=Page[AuditRecord],
    responses=problem_responses(400, 401, 403, 422),
    summary="The audit trail of this service's writes, oldest first",
)
async def list_audit(
    request: Request,
    principal: Principal = Depends(READ_AUDIT),
    scope: OrgScope = Depends(get_scope),
    entity_type: Annotated[str | None, Query(max_length=100)] = None,
    entity_id: Annotated[str | None, Query(max_length=200)] = None,
    actor_sub: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    from_: Annotated[
        datetime | None, Query(alias="from", description="occurred_at at or after")
    ] = None,
    to: Annotated[datetime | None, Query(description="occurred_at before")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[AuditRecord]:
    if not reads_audit(principal, scope):
        raise Forbidden(
            "Audit logs are for auditors and coordinators of a coordinating body.",
            slug="audit-forbidden",
        )
    if from_ is not None and to is not None and from_ > to:
        raise BadRequest("`from` is after `to`.", slug="invalid-range")
    stmt = sa.select(audit_log)
    for column, value in (
        (audit_log.c.entity_type, entity_type),
        (audit_log.c.entity_id, entity_id),
        (audit_log.c.actor_sub, actor_sub),
        (audit_log.c.action, action),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if from_ is not None:
        stmt = stmt.where(audit_log.c.occurred_at >= from_)
    if to is not None:
        stmt = stmt.where(audit_log.c.occurred_at < to)
    async with request.app.state.db.sessionmaker() as session:
        rows, next_cursor = await keyset_page(
            session, stmt, [audit_log.c.id], limit=limit, cursor=cursor
        )
    return Page[AuditRecord](
        items=[AuditRecord.model_validate(row._mapping) for row in rows], next_cursor=next_cursor
    )
