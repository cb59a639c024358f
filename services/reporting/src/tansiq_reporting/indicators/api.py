"""HTTP endpoints for indicators: definitions (create, read, merge-patch, archive) and their
progress against the target."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from tansiq_common.auth import OrgScope, Principal, Role, authorize
from tansiq_common.deps import (
    IfMatch,
    MergePatch,
    ReadSession,
    Scope,
    Uow,
    merge_patch_body,
    versioned,
)
from tansiq_common.pagination import DEFAULT_LIMIT, Cursor, Limit
from tansiq_common.problems import problem_responses

from tansiq_reporting.database import Reader
from tansiq_reporting.indicators import queries
from tansiq_reporting.indicators.model import Indicator, IndicatorStatus, Metric, progress
from tansiq_reporting.indicators.schemas import (
    IndicatorCreate,
    IndicatorOut,
    IndicatorPage,
    IndicatorPatch,
    IndicatorState,
)
from tansiq_reporting.indicators.service import IndicatorService
from tansiq_reporting.settings import ReportingSettings

router = APIRouter(prefix="/v1/indicators", tags=["indicators"])

READ = authorize(Role.viewer, Role.editor, Role.coordinator, Role.auditor)
MANAGE = authorize(Role.coordinator)


def get_reporting_settings(request: Request) -> ReportingSettings:
    settings: ReportingSettings = request.app.state.settings
    return settings


Settings = Annotated[ReportingSettings, Depends(get_reporting_settings)]


async def with_progress(
    session: Reader,
    indicator: Indicator,
    principal: Principal,
    scope: OrgScope,
    settings: ReportingSettings,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    values = await queries.series(session, indicator, principal, scope, now, settings.timezone)
    p = progress(indicator, values, now, at_risk_share=settings.at_risk_share)
    return {
        **indicator.snapshot(),
        "progress": {
            "as_of": p.as_of.isoformat(),
            "baseline": p.baseline_value,
            "target": p.target_value,
            "actual": p.actual,
            "percent_of_target": p.percent_of_target,
            "projected": None if p.projected is None else round(p.projected, 4),
            "status": p.standing.value if p.standing else None,
            "series": [{"year": y.year, "value": y.value} for y in p.series],
        },
    }


@router.post(
    "",
    status_code=201,
    response_model=IndicatorOut,
    responses=problem_responses(400, 401, 403, 409, 413, 422),
)
async def create_indicator(
    body: IndicatorCreate,
    uow: Uow,
    session: ReadSession,
    scope: Scope,
    settings: Settings,
    principal: Principal = Depends(MANAGE),
) -> JSONResponse:
    fields = body.model_dump(mode="json", exclude={"country"})
    indicator = await IndicatorService(uow, principal, scope).define(body.country, fields)
    state = await with_progress(session, indicator, principal, scope, settings)
    return versioned(IndicatorOut, state, 201, location=f"/v1/indicators/{indicator.id}")


@router.get("", response_model=IndicatorPage, responses=problem_responses(400, 401, 403, 422))
async def list_indicators(
    session: ReadSession,
    _: Principal = Depends(READ),
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    country: str | None = Query(None, min_length=2, max_length=2),
    metric: Metric | None = None,
    status: IndicatorStatus | None = None,
) -> dict[str, Any]:
    f = queries.IndicatorFilter(
        country=country,
        metric=metric.value if metric else None,
        status=status.value if status else None,
    )
    items, next_cursor = await queries.list_indicators(session, f, limit=limit, cursor=cursor)
    return {"items": [i.snapshot() for i in items], "next_cursor": next_cursor}


@router.get(
    "/{indicator_id}", response_model=IndicatorOut, responses=problem_responses(401, 403, 404)
)
async def get_indicator(
    indicator_id: str,
    session: ReadSession,
    scope: Scope,
    settings: Settings,
    principal: Principal = Depends(READ),
) -> JSONResponse:
    indicator = await queries.get_indicator(session, indicator_id)
    state = await with_progress(session, indicator, principal, scope, settings)
    return versioned(IndicatorOut, state)


@router.patch(
    "/{indicator_id}",
    response_model=IndicatorOut,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 415, 422, 428),
    openapi_extra=merge_patch_body("IndicatorPatch"),
    dependencies=[MergePatch],
)
async def update_indicator(
    indicator_id: str,
    body: IndicatorPatch,
    uow: Uow,
    session: ReadSession,
    scope: Scope,
    settings: Settings,
    if_match: IfMatch = None,
    principal: Principal = Depends(MANAGE),
) -> JSONResponse:
    changes = body.model_dump(mode="json", exclude_unset=True)
    indicator = await IndicatorService(uow, principal, scope).revise(
        indicator_id, changes, if_match
    )
    state = await with_progress(session, indicator, principal, scope, settings)
    return versioned(IndicatorOut, state)


@router.post(
    "/{indicator_id}/actions/archive",
    response_model=IndicatorState,
    responses=problem_responses(401, 403, 404, 409, 412),
)
async def archive_indicator(
    indicator_id: str,
    uow: Uow,
    scope: Scope,
    if_match: IfMatch = None,
    principal: Principal = Depends(MANAGE),
) -> JSONResponse:
    indicator = await IndicatorService(uow, principal, scope).archive(indicator_id, if_match)
    return versioned(IndicatorState, indicator.snapshot())
