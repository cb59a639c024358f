"""Bodies of the indicators API, and the state every `reporting.indicator.v1` event carries."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from tansiq_reporting.findings.schemas import Bilingual
from tansiq_reporting.indicators.model import (
    NAME_MAX,
    Direction,
    IndicatorStatus,
    Metric,
    Standing,
    Window,
)

Code = Field(min_length=1, max_length=100)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NameIn(Strict):
    ar: str | None = Field(None, max_length=NAME_MAX)
    en: str | None = Field(None, max_length=NAME_MAX)


class FiltersIn(Strict):
    kinds: list[str] = Field(default_factory=list, max_length=20, description="Record kinds")
    ministry_ids: list[str] = Field(default_factory=list, max_length=200)
    partner_ids: list[str] = Field(default_factory=list, max_length=200)
    sdgs: list[int] = Field(default_factory=list, max_length=17, description="SDG goals 1-17")
    sectors: list[str] = Field(default_factory=list, max_length=50)
    priorities: list[str] = Field(default_factory=list, max_length=50)


class BaselineIn(Strict):
    year: int = Field(ge=1900, le=2200)
    value: float | None = Field(
        None, ge=-1e12, le=1e12, description="Null: measured from the baseline year's data"
    )


class TargetIn(Strict):
    deadline: date
    value: float | None = Field(None, ge=-1e12, le=1e12)
    relative_change: float | None = Field(
        None, ge=-1e6, le=1e6, description="Instead of value: e.g. 0.25 = baseline + 25 %"
    )


class IndicatorCreate(Strict):
    country: str = Field(min_length=2, max_length=2, description="Whose results framework")
    name: NameIn
    metric: Metric
    filters: FiltersIn = Field(default_factory=FiltersIn)
    window: Window = Window.cumulative
    baseline: BaselineIn
    target: TargetIn
    direction: Direction = Direction.increase


class IndicatorPatch(Strict):
    """JSON merge patch (RFC 7396): absent = unchanged; filters, baseline and target are
    replaced whole."""

    name: NameIn | None = None
    metric: Metric | None = None
    filters: FiltersIn | None = None
    window: Window | None = None
    baseline: BaselineIn | None = None
    target: TargetIn | None = None
    direction: Direction | None = None


class FiltersOut(BaseModel):
    kinds: list[str]
    ministry_ids: list[str]
    partner_ids: list[str]
    sdgs: list[int]
    sectors: list[str]
    priorities: list[str]


class BaselineOut(BaseModel):
    year: int
    value: float | None


class TargetOut(BaseModel):
    deadline: date
    value: float | None
    relative_change: float | None


class IndicatorState(BaseModel):
    """An indicator definition's full state: the payload of every `reporting.indicator.v1`
    event."""

    id: str
    country: str
    name: Bilingual
    metric: Metric
    filters: FiltersOut
    window: Window
    baseline: BaselineOut
    target: TargetOut
    direction: Direction
    status: IndicatorStatus
    source_key: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class YearPoint(BaseModel):
    year: int
    value: float | None


class ProgressOut(BaseModel):
    as_of: date = Field(description="The deadline, or today if earlier")
    baseline: float | None = Field(description="The baseline value (measured if not given)")
    target: float | None
    actual: float | None
    percent_of_target: float | None = Field(description="actual / target × 100")
    projected: float | None = Field(description="Linear projection to the deadline")
    status: Standing | None = Field(description="null: no data to judge by")
    series: list[YearPoint] = Field(description="From the baseline year to the as-of year")


class IndicatorOut(IndicatorState):
    progress: ProgressOut


class IndicatorPage(BaseModel):
    items: list[IndicatorState]
    next_cursor: str | None = None
