"""Who may call each reporting route, as data (see model.py).

Callers: the coordinator belongs to Qatar's coordinating body (the ICD); every other role to
Qatar's Ministry of Education. Targets: a finding on an agreement owned by the caller's
organization (`own`), by another Qatari ministry (`same_country`), by a Syrian ministry
(`other_country`); an indicator of Qatar's results framework (`own`, `same_country`) or of
Syria's (`other_country`).

The rules, from the design (§3, §6): government users read the views (scorecards, findings,
coverage, indicators, freshness), as JSON and as CSV; integration jobs and registry
administrators have no part in them. A finding is a country's coordination record: every reader
reads their own country's findings only (a global auditor, of no organization of the registry,
every country's), and a coordinator of a coordinating body decides on them and manages the
indicators of their own country. Coordinators and auditors read
the audit trail. The dashboard's pages and assets are public (their data comes from the API
with the user's token), and so, in development only, are its token-minting routes.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from tansiq_common.auth import Role
from tansiq_common.auth.directory import apply_organization_event
from tansiq_common.domain import event_type
from tansiq_common.events.contracts import AGREEMENT_TOPIC, ENGAGEMENT_TOPIC, ORGANIZATION_TOPIC
from tansiq_common.events.envelope import Envelope
from tansiq_common.uow import SystemActor, UnitOfWork
from tansiq_reporting.consumer import ReportingHandlers
from tansiq_reporting.findings.rules import RuleParameters
from tansiq_reporting.findings.schedule import scheduled_pass
from tansiq_reporting.findings.tables import findings
from tansiq_reporting.indicators.model import Indicator
from tansiq_reporting.indicators.service import IndicatorService

from .model import ALL, ORGANIZATIONS, Call, Outcome, Route, ServiceWorld, Target

READERS = frozenset({Role.viewer, Role.editor, Role.coordinator, Role.auditor})
COORDINATOR = frozenset({Role.coordinator})
NOT_MANAGING = "not-indicators-coordinator"
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
NATIONAL_KINDS = {"ministry", "directorate", "agency", "public_foundation", "centre"}
SOURCES = {
    ORGANIZATION_TOPIC: ("/tansiq/registry", "organization"),
    AGREEMENT_TOPIC: ("/tansiq/agreements", "agreement"),
    ENGAGEMENT_TOPIC: ("/tansiq/engagements", "engagement"),
}


def _envelope(topic: str, name: str, state: dict[str, Any]) -> Envelope:
    """An event as the owning service publishes it (full state, CloudEvents attributes)."""
    source, aggregate = SOURCES[topic]
    return Envelope(
        id=str(uuid.uuid4()),
        type=event_type(topic, aggregate, name),
        source=source,
        subject=state["id"],
        time=datetime.now(UTC),
        topic=topic,
        partition=0,
        offset=0,
        data=json.loads(json.dumps(state)),
        headers={},
    )


class World(ServiceWorld):
    """The organizations, agreements and engagements as reporting's consumers apply them, and a
    fresh finding or indicator made for each call."""

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self.handlers = ReportingHandlers()
        self.now = datetime.now(UTC)

    async def load(self) -> None:
        self.ids = {key: str(uuid.uuid4()) for key in ORGANIZATIONS}
        for key in ORGANIZATIONS:  # parents before their children
            await self._apply(ORGANIZATION_TOPIC, self._organization(key))
        for key in ("qa-mehe", "qa-moph", "sy-mlae"):
            await self.engagement(self.ids[key])
        await self.finding(self.ids["qa-mehe"])

    def country(self, target: Target) -> str:
        return "SY" if target == "other_country" else "QA"

    def _ministry(self, key: str) -> str | None:
        org = ORGANIZATIONS[key]
        if org.country is None:
            return None
        return self._ministry(org.parent) if org.parent else self.ids[key]

    def _organization(self, key: str) -> dict[str, Any]:
        org = ORGANIZATIONS[key]
        national = org.kind in NATIONAL_KINDS and org.country is not None
        return {
            "id": self.ids[key],
            "kind": org.kind,
            "names": {"ar": None, "en": key},
            "acronym": key.upper(),
            "country": org.country,
            "parent_id": self.ids[org.parent] if org.parent else None,
            "ministry_id": self._ministry(key),
            "scope": "national" if national else "international",
            "iati_identifier": None,
            "iati_org_type": 10 if national else 40,
            "website": None,
            "reporting_lines": [],
            "designations": ["coordinating_body"] if org.coordinating_body else [],
            "status": "active",
            "source_key": None,
            "version": 1,
            "created_at": self.now.isoformat(),
            "updated_at": self.now.isoformat(),
        }

    async def _apply(self, topic: str, state: dict[str, Any]) -> None:
        """What the consumers do with the event, then what the evaluator does once woken."""
        envelope = _envelope(topic, "created", state)
        handler = {
            ORGANIZATION_TOPIC: self.handlers.organization,
            AGREEMENT_TOPIC: self.handlers.agreement,
            ENGAGEMENT_TOPIC: self.handlers.engagement,
        }[topic]
        async with self.db.sessionmaker() as session, session.begin():
            await handler(session, envelope)
            if topic == ORGANIZATION_TOPIC:
                await apply_organization_event(session, envelope)
        await scheduled_pass(self.db.sessionmaker, RuleParameters(), self.now)

    def _country_of(self, org_id: str) -> str | None:
        key = next(k for k, v in self.ids.items() if v == org_id)
        return ORGANIZATIONS[key].country

    async def finding(self, owner: str) -> str:
        """An open C1 finding: an agreement with UNESCO signed without clearance."""
        agreement_id = str(uuid.uuid4())
        country = self._country_of(owner)
        await self._apply(
            AGREEMENT_TOPIC,
            {
                "id": agreement_id,
                "kind": "cooperation_agreement",
                "title": {"ar": "اتفاقية تعاون", "en": f"Cooperation {agreement_id[:6]}"},
                "summary": {"ar": None, "en": None},
                "owner_org_id": owner,
                "owner_ministry_id": None,
                "owner_country": country,
                "parties": [
                    {"org_id": owner, "role": "signatory"},
                    {"org_id": self.ids["unesco"], "role": "signatory"},
                ],
                "themes": {"sdgs": [4], "sectors": [], "priorities": []},
                "signed_on": "2024-03-01",
                "effective_from": "2024-01-01",
                "expires_on": "2030-12-31",
                "funding": [],
                "milestones": [],
                "visibility": "interagency",
                "status": "signed",
                "clearance": None,
                "cleared": False,
                "signed_uncleared": True,
                "supersedes": None,
                "superseded_by": None,
                "termination": None,
                "countries": [country],
                "source_key": None,
                "version": 1,
                "created_at": self.now.isoformat(),
                "updated_at": self.now.isoformat(),
            },
        )
        async with self.db.engine.connect() as conn:
            found = await conn.scalar(
                sa.select(findings.c.id).where(
                    findings.c.rule == "C1", findings.c.anchor_id == agreement_id
                )
            )
        assert found is not None, f"no C1 finding on agreement {agreement_id}"
        return str(found)

    async def engagement(self, lead: str) -> None:
        """A held meeting with UNESCO: a cell of the coverage matrix."""
        country = self._country_of(lead)
        engagement_id = str(uuid.uuid4())
        await self._apply(
            ENGAGEMENT_TOPIC,
            {
                "id": engagement_id,
                "kind": "meeting",
                "title": {"en": "Consultation", "ar": "اجتماع"},
                "start": "2025-03-10T09:00:00+03:00",
                "end": "2025-03-10T12:00:00+03:00",
                "location": {"city": "Doha", "country": country, "virtual": False},
                "lead_org_id": lead,
                "lead_ministry_id": None,
                "lead_country": country,
                "participants": [
                    {"org_id": lead, "role": "host"},
                    {"org_id": self.ids["unesco"], "role": "participant"},
                ],
                "attendees": {"total": 10, "nationals": 5, "nationals_trained": 0},
                "agreement_ids": [],
                "related_engagement_ids": [],
                "themes": {"sdgs": [4], "sectors": [], "priorities": []},
                "channel": "via_coordinating_body",
                "coordinating_body_notified_at": None,
                "status": "held",
                "visibility": "interagency",
                "report_due_on": None,
                "outcome": None,
                "report": None,
                "action_items": [],
                "countries": [country],
                "source": "manual",
                "external_id": None,
                "version": 1,
                "created_at": self.now.isoformat(),
                "updated_at": self.now.isoformat(),
            },
        )

    def indicator_body(self, country: str) -> dict[str, Any]:
        return {
            "country": country,
            "name": {"en": f"Agreements signed {uuid.uuid4().hex[:6]}", "ar": "اتفاقيات موقعة"},
            "metric": "agreements_signed",
            "baseline": {"year": 2020, "value": 0},
            "target": {"deadline": "2030-12-31", "value": 12},
        }

    async def indicator(self, target: Target) -> Indicator:
        """A new indicator of the target's country, defined by the system itself."""
        body = self.indicator_body(self.country(target))
        service = IndicatorService(UnitOfWork(self.db.sessionmaker, actor=SystemActor()))
        return await service.define(body.pop("country"), body)


# --- findings ----------------------------------------------------------------------------------


async def _findings(w: World, role: Role, t: Target) -> Call:
    await w.finding(w.target(role, t))
    return Call("GET", "/v1/findings?limit=5&rule=C1&status=open")


async def _findings_csv(w: World, role: Role, t: Target) -> Call:
    await w.finding(w.target(role, t))
    return Call("GET", "/v1/findings?limit=5&format=csv")


async def _finding(w: World, role: Role, t: Target) -> Call:
    return Call("GET", f"/v1/findings/{await w.finding(w.target(role, t))}")


async def _acknowledge(w: World, role: Role, t: Target) -> Call:
    finding = await w.finding(w.target(role, t))
    return Call("POST", f"/v1/findings/{finding}/actions/acknowledge")


async def _accept(w: World, role: Role, t: Target) -> Call:
    finding = await w.finding(w.target(role, t))
    return Call(
        "POST",
        f"/v1/findings/{finding}/actions/accept",
        json={"justification": "Signed at the summit, cleared verbally by the ICD"},
    )


# --- views -------------------------------------------------------------------------------------


async def _scorecards(w: World, role: Role, t: Target) -> Call:
    return Call("GET", "/v1/scorecards?limit=5")


async def _scorecards_csv(w: World, role: Role, t: Target) -> Call:
    return Call("GET", "/v1/scorecards?limit=5&format=csv")


async def _coverage(w: World, role: Role, t: Target) -> Call:
    return Call("GET", f"/v1/coverage?limit=5&partner_id={w.ids['unesco']}")


async def _coverage_csv(w: World, role: Role, t: Target) -> Call:
    return Call("GET", "/v1/coverage?limit=5", headers={"Accept": "text/csv"})


async def _freshness(w: World, role: Role, t: Target) -> Call:
    return Call("GET", "/v1/freshness")


# --- indicators --------------------------------------------------------------------------------


async def _indicators(w: World, role: Role, t: Target) -> Call:
    await w.indicator(t)
    return Call("GET", "/v1/indicators?limit=5")


async def _define(w: World, role: Role, t: Target) -> Call:
    return Call("POST", "/v1/indicators", json=w.indicator_body(w.country(t)))


async def _indicator(w: World, role: Role, t: Target) -> Call:
    return Call("GET", f"/v1/indicators/{(await w.indicator(t)).id}")


async def _revise(w: World, role: Role, t: Target) -> Call:
    made = await w.indicator(t)
    return Call(
        "PATCH",
        f"/v1/indicators/{made.id}",
        json={"target": {"deadline": "2030-12-31", "value": 15}},
        headers={"If-Match": f'"{made.version}"', **MERGE_PATCH},
    )


async def _archive(w: World, role: Role, t: Target) -> Call:
    return Call("POST", f"/v1/indicators/{(await w.indicator(t)).id}/actions/archive")


async def _audit(w: World, role: Role, t: Target) -> Call:
    await w.indicator(t)
    return Call("GET", "/v1/audit?limit=5")


# --- the dashboard -----------------------------------------------------------------------------


async def _dashboard(w: World, role: Role, t: Target) -> Call:
    return Call("GET", "/dashboard")


async def _page(w: World, role: Role, t: Target) -> Call:
    return Call("GET", "/dashboard/findings?lang=ar")


async def _asset(w: World, role: Role, t: Target) -> Call:
    return Call("GET", "/dashboard/static/dashboard.js")


async def _dev_organizations(w: World, role: Role, t: Target) -> Call:
    return Call("GET", "/dashboard/dev/organizations")


async def _dev_token(w: World, role: Role, t: Target) -> Call:
    return Call("POST", "/dashboard/dev/token", json={"org_id": w.ids["qa-mehe"], "role": "viewer"})


# Findings are a country's coordination record: a Syrian finding is not there for a Qatari
# caller at all (404, as for any record one may not see), so not theirs to decide either.
NOT_FOUND = "finding-not-found"
DECIDING: dict[Role, dict[Target, Outcome]] = {
    Role.coordinator: {"own": 200, "same_country": 200, "other_country": NOT_FOUND}
}
# ... and manages Qatar's indicators (`own` and `same_country` are both Qatar's), not Syria's.
MANAGING: dict[Role, dict[Target, Outcome]] = {
    Role.coordinator: {"own": 201, "same_country": 201, "other_country": NOT_MANAGING}
}
MANAGING_200: dict[Role, dict[Target, Outcome]] = {
    Role.coordinator: {"own": 200, "same_country": 200, "other_country": NOT_MANAGING}
}
# Every reader reads their own country's findings, none of another country.
READ_OWN_COUNTRY: dict[Role, dict[Target, Outcome]] = {
    role: {"own": 200, "same_country": 200, "other_country": NOT_FOUND} for role in READERS
}

ROUTES = [
    Route("GET", "/v1/findings", READERS, _findings),
    Route("GET", "/v1/findings", READERS, _findings_csv),
    Route("GET", "/v1/findings/{finding_id}", READERS, _finding, 200, READ_OWN_COUNTRY),
    Route("POST", "/v1/findings/{finding_id}/actions/acknowledge", COORDINATOR, _acknowledge,
          200, DECIDING),
    Route("POST", "/v1/findings/{finding_id}/actions/accept", COORDINATOR, _accept, 200,
          DECIDING),
    Route("GET", "/v1/scorecards", READERS, _scorecards),
    Route("GET", "/v1/scorecards", READERS, _scorecards_csv),
    Route("GET", "/v1/coverage", READERS, _coverage),
    Route("GET", "/v1/coverage", READERS, _coverage_csv),
    Route("GET", "/v1/freshness", READERS, _freshness),
    Route("POST", "/v1/indicators", COORDINATOR, _define, 201, MANAGING),
    Route("GET", "/v1/indicators", READERS, _indicators),
    Route("GET", "/v1/indicators/{indicator_id}", READERS, _indicator),
    Route("PATCH", "/v1/indicators/{indicator_id}", COORDINATOR, _revise, 200, MANAGING_200),
    Route("POST", "/v1/indicators/{indicator_id}/actions/archive", COORDINATOR, _archive, 200,
          MANAGING_200),
    Route("GET", "/v1/audit", frozenset({Role.auditor, Role.coordinator}), _audit),
    # The dashboard: public shells and assets; the development routes in development only.
    Route("GET", "/dashboard", ALL, _dashboard, 307, public=True),
    Route("GET", "/dashboard/{page}", ALL, _page, public=True),
    Route("GET", "/dashboard/static/{asset:path}", ALL, _asset, public=True),
    Route("GET", "/dashboard/dev/organizations", ALL, _dev_organizations, public=True),
    Route("POST", "/dashboard/dev/token", ALL, _dev_token, public=True),
]  # fmt: skip
