"""HTTP endpoints for findings: the list (filters, keyset pages, CSV), one finding with its
records, and the coordinators' decisions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from tansiq_common.auth import Principal, Role, authorize
from tansiq_common.deps import IfMatch, ReadSession, Scope, Uow, versioned
from tansiq_common.pagination import DEFAULT_LIMIT, Cursor, Limit
from tansiq_common.problems import problem_responses

from tansiq_reporting.database import Reader
from tansiq_reporting.findings import queries
from tansiq_reporting.findings.model import Finding, Status
from tansiq_reporting.findings.rules import RULE_NAMES, Rule
from tansiq_reporting.findings.schemas import (
    AcceptIn,
    AcknowledgeIn,
    FindingDetail,
    FindingOut,
    FindingPage,
)
from tansiq_reporting.findings.service import FindingService
from tansiq_reporting.views.export import (
    CSV_RESPONSE,
    AcceptLanguage,
    Format,
    Lang,
    csv_response,
    language,
    wants_csv,
)

router = APIRouter(prefix="/v1/findings", tags=["findings"])

READ = authorize(Role.viewer, Role.editor, Role.coordinator, Role.auditor)
DECIDE = authorize(Role.coordinator)

OrgId = Annotated[str | None, Query(max_length=100)]


def _label(org_id: str, names: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    known = names.get(org_id)
    return {"id": org_id, **known} if known else None


def represent(state: dict[str, Any], names: dict[str, dict[str, Any]], lang: str) -> dict[str, Any]:
    """A finding's state as the API shows it: names of its ministry and partners, and its
    explanation in the language asked for (both in `translations`)."""
    rule = RULE_NAMES[Rule(state["rule"])]
    other = "ar" if lang == "en" else "en"
    return {
        **state,
        "rule_name": {"ar": rule.ar, "en": rule.en},
        "ministry": _label(state["ministry_id"], names),
        "partners": [label for p in state["partner_ids"] if (label := _label(p, names))],
        "explanation": state["explanation"].get(lang) or state["explanation"].get(other) or "",
        "resolution": state["resolution"].get(lang) or state["resolution"].get(other) or "",
        "translations": {"explanation": state["explanation"], "resolution": state["resolution"]},
        "visibility": state["access"]["visibility"],
    }


async def _named(session: Reader, items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return await queries.org_names(session, queries.names_wanted(items))


CSV_HEADER = (
    "id", "rule", "status", "ministry_id", "ministry", "country", "records", "partners",
    "explanation", "resolution", "opened_at", "resolved_at",
)  # fmt: skip


@router.get(
    "",
    response_model=FindingPage,
    responses={**CSV_RESPONSE, **problem_responses(400, 401, 403, 422)},
)
async def list_findings(
    request: Request,
    session: ReadSession,
    scope: Scope,
    principal: Principal = Depends(READ),
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    rule: Rule | None = None,
    ministry_id: OrgId = None,
    status: Status | None = None,
    partner: str | None = Query(None, max_length=100, description="An international partner's id"),
    since: datetime | None = Query(None, description="Opened at or after"),
    country: str | None = Query(None, min_length=2, max_length=2),
    record_id: str | None = Query(None, max_length=100, description="Naming this record"),
    format: Format = None,
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Any:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    f = queries.FindingFilter(
        rule=rule.value if rule else None,
        ministry_id=ministry_id,
        status=status.value if status else None,
        partner=partner,
        since=since,
        country=country,
        record_id=record_id,
    )
    items, next_cursor = await queries.list_findings(
        session, principal, scope, f, limit=limit, cursor=cursor
    )
    names = await _named(session, items)
    words = language(lang, accept_language)
    shown = [represent(item, names, words) for item in items]
    if wants_csv(request, format):
        return csv_response(
            request,
            "findings.csv",
            CSV_HEADER,
            (
                (
                    s["id"],
                    s["rule"],
                    s["status"],
                    s["ministry_id"],
                    _name(s["ministry"], words),
                    s["country"],
                    [f"{r['type']}:{r['id']}" for r in s["records"]],
                    [_name(p, words) for p in s["partners"]],
                    s["explanation"],
                    s["resolution"],
                    s["opened_at"],
                    s["resolved_at"],
                )
                for s in shown
            ),
            next_cursor,
        )
    return {"items": shown, "next_cursor": next_cursor}


def _name(label: dict[str, Any] | None, lang: str) -> str:
    if not label:
        return ""
    names = label["names"]
    return str(names.get(lang) or names.get("en") or names.get("ar") or label.get("acronym") or "")


@router.get(
    "/{finding_id}",
    response_model=FindingDetail,
    responses=problem_responses(401, 403, 404, 422),
)
async def get_finding(
    finding_id: str,
    session: ReadSession,
    scope: Scope,
    principal: Principal = Depends(READ),
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> JSONResponse:
    finding = (await queries.get_finding(session, finding_id, principal, scope)).snapshot()
    names = await _named(session, [finding])
    state = represent(finding, names, language(lang, accept_language))
    state["record_details"] = await queries.record_summaries(session, finding["records"])
    return versioned(FindingDetail, state)


async def _decided(
    session: Reader, finding: Finding, lang: str | None, accept_language: str | None
) -> JSONResponse:
    snapshot = finding.snapshot()
    names = await _named(session, [snapshot])
    return versioned(FindingOut, represent(snapshot, names, language(lang, accept_language)))


@router.post(
    "/{finding_id}/actions/acknowledge",
    response_model=FindingOut,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 422),
)
async def acknowledge(
    finding_id: str,
    session: ReadSession,
    uow: Uow,
    scope: Scope,
    body: AcknowledgeIn | None = None,
    if_match: IfMatch = None,
    principal: Principal = Depends(DECIDE),
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    await queries.get_finding(session, finding_id, principal, scope)  # hidden: 404
    finding = await FindingService(uow, principal, scope).acknowledge(finding_id, if_match)
    return await _decided(session, finding, lang, accept_language)


@router.post(
    "/{finding_id}/actions/accept",
    response_model=FindingOut,
    responses=problem_responses(400, 401, 403, 404, 409, 412, 422),
)
async def accept(
    finding_id: str,
    body: AcceptIn,
    session: ReadSession,
    uow: Uow,
    scope: Scope,
    if_match: IfMatch = None,
    principal: Principal = Depends(DECIDE),
    lang: Lang = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    await queries.get_finding(session, finding_id, principal, scope)  # hidden: 404
    finding = await FindingService(uow, principal, scope).accept(
        finding_id, body.justification, if_match
    )
    return await _decided(session, finding, lang, accept_language)
