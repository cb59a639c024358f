"""Request and response bodies of the organizations API (names as in docs/api.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from tansiq_registry.organizations.model import Designation, Kind, Line, Scope, Status


class Strict(BaseModel):
    # Unknown fields and server-owned ones (id, version, scope, ...) are refused with 422.
    model_config = ConfigDict(extra="forbid")


class NamesIn(Strict):
    ar: str | None = Field(None, max_length=300, examples=["إدارة التعاون الدولي"])
    en: str | None = Field(None, max_length=300, examples=["International Cooperation Department"])


class ReportingLineIn(Strict):
    org_id: str
    line: Line


class OrganizationCreate(Strict):
    kind: Kind
    names: NamesIn
    acronym: str | None = Field(None, max_length=40)
    country: str | None = Field(None, description="ISO 3166-1 alpha-2", examples=["QA"])
    parent_id: str | None = None
    iati_identifier: str | None = Field(None, examples=["XM-DAC-41304"])
    iati_org_type: int | None = Field(None, description="IATI OrganisationType; derived if absent")
    website: AnyHttpUrl | None = None
    reporting_lines: list[ReportingLineIn] = Field(default_factory=list, max_length=100)
    designations: list[Designation] = Field(default_factory=list)


class OrganizationPatch(Strict):
    """JSON merge patch (RFC 7396): absent = unchanged, null = removed."""

    kind: Kind | None = None
    names: NamesIn | None = None
    acronym: str | None = Field(None, max_length=40)
    country: str | None = None
    parent_id: str | None = None
    iati_identifier: str | None = None
    iati_org_type: int | None = None
    website: AnyHttpUrl | None = None
    reporting_lines: list[ReportingLineIn] | None = Field(None, max_length=100)
    designations: list[Designation] | None = None


class Names(BaseModel):
    ar: str | None
    en: str | None


class ReportingLineOut(BaseModel):
    org_id: str
    line: Line


class OrganizationOut(BaseModel):
    id: str
    kind: Kind
    names: Names
    acronym: str | None
    country: str | None
    parent_id: str | None
    ministry_id: str | None
    scope: Scope
    iati_identifier: str | None
    iati_org_type: int
    website: str | None
    reporting_lines: list[ReportingLineOut]
    designations: list[Designation]
    status: Status
    source_key: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class OrganizationSummary(BaseModel):
    id: str
    kind: Kind
    names: Names
    acronym: str | None
    parent_id: str | None
    scope: Scope
    status: Status
    depth: int = Field(description="Levels from the organization asked about (negative: above)")


class Hierarchy(BaseModel):
    organization: OrganizationSummary
    ancestors: list[OrganizationSummary] = Field(description="From the top down to the parent")
    ministry: OrganizationSummary | None
    descendants: list[OrganizationSummary] = Field(
        description="Parents before children; at most 1,000 (see descendants_truncated)"
    )
    descendants_truncated: bool = Field(
        False, description="True when the organization has more descendants than listed"
    )
    reporting_lines: list[ReportingLineOut]


class OrganizationPage(BaseModel):
    items: list[OrganizationOut]
    next_cursor: str | None = None


class ImportRowError(BaseModel):
    row: int = Field(description="Line number in the file (the header is line 1)")
    key: str | None
    errors: list[dict[str, str]]


class ImportReport(BaseModel):
    rows: int
    created: int
    updated: int
    unchanged: int
    kept: int = Field(
        0, description="Rows matching an organization that was left as users changed it (seed)"
    )
    failed: int
    errors: list[ImportRowError]
    ids: dict[str, str] = Field(description="Organization id of each imported row, by row key")
