"""HTTP endpoints of the views: scorecards, the coverage matrix and freshness."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from tansiq_common.auth import Principal, Role, authorize
from tansiq_common.deps import ReadSession, Scope
from tansiq_common.pagination import DEFAULT_LIMIT, Cursor, Limit
from tansiq_common.problems import problem_responses

from tansiq_reporting import SERVICE
from tansiq_reporting.consumer import CONSUMER_NAME, TOPICS
from tansiq_reporting.findings.queries import org_names
from tansiq_reporting.settings import ReportingSettings
from tansiq_reporting.views import queries
from tansiq_reporting.views.export import CSV_RESPONSE, Format, csv_response, wants_csv
from tansiq_reporting.views.schemas import CoveragePage, Freshness, ScorecardPage

router = APIRouter(tags=["views"])

READ = authorize(Role.viewer, Role.editor, Role.coordinator, Role.auditor)

Country = Annotated[str | None, Query(min_length=2, max_length=2, description="ISO 3166-1")]
OrgId = Annotated[str | None, Query(max_length=100)]


def get_reporting_settings(request: Request) -> ReportingSettings:
    settings: ReportingSettings = request.app.state.settings
    return settings


Settings = Annotated[ReportingSettings, Depends(get_reporting_settings)]


def _names(label: dict[str, Any] | None) -> Any:
    return label["names"] if label else None


@router.get(
    "/v1/scorecards",
    response_model=ScorecardPage,
    responses={**CSV_RESPONSE, **problem_responses(400, 401, 403, 422)},
)
async def scorecards(
    request: Request,
    session: ReadSession,
    scope: Scope,
    settings: Settings,
    principal: Principal = Depends(READ),
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    country: Country = None,
    ministry_id: OrgId = None,
    until: str | None = Query(
        None, pattern=r"^(19|20|21)\d\d-(0[1-9]|1[0-2])$", description="Last month of the trend"
    ),
    months: int | None = Query(None, ge=1, le=240, description="Months of the trend"),
    format: Format = None,
) -> Any:
    last = until or queries.month_key(datetime.now(ZoneInfo(settings.timezone)).date())
    items, next_cursor = await queries.scorecards(
        session,
        principal,
        scope,
        queries.ScorecardFilter(country=country, ministry_id=ministry_id),
        until=last,
        months=months or settings.trend_months,
        limit=limit,
        cursor=cursor,
    )
    names = await org_names(session, (i["ministry_id"] for i in items))
    for item in items:
        label = names.get(item["ministry_id"])
        item["names"] = _names(label)
        item["acronym"] = label["acronym"] if label else None
    if wants_csv(request, format):
        header = (
            "ministry_id", "name_en", "name_ar", "country", "score", "records",
            "records_with_findings", *queries.RULES,
        )  # fmt: skip
        return csv_response(
            request,
            "scorecards.csv",
            header,
            (
                (
                    i["ministry_id"],
                    (i["names"] or {}).get("en"),
                    (i["names"] or {}).get("ar"),
                    i["country"],
                    i["score"],
                    i["records"],
                    i["records_with_findings"],
                    *(i["by_rule"][r] for r in queries.RULES),
                )
                for i in items
            ),
            next_cursor,
        )
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/v1/coverage",
    response_model=CoveragePage,
    responses={**CSV_RESPONSE, **problem_responses(400, 401, 403, 422)},
)
async def coverage(
    request: Request,
    session: ReadSession,
    scope: Scope,
    principal: Principal = Depends(READ),
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    country: Country = None,
    ministry_id: OrgId = None,
    partner_id: OrgId = None,
    format: Format = None,
) -> Any:
    rows, next_cursor = await queries.coverage(
        session,
        principal,
        scope,
        queries.CoverageFilter(country=country, ministry_id=ministry_id, partner_id=partner_id),
        limit=limit,
        cursor=cursor,
    )
    names = await org_names(session, {r.ministry_id for r in rows} | {r.partner_id for r in rows})
    items = [
        {
            "ministry_id": r.ministry_id,
            "ministry_names": _names(names.get(r.ministry_id)),
            "country": r.country or None,
            "partner_id": r.partner_id,
            "partner_names": _names(names.get(r.partner_id)),
            "partner_acronym": (names.get(r.partner_id) or {}).get("acronym"),
            "engagements": r.engagements,
            "agreements": r.agreements,
            "last_contact": r.last_contact,
        }
        for r in rows
    ]
    if wants_csv(request, format):
        header = (
            "ministry_id", "ministry_en", "ministry_ar", "country", "partner_id", "partner_en",
            "partner_ar", "engagements", "agreements", "last_contact",
        )  # fmt: skip
        return csv_response(
            request,
            "coverage.csv",
            header,
            (
                (
                    i["ministry_id"],
                    (i["ministry_names"] or {}).get("en"),
                    (i["ministry_names"] or {}).get("ar"),
                    i["country"],
                    i["partner_id"],
                    (i["partner_names"] or {}).get("en"),
                    (i["partner_names"] or {}).get("ar"),
                    i["engagements"],
                    i["agreements"],
                    i["last_contact"],
                )
                for i in items
            ),
            next_cursor,
        )
    return {"items": items, "next_cursor": next_cursor}


def _lag_probe(request: Request) -> queries.LagProbe:
    probe: queries.LagProbe | None = getattr(request.app.state, "reporting_lag_probe", None)
    if probe is None:
        settings: ReportingSettings = request.app.state.settings
        prefix = settings.topic_prefix
        probe = queries.LagProbe(
            settings.kafka_bootstrap_servers,
            f"{prefix}{SERVICE}.{CONSUMER_NAME}",
            [f"{prefix}{t}" for t in TOPICS],
            settings.kafka_security(),
            settings.freshness_cache_s,
        )
        request.app.state.reporting_lag_probe = probe
    return probe


@router.get("/v1/freshness", response_model=Freshness, responses=problem_responses(401, 403))
async def freshness(
    request: Request,
    session: ReadSession,
    settings: Settings,
    _: Principal = Depends(READ),
) -> dict[str, Any]:
    applied = await queries.last_applied(session)
    lag = await _lag_probe(request).lag()
    now = datetime.now(UTC)
    prefix = settings.topic_prefix
    items = []
    for topic in TOPICS:
        row = applied.get(topic)
        items.append(
            {
                "topic": topic,
                "last_event_id": row.last_event_id if row else None,
                "last_event_type": row.last_event_type if row else None,
                "last_event_time": row.last_event_time if row else None,
                "age_seconds": queries.age_seconds(row.last_event_time if row else None, now),
                "last_applied_at": row.last_applied_at if row else None,
                "events_applied": int(row.events_applied) if row else 0,
                "consumer_lag": None if lag is None else lag.get(f"{prefix}{topic}", 0),
            }
        )
    state = await queries.rebuild(session)
    return {
        "consumer": CONSUMER_NAME,
        "rebuilding": bool(state and state.rebuilding),
        "rebuild_started_at": state.started_at if state and state.rebuilding else None,
        "items": items,
    }
