"""Indicator definitions and their progress as pure functions: validation, actual, percent of
target, linear projection and standing. No database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from tansiq_reporting.indicators.model import (
    Indicator,
    IndicatorArchived,
    InvalidIndicator,
    Standing,
    YearValue,
    progress,
)

T0 = datetime(2020, 1, 1, tzinfo=UTC)


def define(**fields) -> Indicator:
    base = {
        "name": {"en": "Agreements"},
        "metric": "agreements_signed",
        "baseline": {"year": 2019, "value": 0},
        "target": {"value": 4, "deadline": "2023-12-31"},
    }
    return Indicator.define(id="i1", country="qa", fields={**base, **fields}, now=T0)


def flows(**years: float) -> dict[int, YearValue]:
    return {int(y[1:]): YearValue(int(y[1:]), v) for y, v in years.items()}


def test_a_definition_is_checked():
    i = define()
    assert (i.country, i.window.value, i.direction.value, i.kinds) == (
        "QA",
        "cumulative",
        "increase",
        (),
    )
    assert [e.name for e in i.events] == ["defined"]
    assert define(metric="nationals_trained").kinds == ("training",)
    assert define(metric="placements").kinds == ("placement",)
    for bad in (
        {"name": {"ar": " ", "en": None}},
        {"metric": "happiness"},
        {"filters": {"kinds": ["training"]}},  # not an agreement kind
        {"filters": {"sdgs": [18]}},
        {"filters": {"colour": ["red"]}},
        {"baseline": {"year": 1800}},
        {"target": {"deadline": "2018-12-31", "value": 1}},  # before the baseline year
        {"target": {"deadline": "2023-12-31"}},
        {"target": {"deadline": "2023-12-31", "value": 1, "relative_change": 0.1}},
        {
            "metric": "coordinated_engagement_share",
            "target": {"deadline": "2023-12-31", "value": 2},
        },
        {"window": "weekly"},
    ):
        with pytest.raises(InvalidIndicator):
            define(**bad)
    with pytest.raises(InvalidIndicator):
        Indicator.define(id="x", country="Qatar", fields={}, now=T0)


def test_revisions_and_archiving():
    i = define()
    assert i.revise({"target": {"value": 4, "deadline": "2023-12-31"}}, T0) == []
    assert i.version == 1
    assert i.revise({"target": {"value": 5, "deadline": "2023-12-31"}}, T0) == ["target"]
    assert (i.version, i.target.value, i.events[-1].name) == (2, 5.0, "revised")
    i.archive(T0)
    with pytest.raises(IndicatorArchived):
        i.revise({"direction": "decrease"}, T0)


def test_cumulative_flow_on_track_by_linear_projection():
    # 2 signed in 2020-2021; half the 4 years elapsed: the line reaches 4 at the deadline.
    p = progress(define(), flows(y2019=5, y2020=1, y2021=1), datetime(2021, 12, 31, tzinfo=UTC))
    assert (p.actual, p.target_value, p.percent_of_target) == (2.0, 4.0, 50.0)
    assert p.projected == pytest.approx(4.0, rel=1e-3)
    assert p.standing is Standing.on_track
    assert [y.year for y in p.series] == [2019, 2020, 2021]  # the baseline year included


def test_at_risk_and_off_track_and_achieved():
    at = datetime(2022, 1, 1, tzinfo=UTC)
    # 1.85 of 4 halfway: projects to 3.7, over 90 % of the gap: at risk.
    assert progress(define(), flows(y2020=1.85), at).standing is Standing.at_risk
    assert progress(define(), flows(y2020=1), at).standing is Standing.off_track
    assert progress(define(), flows(y2020=4), at).standing is Standing.achieved
    # The deadline passed short of the target: off track, whatever the trend; actual as of then.
    late = progress(define(), flows(y2020=3, y2024=5), datetime(2026, 1, 1, tzinfo=UTC))
    assert (late.standing, late.actual, late.as_of) == (Standing.off_track, 3.0, date(2023, 12, 31))


def test_annual_flow_is_measured_against_the_target_each_year():
    i = define(
        metric="nationals_trained", window="annual", target={"value": 30, "deadline": "2030-12-31"}
    )
    mid_year = datetime(2024, 7, 2, tzinfo=UTC)
    p = progress(i, flows(y2023=40, y2024=16), mid_year)
    assert p.actual == 16.0
    assert p.standing is Standing.on_track  # 16 by mid-year projects to 32
    assert progress(i, flows(y2024=30), mid_year).standing is Standing.achieved
    assert progress(i, flows(), mid_year).actual == 0.0


def test_a_share_with_a_measured_baseline_and_a_relative_target():
    i = define(
        metric="coordinated_engagement_share",
        window="annual",
        baseline={"year": 2019, "value": None},
        target={"relative_change": 0.25, "deadline": "2022-12-31"},
    )
    series = {
        2019: YearValue(2019, 0.4, 4, 10),
        2020: YearValue(2020, 0.5, 5, 10),
    }
    p = progress(i, series, datetime(2020, 12, 31, tzinfo=UTC))
    assert (p.baseline_value, p.target_value, p.actual) == (0.4, 0.5, 0.5)
    assert p.standing is Standing.achieved
    cumulative = define(
        metric="coordinated_engagement_share",
        baseline={"year": 2019, "value": 0.2},
        target={"value": 0.9, "deadline": "2022-12-31"},
    )
    two_years = {2020: YearValue(2020, 0.5, 1, 2), 2021: YearValue(2021, 0.5, 2, 4)}
    p = progress(cumulative, two_years, datetime(2021, 12, 31, tzinfo=UTC))
    assert p.actual == 0.5  # 3 of 6 over the whole period
    assert p.standing is Standing.off_track  # the line from 0.2 reaches 0.65, not 0.9
    everything = {2019: YearValue(2019, 0.9, 9, 10), 2020: YearValue(2020, 1.0, 10, 10)}
    capped = progress(i, everything, datetime(2020, 12, 31, tzinfo=UTC))
    assert (capped.target_value, capped.standing) == (1.0, Standing.achieved)
    empty = progress(i, {}, datetime(2020, 12, 31, tzinfo=UTC))
    assert (empty.baseline_value, empty.target_value, empty.standing) == (None, None, None)


def test_a_decrease_is_met_from_above():
    i = define(
        direction="decrease",
        baseline={"year": 2019, "value": 10},
        target={"value": 4, "deadline": "2023-12-31"},
    )
    assert progress(i, flows(y2020=-6), datetime(2022, 1, 1, tzinfo=UTC)).standing is (
        Standing.achieved
    )
