"""Bodies of the scorecards, coverage and freshness views."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from tansiq_reporting.findings.schemas import Bilingual


class TrendPoint(BaseModel):
    month: str = Field(examples=["2025-03"])
    records: int = Field(description="Records dated in the month")
    score: float | None = Field(description="Their share free of findings that count; null: none")


class Scorecard(BaseModel):
    ministry_id: str
    names: Bilingual | None
    acronym: str | None
    country: str | None
    score: float | None = Field(
        description="Share (0..1) of the ministry's records free of open or acknowledged findings"
    )
    records: int
    records_with_findings: int
    by_rule: dict[str, int] = Field(description="Findings that count, per rule C1..C7")
    trend: list[TrendPoint] = Field(description="Per month of the records' dates")


class ScorecardPage(BaseModel):
    items: list[Scorecard]
    next_cursor: str | None = None


class CoverageCell(BaseModel):
    ministry_id: str
    ministry_names: Bilingual | None
    country: str | None
    partner_id: str
    partner_names: Bilingual | None
    partner_acronym: str | None
    engagements: int = Field(description="Engagements (not cancelled) of the ministry naming it")
    agreements: int = Field(description="Agreements of the ministry naming it as a party")
    last_contact: datetime | None = Field(description="Start of the latest held engagement")


class CoveragePage(BaseModel):
    items: list[CoverageCell]
    next_cursor: str | None = None


class TopicFreshness(BaseModel):
    topic: str
    last_event_id: str | None
    last_event_type: str | None
    last_event_time: datetime | None
    age_seconds: float | None = Field(description="Now minus the last applied event's time")
    last_applied_at: datetime | None
    events_applied: int
    consumer_lag: int | None = Field(description="Messages not yet applied; null: Kafka unknown")


class Freshness(BaseModel):
    consumer: str
    rebuilding: bool = Field(description="A rebuild from the topics is under way (or failed)")
    rebuild_started_at: datetime | None
    items: list[TopicFreshness]
