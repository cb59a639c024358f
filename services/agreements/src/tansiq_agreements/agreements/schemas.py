"""Request and response bodies of the agreements API (field names as in docs/api.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tansiq_agreements.agreements.model import (
    AMOUNT_PLACES,
    MAX_FUNDING,
    MAX_PARTIES,
    MAX_THEME_CODES,
    MILESTONE_TITLE_MAX,
    NOTE_MAX,
    SUMMARY_MAX,
    TITLE_MAX,
    Action,
    Decision,
    Kind,
    MilestoneStatus,
    PartyRole,
    Status,
    Visibility,
)

# Text PostgreSQL can store: no NUL character.
NO_NUL = r"^[^\x00]*$"
ThemeCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$", max_length=40)
]
OrgId = Annotated[str, Field(max_length=64, examples=["7b0c6f1e-2d7a-4a43-9d6f-1c1f1b8a9e10"])]
Amount = Annotated[
    str,
    Field(
        pattern=rf"^[0-9]{{1,15}}(\.[0-9]{{1,{AMOUNT_PLACES}}})?$",
        description="A positive decimal number written as text (never a float), e.g. 250000.00",
        examples=["250000.00"],
    ),
]
Currency = Annotated[
    str, Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217", examples=["USD", "QAR"])
]


class Strict(BaseModel):
    # Unknown fields and server-owned ones (id, version, status, ...) are refused with 422.
    model_config = ConfigDict(extra="forbid")


class TitleIn(Strict):
    ar: str | None = Field(None, max_length=TITLE_MAX, pattern=NO_NUL, examples=["اتفاقية تعاون"])
    en: str | None = Field(
        None,
        max_length=TITLE_MAX,
        pattern=NO_NUL,
        examples=["Cooperation agreement on inclusive education"],
    )


class SummaryIn(Strict):
    ar: str | None = Field(None, max_length=SUMMARY_MAX, pattern=NO_NUL)
    en: str | None = Field(None, max_length=SUMMARY_MAX, pattern=NO_NUL)


class PartyIn(Strict):
    org_id: OrgId
    role: PartyRole


class ThemesIn(Strict):
    sdgs: list[Annotated[int, Field(ge=1, le=17)]] = Field(
        default_factory=list, max_length=17, description="SDG goals, 1 to 17"
    )
    sectors: list[ThemeCode] = Field(default_factory=list, max_length=MAX_THEME_CODES)
    priorities: list[ThemeCode] = Field(
        default_factory=list,
        max_length=MAX_THEME_CODES,
        description="National priorities, e.g. NDS2-IC-1",
    )


class FundingIn(Strict):
    funder_org_id: OrgId = Field(description="The owner or one of the parties")
    amount: Amount
    currency: Currency


class AgreementCreate(Strict):
    kind: Kind
    title: TitleIn
    summary: SummaryIn | None = None
    owner_org_id: OrgId = Field(description="The national organization that leads it")
    parties: list[PartyIn] = Field(max_length=MAX_PARTIES, description="At least two")
    themes: ThemesIn | None = None
    effective_from: date | None = None
    expires_on: date | None = None
    funding: list[FundingIn] = Field(default_factory=list, max_length=MAX_FUNDING)
    visibility: Visibility = Visibility.interagency


class AgreementPatch(Strict):
    """JSON merge patch (RFC 7396): absent = unchanged, null = removed. Once the agreement is
    submitted, only title, summary, themes and visibility can change."""

    kind: Kind | None = None
    title: TitleIn | None = None
    summary: SummaryIn | None = None
    owner_org_id: OrgId | None = None
    parties: list[PartyIn] | None = Field(None, max_length=MAX_PARTIES)
    themes: ThemesIn | None = None
    effective_from: date | None = None
    expires_on: date | None = None
    funding: list[FundingIn] | None = Field(None, max_length=MAX_FUNDING)
    visibility: Visibility | None = None


# --- action bodies -------------------------------------------------------------------------------

Note = Annotated[str, Field(max_length=NOTE_MAX, pattern=NO_NUL)]


class NoBody(Strict):
    """The action takes nothing (an empty object, or no body)."""


class ClearIn(Strict):
    conditions: Note | None = Field(None, description="Conditions attached to the clearance")
    comments: Note | None = None


class ReturnIn(Strict):
    comments: Note = Field(min_length=1, description="Why it is returned, what to change")


class SignIn(Strict):
    signed_on: date = Field(description="The date it was signed (not in the future)")


class EnterIntoForceIn(Strict):
    effective_from: date | None = Field(
        None, description="Default: the agreement's effective_from, else its signature date"
    )


class TerminateIn(Strict):
    reason: Note = Field(min_length=1)
    terminated_on: date | None = Field(None, description="Default: today")


class RenewIn(Strict):
    """What the successor changes; the rest is copied from the agreement it renews."""

    kind: Kind | None = None
    title: TitleIn | None = None
    summary: SummaryIn | None = None
    parties: list[PartyIn] | None = Field(None, max_length=MAX_PARTIES)
    themes: ThemesIn | None = None
    effective_from: date | None = None
    expires_on: date | None = None
    funding: list[FundingIn] | None = Field(None, max_length=MAX_FUNDING)
    visibility: Visibility | None = None


class MilestoneCreate(Strict):
    title: str = Field(min_length=1, max_length=MILESTONE_TITLE_MAX, pattern=NO_NUL)
    due_on: date
    responsible_org_id: OrgId = Field(description="The owner or one of the parties")
    status: MilestoneStatus = MilestoneStatus.pending


class MilestonePatch(Strict):
    title: str | None = Field(None, min_length=1, max_length=MILESTONE_TITLE_MAX, pattern=NO_NUL)
    due_on: date | None = None
    responsible_org_id: OrgId | None = None
    status: MilestoneStatus | None = None


# --- responses and event payloads ----------------------------------------------------------------


class TextOut(BaseModel):
    ar: str | None
    en: str | None


class PartyOut(BaseModel):
    org_id: str
    role: PartyRole


class ThemesOut(BaseModel):
    sdgs: list[int]
    sectors: list[str]
    priorities: list[str]


class FundingOut(BaseModel):
    funder_org_id: str
    amount: str = Field(description="Decimal, as text", examples=["250000.00"])
    currency: str


class MilestoneOut(BaseModel):
    id: str
    title: str
    due_on: date
    responsible_org_id: str
    status: MilestoneStatus
    completed_on: date | None


class ClearanceOut(BaseModel):
    decision: Decision
    decided_by: str = Field(description="The deciding user (token subject)")
    decided_by_org_id: str | None = Field(description="The coordinating body they decided for")
    decided_at: datetime
    conditions: str | None
    comments: str | None


class TerminationOut(BaseModel):
    terminated_on: date
    reason: str


class AgreementState(BaseModel):
    """The agreement's full state: the payload of every `agreements.agreement.v1` event."""

    id: str
    kind: Kind
    title: TextOut
    summary: TextOut
    owner_org_id: str
    owner_ministry_id: str | None = Field(description="The owner's ministry (registry)")
    owner_country: str | None = Field(description="The owner's country (ISO 3166-1 alpha-2)")
    parties: list[PartyOut]
    themes: ThemesOut
    signed_on: date | None
    effective_from: date | None
    expires_on: date | None
    funding: list[FundingOut]
    milestones: list[MilestoneOut]
    visibility: Visibility
    status: Status
    clearance: ClearanceOut | None = Field(
        description="The coordinating body's latest decision (cleared or returned)"
    )
    cleared: bool = Field(description="Cleared by a coordinating body")
    signed_uncleared: bool = Field(description="Signed without the coordinating body's clearance")
    supersedes: str | None = Field(description="The agreement this one renews")
    superseded_by: str | None = Field(description="The agreement that renews this one")
    termination: TerminationOut | None
    countries: list[str] = Field(description="Countries of the owner and the parties")
    source_key: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class AgreementOut(AgreementState):
    allowed_actions: list[Action] = Field(
        description="The lifecycle actions its current status allows"
    )


class AgreementPage(BaseModel):
    items: list[AgreementOut]
    next_cursor: str | None = None


class AgreementCount(BaseModel):
    count: int


class HistoryActor(BaseModel):
    sub: str
    org_id: str | None


class HistoryEntry(BaseModel):
    version: int
    event: str = Field(description="created, updated, submitted, cleared, signed, ...")
    changed_fields: list[str]
    details: dict[str, Any] = Field(description="What the transition was given")
    actor: HistoryActor
    request_id: str | None
    at: datetime


class HistoryPage(BaseModel):
    items: list[HistoryEntry]
    next_cursor: str | None = None


class MilestonePage(BaseModel):
    items: list[MilestoneOut]
    next_cursor: str | None = None
