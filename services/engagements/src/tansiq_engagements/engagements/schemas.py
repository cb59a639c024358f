"""Request and response bodies of the engagements API (field names as in docs/api.md).

Model names carry the `Engagement` prefix: the AsyncAPI document gathers every service's
schemas in one namespace.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SkipValidation

from tansiq_engagements.engagements.model import (
    ACTION_ITEMS_MAX,
    ATTACHMENT_BYTES_MAX,
    ATTACHMENT_NAME_MAX,
    ATTACHMENTS_MAX,
    CITY_MAX,
    CODE_MAX,
    EXTERNAL_ID_MAX,
    LINKS_MAX,
    OUTCOME_MAX,
    PARTICIPANTS_MAX,
    PEOPLE_MAX,
    REPORT_MAX,
    THEME_CODES_MAX,
    TITLE_MAX,
    URI_MAX,
    ActionStatus,
    Channel,
    Kind,
    ParticipantRole,
    Status,
    Visibility,
)

MAX_BATCH = 1000
ID_MAX = 100
SOURCE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
# What a client may set; `reported` comes with the report (PUT .../report).
ClientStatus = Literal["planned", "held", "cancelled"]


class Strict(BaseModel):
    # Unknown fields and server-owned ones (id, version, report, ...) are refused with 422.
    model_config = ConfigDict(extra="forbid")


class EngagementTitleIn(Strict):
    ar: str | None = Field(None, max_length=TITLE_MAX, examples=["اجتماع تشاوري"])
    en: str | None = Field(
        None, max_length=TITLE_MAX, examples=["Consultation on the travel programme"]
    )


class EngagementLocationIn(Strict):
    city: str | None = Field(None, max_length=CITY_MAX, examples=["Doha"])
    country: str | None = Field(None, max_length=2, description="ISO 3166-1 alpha-2")
    virtual: bool = False


class EngagementParticipantIn(Strict):
    org_id: str = Field(max_length=ID_MAX)
    role: ParticipantRole = ParticipantRole.participant


class EngagementAttendeesIn(Strict):
    """nationals <= total and nationals_trained <= nationals."""

    total: int = Field(0, ge=0, le=PEOPLE_MAX)
    nationals: int = Field(0, ge=0, le=PEOPLE_MAX)
    nationals_trained: int = Field(0, ge=0, le=PEOPLE_MAX)


class EngagementThemesIn(Strict):
    sdgs: list[int] = Field(default_factory=list, max_length=17, description="SDG goals 1-17")
    sectors: list[str] = Field(default_factory=list, max_length=THEME_CODES_MAX)
    priorities: list[str] = Field(
        default_factory=list,
        max_length=THEME_CODES_MAX,
        description=f"National priority codes (at most {CODE_MAX} characters each)",
    )


class EngagementFields(Strict):
    kind: Kind
    title: EngagementTitleIn = Field(description="Arabic and/or English; one is required")
    start: AwareDatetime
    end: AwareDatetime | None = Field(None, description="At or after start")
    location: EngagementLocationIn | None = None
    lead_org_id: str = Field(max_length=ID_MAX, description="A national organization")
    participants: list[EngagementParticipantIn] = Field(
        default_factory=list, max_length=PARTICIPANTS_MAX, description="Each organization once"
    )
    attendees: EngagementAttendeesIn | None = None
    agreement_ids: list[str] = Field(default_factory=list, max_length=LINKS_MAX)
    related_engagement_ids: list[str] = Field(
        default_factory=list,
        max_length=LINKS_MAX,
        description="Other engagements on the same matter (how coordination is recorded)",
    )
    themes: EngagementThemesIn | None = None
    report_due_on: date | None = None
    channel: Channel = Channel.unknown
    coordinating_body_notified_at: AwareDatetime | None = None
    status: ClientStatus = "planned"
    visibility: Visibility = Visibility.interagency
    outcome: str | None = Field(None, max_length=OUTCOME_MAX, description="Summary of outcomes")


class EngagementCreate(EngagementFields):
    source: str = Field("manual", pattern=SOURCE, description="`manual` or a system's name")
    external_id: str | None = Field(
        None,
        min_length=1,
        max_length=EXTERNAL_ID_MAX,
        description="The record's id in its source system (required unless manual)",
    )


class EngagementIngestItem(EngagementFields):
    """One engagement as an integration job pushes it: upserted by (source, external_id)."""

    source: str = Field(
        pattern=SOURCE,
        description="The pushing system's name (on Kafka: the <system> of its ce_source)",
        examples=["calendar"],
    )
    external_id: str = Field(min_length=1, max_length=EXTERNAL_ID_MAX)


class EngagementPatch(Strict):
    """JSON merge patch (RFC 7396): absent = unchanged, null = removed."""

    kind: Kind | None = None
    title: EngagementTitleIn | None = None
    start: AwareDatetime | None = None
    end: AwareDatetime | None = None
    location: EngagementLocationIn | None = None
    lead_org_id: str | None = Field(None, max_length=ID_MAX)
    participants: list[EngagementParticipantIn] | None = Field(None, max_length=PARTICIPANTS_MAX)
    attendees: EngagementAttendeesIn | None = None
    agreement_ids: list[str] | None = Field(None, max_length=LINKS_MAX)
    related_engagement_ids: list[str] | None = Field(None, max_length=LINKS_MAX)
    themes: EngagementThemesIn | None = None
    report_due_on: date | None = None
    channel: Channel | None = None
    coordinating_body_notified_at: AwareDatetime | None = None
    status: ClientStatus | None = None
    visibility: Visibility | None = None
    outcome: str | None = Field(None, max_length=OUTCOME_MAX)


class EngagementAttachmentIn(Strict):
    """Metadata of a file kept in the document store, not the file."""

    name: str = Field(min_length=1, max_length=ATTACHMENT_NAME_MAX)
    media_type: str = Field(max_length=127, examples=["application/pdf"])
    size_bytes: int | None = Field(None, ge=0, le=ATTACHMENT_BYTES_MAX)
    uri: str | None = Field(None, max_length=URI_MAX)
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class EngagementReportIn(Strict):
    text: str = Field(min_length=1, max_length=REPORT_MAX)
    attachments: list[EngagementAttachmentIn] = Field(
        default_factory=list, max_length=ATTACHMENTS_MAX
    )


class ActionItemCreate(Strict):
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    owner_org_id: str = Field(max_length=ID_MAX)
    due_on: date | None = None
    status: ActionStatus = ActionStatus.open


class ActionItemPatch(Strict):
    title: str | None = Field(None, min_length=1, max_length=TITLE_MAX)
    owner_org_id: str | None = Field(None, max_length=ID_MAX)
    due_on: date | None = None
    status: ActionStatus | None = None


# --- responses (and event payloads) ------------------------------------------------------------


class EngagementTitle(BaseModel):
    ar: str | None
    en: str | None


class EngagementLocation(BaseModel):
    city: str | None
    country: str | None
    virtual: bool


class EngagementParticipant(BaseModel):
    org_id: str
    role: ParticipantRole


class EngagementAttendees(BaseModel):
    total: int
    nationals: int
    nationals_trained: int


class EngagementThemes(BaseModel):
    sdgs: list[int]
    sectors: list[str]
    priorities: list[str]


class EngagementAttachment(BaseModel):
    name: str
    media_type: str
    size_bytes: int | None
    uri: str | None
    sha256: str | None


class EngagementReport(BaseModel):
    text: str
    attachments: list[EngagementAttachment]
    submitted_by: str = Field(description="The token subject that filed it")
    submitted_by_org: str | None
    submitted_at: datetime


class ActionItemOut(BaseModel):
    id: str
    title: str
    owner_org_id: str
    due_on: date | None
    status: ActionStatus
    created_at: datetime
    updated_at: datetime


class EngagementOut(BaseModel):
    """An engagement's full state: the API's representation and every event's payload."""

    id: str
    kind: Kind
    title: EngagementTitle
    start: datetime
    end: datetime | None
    location: EngagementLocation
    lead_org_id: str
    lead_ministry_id: str | None = Field(description="The lead organization's ministry")
    lead_country: str | None = Field(description="The lead organization's country")
    participants: list[EngagementParticipant]
    attendees: EngagementAttendees
    agreement_ids: list[str]
    related_engagement_ids: list[str]
    themes: EngagementThemes
    channel: Channel
    coordinating_body_notified_at: datetime | None
    status: Status
    visibility: Visibility
    report_due_on: date | None
    outcome: str | None
    report: EngagementReport | None
    action_items: list[ActionItemOut] = Field(max_length=ACTION_ITEMS_MAX)
    countries: list[str] = Field(description="Countries of the lead and the participants")
    source: str
    external_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class EngagementPage(BaseModel):
    items: list[EngagementOut]
    next_cursor: str | None = None


class ActionItemPage(BaseModel):
    items: list[ActionItemOut]
    next_cursor: str | None = None


# --- ingestion -----------------------------------------------------------------------------------


class IngestBatch(BaseModel):
    """Up to 1,000 items; each is checked on its own, so one bad item never rejects the rest."""

    model_config = ConfigDict(extra="forbid")

    items: SkipValidation[list[EngagementIngestItem]] = Field(
        json_schema_extra={"maxItems": MAX_BATCH, "minItems": 1}
    )


IngestOutcome = Literal["created", "updated", "unchanged", "rejected"]


class IngestItemResult(BaseModel):
    index: int = Field(description="Position of the item in the batch, from 0")
    result: IngestOutcome
    source: str | None
    external_id: str | None
    id: str | None = Field(description="The engagement's id (null when rejected)")
    version: int | None
    changed_fields: list[str] = Field(default_factory=list)
    errors: list[dict[str, Any]] = Field(
        default_factory=list, description="Why the item was rejected: field, message, type"
    )
    retryable: bool = Field(
        False, description="Rejected only because a service it needs did not answer"
    )


class IngestReport(BaseModel):
    items: int
    created: int
    updated: int
    unchanged: int
    rejected: int
    results: list[IngestItemResult]
