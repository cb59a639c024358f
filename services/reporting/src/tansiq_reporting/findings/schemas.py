"""Bodies of the findings API, and the state every `reporting.finding.v1` event carries."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tansiq_reporting.findings.model import JUSTIFICATION_MAX, Status
from tansiq_reporting.findings.rules import Rule


class Bilingual(BaseModel):
    ar: str | None
    en: str | None


class RecordRefOut(BaseModel):
    type: str = Field(description="agreement | engagement")
    id: str


class DecisionOut(BaseModel):
    by: str = Field(description="The coordinator's token subject")
    org_id: str | None
    at: datetime
    justification: str | None = None


class AccessOut(BaseModel):
    visibility: str
    owner_ministry_id: str | None
    party_org_ids: list[str]
    countries: list[str]


class FindingState(BaseModel):
    """A finding's full state: the payload of every `reporting.finding.v1` event."""

    id: str = Field(description="uuid5 of the rule and the anchor record: stable across replays")
    rule: Rule
    status: Status
    ministry_id: str
    country: str | None
    records: list[RecordRefOut] = Field(description="The anchor record first")
    partner_ids: list[str]
    explanation: Bilingual
    resolution: Bilingual
    details: dict[str, Any]
    access: AccessOut
    opened_at: datetime
    resolved_at: datetime | None
    acknowledgement: DecisionOut | None
    acceptance: DecisionOut | None
    version: int
    created_at: datetime
    updated_at: datetime


class OrgLabel(BaseModel):
    id: str
    names: Bilingual
    acronym: str | None = None


class RecordSummary(BaseModel):
    type: str
    id: str
    kind: str | None
    status: str | None
    title: Bilingual
    org_id: str | None = Field(description="The agreement's owner or the engagement's lead")
    ministry_id: str | None
    date: dt.date | None = Field(description="Signed (or in effect) on; the engagement's start")
    expires_on: dt.date | None
    visibility: str


class FindingOut(BaseModel):
    id: str
    rule: Rule
    rule_name: Bilingual
    status: Status
    ministry_id: str
    ministry: OrgLabel | None
    country: str | None
    records: list[RecordRefOut]
    partner_ids: list[str]
    partners: list[OrgLabel]
    explanation: str = Field(description="In the language asked for (lang or Accept-Language)")
    resolution: str = Field(description="What would resolve it, in the same language")
    translations: dict[str, Bilingual] = Field(
        description="explanation and resolution in both languages: {explanation: {ar, en}, ...}"
    )
    details: dict[str, Any]
    visibility: str
    opened_at: datetime
    resolved_at: datetime | None
    acknowledgement: DecisionOut | None
    acceptance: DecisionOut | None
    version: int
    created_at: datetime
    updated_at: datetime


class FindingDetail(FindingOut):
    record_details: list[RecordSummary] = Field(
        description="The records named, as reporting has them"
    )


class FindingPage(BaseModel):
    items: list[FindingOut]
    next_cursor: str | None = None


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    justification: str = Field(
        min_length=1, max_length=JUSTIFICATION_MAX, description="Why it is an accepted exception"
    )
