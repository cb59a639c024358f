"""A test world: events shaped like the registry's, the agreements' and the engagements' (full
state with a version, as their schemas define it), fed to the reporting consumer's handlers the
way the consumer runner does (one transaction per event), each followed by the evaluator's pass
at a clock the test sets. `Published.record()` gives the same event as a Kafka record."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from tansiq_common.auth.directory import apply_organization_event
from tansiq_common.db import Database
from tansiq_common.domain import event_type
from tansiq_common.events.contracts import AGREEMENT_TOPIC, ENGAGEMENT_TOPIC, ORGANIZATION_TOPIC
from tansiq_common.events.envelope import Envelope
from tansiq_reporting.consumer import ReportingHandlers
from tansiq_reporting.findings.rules import RuleParameters
from tansiq_reporting.findings.schedule import scheduled_pass
from tansiq_reporting.findings.tables import findings

NATIONAL_KINDS = {"ministry", "directorate", "agency", "public_foundation", "centre"}
HOME = {"QA", "SY"}
SOURCES = {
    ORGANIZATION_TOPIC: "/tansiq/registry",
    AGREEMENT_TOPIC: "/tansiq/agreements",
    ENGAGEMENT_TOPIC: "/tansiq/engagements",
}
AGGREGATES = {
    ORGANIZATION_TOPIC: "organization",
    AGREEMENT_TOPIC: "agreement",
    ENGAGEMENT_TOPIC: "engagement",
}


def iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


@dataclass
class Published:
    topic: str
    name: str
    state: dict[str, Any]
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def type(self) -> str:
        return event_type(self.topic, AGGREGATES[self.topic], self.name)

    def envelope(self, prefix: str = "", offset: int = 0) -> Envelope:
        return Envelope(
            id=self.event_id,
            type=self.type,
            source=SOURCES[self.topic],
            subject=self.state["id"],
            time=datetime.now(UTC),
            topic=f"{prefix}{self.topic}",
            partition=0,
            offset=offset,
            data=json.loads(json.dumps(self.state)),
            headers={},
        )

    def record(self) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        """(key, value, headers) as the relay writes them (CloudEvents binary mode)."""
        headers = {
            "ce_specversion": "1.0",
            "ce_id": self.event_id,
            "ce_source": SOURCES[self.topic],
            "ce_type": self.type,
            "ce_time": datetime.now(UTC).isoformat(),
            "ce_subject": self.state["id"],
            "content-type": "application/json",
        }
        return (
            self.state["id"].encode(),
            json.dumps(self.state).encode(),
            [(k, v.encode()) for k, v in headers.items()],
        )


class World:
    def __init__(self, db: Database, now: datetime, params: RuleParameters | None = None) -> None:
        self.db = db
        self.now = now
        self.params = params or RuleParameters()
        self.handlers = ReportingHandlers()
        self.state: dict[str, dict[str, Any]] = {}
        self.published: list[Published] = []
        self.hold = False  # True: publish without applying (out-of-order tests, Kafka tests)

    # -- publishing --

    async def publish(self, topic: str, name: str, state: dict[str, Any]) -> Published:
        event = Published(topic, name, json.loads(json.dumps(state, default=iso)))
        self.published.append(event)
        if not self.hold:
            await self.apply(event)
        return event

    async def apply(self, event: Published) -> None:
        handler = {
            ORGANIZATION_TOPIC: self.handlers.organization,
            AGREEMENT_TOPIC: self.handlers.agreement,
            ENGAGEMENT_TOPIC: self.handlers.engagement,
        }[event.topic]
        async with self.db.sessionmaker() as session, session.begin():
            await handler(session, event.envelope())
            if event.topic == ORGANIZATION_TOPIC:
                # What the directory consumer does: callers' scopes come from it.
                await apply_organization_event(session, event.envelope())
        # What the evaluator does when the consumer's NOTIFY wakes it.
        await scheduled_pass(self.db.sessionmaker, self.params, self.now, batch=3)

    async def _change(self, topic: str, record_id: str, name: str, changes: dict[str, Any]) -> str:
        state = self.state[record_id]
        state.update(changes)
        state["version"] += 1
        state["updated_at"] = self.now.isoformat()
        await self.publish(topic, name, dict(state))
        return record_id

    # -- organizations --

    async def org(
        self,
        en: str,
        kind: str = "ministry",
        country: str | None = "QA",
        parent: str | None = None,
        designations: tuple[str, ...] = (),
        acronym: str | None = None,
        ar: str | None = None,
    ) -> str:
        org_id = str(uuid.uuid4())
        national = kind in NATIONAL_KINDS and country in HOME
        self.state[org_id] = {
            "id": org_id,
            "kind": kind,
            "names": {"ar": ar, "en": en},
            "acronym": acronym,
            "country": country,
            "parent_id": parent,
            "ministry_id": None,  # the registry's value (reporting derives its own)
            "scope": "national" if national else "international",
            "iati_identifier": None,
            "iati_org_type": 10 if national else 40,
            "website": None,
            "reporting_lines": [],
            "designations": list(designations),
            "status": "active",
            "source_key": None,
            "version": 1,
            "created_at": self.now.isoformat(),
            "updated_at": self.now.isoformat(),
        }
        self.state[org_id]["ministry_id"] = self._registry_ministry(org_id)
        await self.publish(ORGANIZATION_TOPIC, "created", dict(self.state[org_id]))
        return org_id

    def _registry_ministry(self, org_id: str) -> str | None:
        """The ministry the registry computes (topmost national ancestor)."""
        top = None
        current: str | None = org_id
        while current is not None and self.state[current]["scope"] == "national":
            top = current
            current = self.state[current]["parent_id"]
        return top

    async def update_org(self, org_id: str, name: str = "updated", **changes: Any) -> str:
        self.state[org_id].update(changes)
        changes["ministry_id"] = self._registry_ministry(org_id)
        return await self._change(ORGANIZATION_TOPIC, org_id, name, changes)

    # -- agreements --

    async def agreement(
        self,
        owner: str,
        parties: list[str],
        status: str = "draft",
        title: str = "Agreement",
        sdgs: tuple[int, ...] = (4,),
        priorities: tuple[str, ...] = (),
        cleared: bool = False,
        **fields: Any,
    ) -> str:
        agreement_id = str(uuid.uuid4())
        state: dict[str, Any] = {
            "id": agreement_id,
            "kind": "cooperation_agreement",
            "title": {"ar": f"اتفاقية {title}", "en": title},
            "summary": {"ar": None, "en": None},
            "owner_org_id": owner,
            "owner_ministry_id": None,
            "owner_country": "QA",
            "parties": [{"org_id": owner, "role": "signatory"}]
            + [{"org_id": p, "role": "signatory"} for p in parties],
            "themes": {"sdgs": list(sdgs), "sectors": [], "priorities": list(priorities)},
            "signed_on": None,
            "effective_from": None,
            "expires_on": None,
            "funding": [],
            "milestones": [],
            "visibility": "interagency",
            "status": status,
            "clearance": (
                {
                    "decision": "cleared",
                    "decided_by": "coordinator-1",
                    "decided_by_org_id": None,
                    "decided_at": self.now.isoformat(),
                    "conditions": None,
                    "comments": None,
                }
                if cleared
                else None
            ),
            "cleared": cleared,
            "signed_uncleared": False,
            "supersedes": None,
            "superseded_by": None,
            "termination": None,
            "countries": ["QA"],
            "source_key": None,
            "version": 1,
            "created_at": self.now.isoformat(),
            "updated_at": self.now.isoformat(),
        }
        state.update({k: iso(v) for k, v in fields.items()})
        self.state[agreement_id] = state
        await self.publish(AGREEMENT_TOPIC, "created", dict(state))
        return agreement_id

    async def update_agreement(
        self, agreement_id: str, name: str = "updated", **changes: Any
    ) -> str:
        return await self._change(
            AGREEMENT_TOPIC, agreement_id, name, {k: iso(v) for k, v in changes.items()}
        )

    # -- engagements --

    async def engagement(
        self,
        lead: str,
        partners: list[str],
        start: datetime | None = None,
        status: str = "held",
        title: str = "Engagement",
        kind: str = "meeting",
        sdgs: tuple[int, ...] = (16,),
        sectors: tuple[str, ...] = (),
        priorities: tuple[str, ...] = (),
        channel: str = "direct",
        **fields: Any,
    ) -> str:
        engagement_id = str(uuid.uuid4())
        start = start or self.now - timedelta(days=30)
        state: dict[str, Any] = {
            "id": engagement_id,
            "kind": kind,
            "title": {"en": title, "ar": f"نشاط {title}"},
            "start": start.isoformat(),
            "end": (start + timedelta(hours=3)).isoformat(),
            "location": {"city": "Doha", "country": "QA", "virtual": False},
            "lead_org_id": lead,
            "lead_ministry_id": None,
            "lead_country": "QA",
            "participants": [{"org_id": lead, "role": "host"}]
            + [{"org_id": p, "role": "participant"} for p in partners],
            "attendees": {"total": 10, "nationals": 5, "nationals_trained": 0},
            "agreement_ids": [],
            "related_engagement_ids": [],
            "themes": {
                "sdgs": list(sdgs),
                "sectors": list(sectors),
                "priorities": list(priorities),
            },
            "channel": channel,
            "coordinating_body_notified_at": None,
            "status": status,
            "visibility": "interagency",
            "report_due_on": None,
            "outcome": None,
            "report": None,
            "action_items": [],
            "countries": ["QA"],
            "source": "manual",
            "external_id": None,
            "version": 1,
            "created_at": self.now.isoformat(),
            "updated_at": self.now.isoformat(),
        }
        state.update({k: iso(v) for k, v in fields.items()})
        self.state[engagement_id] = state
        await self.publish(ENGAGEMENT_TOPIC, "created", dict(state))
        return engagement_id

    async def update_engagement(
        self, engagement_id: str, name: str = "updated", **changes: Any
    ) -> str:
        return await self._change(
            ENGAGEMENT_TOPIC, engagement_id, name, {k: iso(v) for k, v in changes.items()}
        )

    # -- time and results --

    async def tick(self, to: datetime) -> Any:
        self.now = to
        return await scheduled_pass(self.db.sessionmaker, self.params, to, batch=3)

    async def findings(self) -> list[Any]:
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(findings).order_by(findings.c.rule, findings.c.anchor_id)
            )
            return list(rows)

    async def open_findings(self) -> set[tuple[str, str]]:
        """(rule, anchor id) of every finding that is not resolved."""
        return {(f.rule, f.anchor_id) for f in await self.findings() if f.status != "resolved"}

    async def finding(self, rule: str, anchor_id: str) -> Any:
        for f in await self.findings():
            if f.rule == rule and f.anchor_id == anchor_id:
                return f
        return None

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.db.engine.connect() as conn:
            return (await conn.execute(sa.text(sql), params)).scalar()
