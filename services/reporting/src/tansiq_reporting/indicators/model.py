"""Indicators of a country's results framework (seed 000) and their progress: pure Python.

An indicator measures one metric over the read models (with filters), from a baseline (value and
year) towards a target (value, or a change relative to the baseline, by a deadline) in a
direction. Progress compares the actual value with the target and projects it linearly to the
deadline: achieved, on track, at risk (the projection closes most of the gap) or off track.

How a metric adds up:
- flows (`agreements_signed`, `nationals_trained`, `placements`: nationals placed in
  international posts, `engagements`) are counted per calendar year; window `cumulative` adds the
  years after the baseline year to the baseline value, window `annual` measures each year
  against the target on its own (e.g. "30 trainees a year");
- `coordinated_engagement_share` is a ratio (0..1): over the whole period (cumulative) or per
  year (annual).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from tansiq_common.domain import DomainError, NotFoundError, RuleConflict, VersionedAggregate

from tansiq_reporting.readmodels.model import Text

TOPIC = "reporting.indicator.v1"
AGGREGATE_TYPE = "indicator"
NAME_MAX = 300


class Metric(StrEnum):
    agreements_signed = "agreements_signed"
    nationals_trained = "nationals_trained"
    placements = "placements"
    coordinated_engagement_share = "coordinated_engagement_share"
    engagements = "engagements"


class Window(StrEnum):
    cumulative = "cumulative"
    annual = "annual"


class Direction(StrEnum):
    increase = "increase"
    decrease = "decrease"


class IndicatorStatus(StrEnum):
    active = "active"
    archived = "archived"


class Standing(StrEnum):
    achieved = "achieved"
    on_track = "on_track"
    at_risk = "at_risk"
    off_track = "off_track"


FLOWS = frozenset(
    {Metric.agreements_signed, Metric.nationals_trained, Metric.placements, Metric.engagements}
)
AGREEMENT_KINDS = frozenset(
    {
        "mou",
        "cooperation_agreement",
        "partnership_agreement",
        "framework_agreement",
        "funding_agreement",
        "technical_assistance",
        "host_country_agreement",
        "letter_of_intent",
        "programme_document",
    }
)
ENGAGEMENT_KINDS = frozenset(
    {
        "meeting",
        "visit",
        "conference",
        "strategic_dialogue",
        "training",
        "workshop",
        "correspondence",
        "technical_assistance",
        "placement",
        "signing",
        "event",
    }
)
# The engagement kinds a metric counts when the filters name none.
DEFAULT_KINDS: Mapping[Metric, tuple[str, ...]] = {
    Metric.nationals_trained: ("training",),
    Metric.placements: ("placement",),
}


class InvalidIndicator(DomainError):
    slug = "invalid-indicator"


class IndicatorNotFound(NotFoundError):
    slug = "indicator-not-found"


class IndicatorArchived(RuleConflict):
    slug = "indicator-archived"


class IndicatorStatusConflict(RuleConflict):
    slug = "indicator-status-conflict"


def _invalid(name: str, message: str) -> InvalidIndicator:
    return InvalidIndicator(message, [{"field": name, "message": message}])


@dataclass(frozen=True)
class Filters:
    kinds: tuple[str, ...] = ()
    ministry_ids: tuple[str, ...] = ()
    partner_ids: tuple[str, ...] = ()
    sdgs: tuple[int, ...] = ()
    sectors: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Baseline:
    year: int
    value: float | None = None  # None: measured from the data of the baseline year


@dataclass(frozen=True)
class Target:
    deadline: date
    value: float | None = None
    relative_change: float | None = None  # e.g. 0.25: the baseline value raised by 25 %


EDITABLE = ("name", "metric", "filters", "window", "baseline", "target", "direction")


@dataclass
class Indicator(VersionedAggregate):
    TOPIC: ClassVar[str] = TOPIC
    AGGREGATE_TYPE: ClassVar[str] = AGGREGATE_TYPE

    id: str
    country: str
    name: Text
    metric: Metric
    filters: Filters
    window: Window
    baseline: Baseline
    target: Target
    direction: Direction
    created_at: datetime
    updated_at: datetime
    status: IndicatorStatus = IndicatorStatus.active
    source_key: str | None = None
    version: int = 1
    events: list[Any] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def define(
        cls,
        *,
        id: str,
        country: str,
        fields: Mapping[str, Any],
        now: datetime,
        source_key: str | None = None,
    ) -> Indicator:
        missing = [name for name in ("name", "metric", "baseline", "target") if name not in fields]
        if missing:
            raise _invalid(missing[0], f"{missing[0]} is required.")
        if not isinstance(country, str) or len(country) != 2 or not country.isalpha():
            raise _invalid("country", "country is an ISO 3166-1 alpha-2 code.")
        indicator = cls(
            id=id,
            country=country.upper(),
            name=Text(),
            metric=Metric.engagements,
            filters=Filters(),
            window=Window.cumulative,
            baseline=Baseline(year=2000),
            target=Target(deadline=date(2000, 12, 31)),
            direction=Direction.increase,
            created_at=now,
            updated_at=now,
            source_key=source_key,
        )
        indicator._apply(fields)
        indicator.record("defined", sorted(fields), now, bump=False)
        return indicator

    def revise(self, changes: Mapping[str, Any], now: datetime) -> list[str]:
        if self.status is IndicatorStatus.archived:
            raise IndicatorArchived("An archived indicator cannot be changed.")
        before = self.snapshot()
        trial = replace(self, events=[])
        trial._apply(changes)
        after = trial.snapshot()
        changed = sorted(k for k in after if after[k] != before[k] and k in EDITABLE)
        if not changed:
            return []
        for name in EDITABLE:
            setattr(self, name, getattr(trial, name))
        self.record("revised", changed, now)
        return changed

    def archive(self, now: datetime) -> None:
        if self.status is IndicatorStatus.archived:
            raise IndicatorStatusConflict("The indicator is already archived.")
        self.status = IndicatorStatus.archived
        self.record("archived", ("status",), now)

    # -- validation --

    def _apply(self, fields: Mapping[str, Any]) -> None:
        unknown = set(fields) - set(EDITABLE)
        if unknown:
            name = sorted(unknown)[0]
            raise _invalid(name, f"{name} cannot be set.")
        if "name" in fields:
            self.name = _name(fields["name"])
        if "metric" in fields:
            try:
                self.metric = Metric(fields["metric"])
            except ValueError:
                raise _invalid("metric", f"unknown metric {fields['metric']!r}.") from None
        if "window" in fields:
            try:
                self.window = Window(fields["window"] or Window.cumulative)
            except ValueError:
                raise _invalid("window", f"unknown window {fields['window']!r}.") from None
        if "direction" in fields:
            try:
                self.direction = Direction(fields["direction"] or Direction.increase)
            except ValueError:
                raise _invalid("direction", f"unknown direction {fields['direction']!r}.") from None
        if "filters" in fields:
            self.filters = _filters(fields["filters"] or {})
        if "baseline" in fields:
            self.baseline = _baseline(fields["baseline"])
        if "target" in fields:
            self.target = _target(fields["target"])
        self._check()

    def _check(self) -> None:
        allowed = AGREEMENT_KINDS if self.metric is Metric.agreements_signed else ENGAGEMENT_KINDS
        strange = [k for k in self.filters.kinds if k not in allowed]
        if strange:
            raise _invalid("filters.kinds", f"{strange[0]!r} is not a kind {self.metric} counts.")
        if self.target.deadline.year < self.baseline.year:
            raise _invalid("target.deadline", "The deadline comes before the baseline year.")
        if self.metric is Metric.coordinated_engagement_share:
            for name, value in (
                ("baseline.value", self.baseline.value),
                ("target.value", self.target.value),
            ):
                if value is not None and not 0 <= value <= 1:
                    raise _invalid(name, "A share is between 0 and 1.")

    @property
    def kinds(self) -> tuple[str, ...]:
        """The record kinds the metric counts."""
        return self.filters.kinds or DEFAULT_KINDS.get(self.metric, ())


def _name(value: Any) -> Text:
    if not isinstance(value, Mapping):
        raise _invalid("name", "name is an object with ar and/or en.")
    texts = {}
    for lang in ("ar", "en"):
        text = value.get(lang)
        if text is not None and not isinstance(text, str):
            raise _invalid(f"name.{lang}", "must be text.")
        text = (text or "").strip()
        if len(text) > NAME_MAX:
            raise _invalid(f"name.{lang}", f"at most {NAME_MAX} characters.")
        texts[lang] = text or None
    if not (texts["ar"] or texts["en"]):
        raise _invalid("name", "An Arabic or an English name is required.")
    return Text(ar=texts["ar"], en=texts["en"])


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise _invalid(name, f"{name} is a list of text.")
    return tuple(sorted(set(value)))


def _filters(value: Any) -> Filters:
    if not isinstance(value, Mapping):
        raise _invalid("filters", "filters is an object.")
    unknown = set(value) - set(Filters.__dataclass_fields__)
    if unknown:
        raise _invalid(f"filters.{sorted(unknown)[0]}", "unknown filter.")
    sdgs = value.get("sdgs") or ()
    if not isinstance(sdgs, list | tuple) or not all(
        isinstance(g, int) and not isinstance(g, bool) and 1 <= g <= 17 for g in sdgs
    ):
        raise _invalid("filters.sdgs", "SDG goals are numbers from 1 to 17.")
    return Filters(
        kinds=_strings(value.get("kinds"), "filters.kinds"),
        ministry_ids=_strings(value.get("ministry_ids"), "filters.ministry_ids"),
        partner_ids=_strings(value.get("partner_ids"), "filters.partner_ids"),
        sdgs=tuple(sorted(set(sdgs))),
        sectors=_strings(value.get("sectors"), "filters.sectors"),
        priorities=_strings(value.get("priorities"), "filters.priorities"),
    )


def _number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(name, f"{name} is a number.")
    if value != value or abs(value) > 1e12:  # NaN or absurd
        raise _invalid(name, f"{name} is out of range.")
    return float(value)


def _baseline(value: Any) -> Baseline:
    if not isinstance(value, Mapping):
        raise _invalid("baseline", "baseline is an object with year and value.")
    year = value.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2200:
        raise _invalid("baseline.year", "baseline.year is a year.")
    return Baseline(year=year, value=_number(value.get("value"), "baseline.value"))


def _target(value: Any) -> Target:
    if not isinstance(value, Mapping):
        raise _invalid("target", "target is an object with deadline and value.")
    deadline = value.get("deadline")
    if isinstance(deadline, str):
        try:
            deadline = date.fromisoformat(deadline)
        except ValueError:
            deadline = None
    if not isinstance(deadline, date) or not 1900 <= deadline.year <= 2200:
        raise _invalid("target.deadline", "target.deadline is a date.")
    target_value = _number(value.get("value"), "target.value")
    relative = _number(value.get("relative_change"), "target.relative_change")
    if (target_value is None) == (relative is None):
        raise _invalid("target", "Give the target as a value or as a relative_change, not both.")
    return Target(deadline=deadline, value=target_value, relative_change=relative)


# --- progress ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class YearValue:
    """One year of a metric: for a ratio its numerator and denominator, else `value`."""

    year: int
    value: float | None
    numerator: float | None = None
    denominator: float | None = None


@dataclass(frozen=True)
class Progress:
    baseline_value: float | None
    target_value: float | None
    actual: float | None
    percent_of_target: float | None
    projected: float | None
    standing: Standing | None
    as_of: date
    series: tuple[YearValue, ...]


def _year_start(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)


def _years(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / (365.2425 * 86400)


def _ratio(points: Sequence[YearValue]) -> float | None:
    numerator = sum(p.numerator or 0 for p in points)
    denominator = sum(p.denominator or 0 for p in points)
    return numerator / denominator if denominator else None


def progress(
    indicator: Indicator,
    series: Mapping[int, YearValue],
    now: datetime,
    *,
    at_risk_share: float = 0.9,
) -> Progress:
    """Actual, target, percent of target and standing, from the metric's yearly values (years
    from the baseline year to the as-of year)."""
    end = datetime.combine(indicator.target.deadline, datetime.max.time(), tzinfo=UTC)
    as_of_moment = min(now, end)
    as_of = as_of_moment.date()
    b_year = indicator.baseline.year
    years = [series.get(y, YearValue(y, None)) for y in range(b_year, max(as_of.year, b_year) + 1)]
    by_year = {p.year: p for p in years}
    after_baseline = [p for p in years if p.year > b_year]
    metric, window = indicator.metric, indicator.window

    baseline_value = indicator.baseline.value
    if baseline_value is None:
        baseline_value = by_year[b_year].value if b_year in by_year else None

    if metric is Metric.coordinated_engagement_share:
        actual = (
            _ratio(after_baseline) if window is Window.cumulative else by_year[as_of.year].value
        )
    elif window is Window.cumulative:
        actual = (indicator.baseline.value or 0) + sum(p.value or 0 for p in after_baseline)
    elif as_of.year > b_year:
        actual = by_year[as_of.year].value or 0.0
    else:
        actual = None

    target_value = indicator.target.value
    if target_value is None and baseline_value is not None:
        target_value = baseline_value * (1 + (indicator.target.relative_change or 0))
        if metric is Metric.coordinated_engagement_share:
            target_value = min(1.0, max(0.0, target_value))  # a share stays a share

    # The straight line through (t0, v0) and (as of, actual), read at the deadline (or, for an
    # annual flow, at the end of the as-of year).
    v0: float | None
    if metric in FLOWS and window is Window.annual:
        t0, v0 = _year_start(as_of.year), 0.0
        horizon = min(end, datetime(as_of.year, 12, 31, 23, 59, 59, tzinfo=UTC))
    elif metric in FLOWS:
        t0, v0 = _year_start(b_year + 1), indicator.baseline.value or 0.0
        horizon = end
    else:
        t0, v0 = _year_start(b_year + 1), baseline_value
        horizon = end
    projected: float | None = None
    if actual is not None:
        elapsed = _years(t0, as_of_moment)
        if v0 is None or elapsed <= 0:
            projected = actual
        else:
            projected = v0 + (actual - v0) * _years(t0, horizon) / elapsed

    standing = _standing(
        indicator.direction,
        actual,
        projected,
        target_value,
        v0 if v0 is not None else baseline_value,
        finished=now >= end,
        at_risk_share=at_risk_share,
    )
    percent = None
    if actual is not None and target_value:
        percent = round(100 * actual / target_value, 1)
    return Progress(
        baseline_value=baseline_value,
        target_value=target_value,
        actual=actual,
        percent_of_target=percent,
        projected=projected,
        standing=standing,
        as_of=as_of,
        series=tuple(years),
    )


def _meets(direction: Direction, value: float, target: float) -> bool:
    return value >= target if direction is Direction.increase else value <= target


def _standing(
    direction: Direction,
    actual: float | None,
    projected: float | None,
    target: float | None,
    start: float | None,
    *,
    finished: bool,
    at_risk_share: float,
) -> Standing | None:
    if actual is None or target is None:
        return None
    if _meets(direction, actual, target):
        return Standing.achieved
    if finished or projected is None:
        return Standing.off_track
    if _meets(direction, projected, target):
        return Standing.on_track
    gap = target - (start or 0.0)
    if gap and (projected - (start or 0.0)) / gap >= at_risk_share:
        return Standing.at_risk
    return Standing.off_track
