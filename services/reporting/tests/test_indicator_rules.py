"""An indicator definition's rules, field by field (each refusal's field and message, each
limit at its boundary), its revisions and events, and progress to exact values: the linear
projection, percent of target and the standing's boundaries. Pure Python; no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from tansiq_reporting.indicators.model import (
    Baseline,
    Direction,
    Filters,
    Indicator,
    IndicatorArchived,
    IndicatorStatus,
    IndicatorStatusConflict,
    InvalidIndicator,
    Metric,
    Progress,
    Standing,
    Target,
    Window,
    YearValue,
    progress,
)
from tansiq_reporting.readmodels.model import Text

T0 = datetime(2020, 1, 1, tzinfo=UTC)
T1 = datetime(2020, 2, 1, tzinfo=UTC)
BASE = {
    "name": {"en": "Agreements"},
    "metric": "agreements_signed",
    "baseline": {"year": 2019, "value": 0},
    "target": {"value": 4, "deadline": "2023-12-31"},
}


def define(**fields) -> Indicator:
    return Indicator.define(id="i1", country="qa", fields={**BASE, **fields}, now=T0)


def refusal(**fields) -> tuple[str, str, str]:
    with pytest.raises(InvalidIndicator) as refused:
        define(**fields)
    [error] = refused.value.errors
    assert error["message"] == refused.value.message
    assert refused.value.slug == "invalid-indicator"
    return error["field"], error["message"]


SHARE = "coordinated_engagement_share"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": {"ar": " ", "en": None}}, "name", "An Arabic or an English name is required."),
        ({"name": "x"}, "name", "name is an object with ar and/or en."),
        ({"name": {"en": 5}}, "name.en", "must be text."),
        ({"name": {"ar": 5, "en": "x"}}, "name.ar", "must be text."),
        ({"name": {"ar": "x" * 301}}, "name.ar", "at most 300 characters."),
        ({"name": {"en": "x" * 301}}, "name.en", "at most 300 characters."),
        ({"metric": "happiness"}, "metric", "unknown metric 'happiness'."),
        ({"window": "weekly"}, "window", "unknown window 'weekly'."),
        ({"direction": "sideways"}, "direction", "unknown direction 'sideways'."),
        (
            {"filters": {"kinds": ["training"]}},
            "filters.kinds",
            "'training' is not a kind agreements_signed counts.",
        ),
        (
            {"metric": "engagements", "filters": {"kinds": ["meeting", "mou"]}},
            "filters.kinds",
            "'mou' is not a kind engagements counts.",
        ),
        ({"filters": {"sdgs": [18]}}, "filters.sdgs", "SDG goals are numbers from 1 to 17."),
        ({"filters": {"sdgs": [0]}}, "filters.sdgs", "SDG goals are numbers from 1 to 17."),
        ({"filters": {"sdgs": [True]}}, "filters.sdgs", "SDG goals are numbers from 1 to 17."),
        ({"filters": {"sdgs": ["4"]}}, "filters.sdgs", "SDG goals are numbers from 1 to 17."),
        ({"filters": {"sdgs": "4"}}, "filters.sdgs", "SDG goals are numbers from 1 to 17."),
        ({"filters": {"colour": ["red"]}}, "filters.colour", "unknown filter."),
        ({"filters": {"b": 1, "a": 2}}, "filters.a", "unknown filter."),
        ({"filters": "x"}, "filters", "filters is an object."),
        ({"filters": {"sectors": [""]}}, "filters.sectors", "filters.sectors is a list of text."),
        ({"filters": {"sectors": [1]}}, "filters.sectors", "filters.sectors is a list of text."),
        (
            {"filters": {"ministry_ids": "m"}},
            "filters.ministry_ids",
            "filters.ministry_ids is a list of text.",
        ),
        (
            {"filters": {"partner_ids": ["p", None]}},
            "filters.partner_ids",
            "filters.partner_ids is a list of text.",
        ),
        (
            {"filters": {"priorities": [""]}},
            "filters.priorities",
            "filters.priorities is a list of text.",
        ),
        ({"filters": {"kinds": "mou"}}, "filters.kinds", "filters.kinds is a list of text."),
        ({"baseline": {"year": 1899}}, "baseline.year", "baseline.year is a year."),
        ({"baseline": {"year": 2201}}, "baseline.year", "baseline.year is a year."),
        ({"baseline": {"year": True}}, "baseline.year", "baseline.year is a year."),
        ({"baseline": {"year": "2019"}}, "baseline.year", "baseline.year is a year."),
        ({"baseline": {}}, "baseline.year", "baseline.year is a year."),
        ({"baseline": 2019}, "baseline", "baseline is an object with year and value."),
        (
            {"baseline": {"year": 2019, "value": "1"}},
            "baseline.value",
            "baseline.value is a number.",
        ),
        (
            {"baseline": {"year": 2019, "value": True}},
            "baseline.value",
            "baseline.value is a number.",
        ),
        (
            {"baseline": {"year": 2019, "value": float("nan")}},
            "baseline.value",
            "baseline.value is out of range.",
        ),
        (
            {"baseline": {"year": 2019, "value": 1e12 + 1}},
            "baseline.value",
            "baseline.value is out of range.",
        ),
        (
            {"baseline": {"year": 2019, "value": -1e12 - 1}},
            "baseline.value",
            "baseline.value is out of range.",
        ),
        (
            {"target": {"deadline": "2018-12-31", "value": 1}},
            "target.deadline",
            "The deadline comes before the baseline year.",
        ),
        (
            {"target": {"deadline": "2023-12-31"}},
            "target",
            "Give the target as a value or as a relative_change, not both.",
        ),
        (
            {"target": {"deadline": "2023-12-31", "value": 1, "relative_change": 0.1}},
            "target",
            "Give the target as a value or as a relative_change, not both.",
        ),
        (
            {"target": {"deadline": "2023-12-31", "value": "1"}},
            "target.value",
            "target.value is a number.",
        ),
        (
            {"target": {"deadline": "2023-12-31", "relative_change": "x"}},
            "target.relative_change",
            "target.relative_change is a number.",
        ),
        (
            {"target": {"deadline": "nope", "value": 1}},
            "target.deadline",
            "target.deadline is a date.",
        ),
        (
            {"target": {"deadline": "1899-12-31", "value": 1}},
            "target.deadline",
            "target.deadline is a date.",
        ),
        (
            {"target": {"deadline": "2201-01-01", "value": 1}},
            "target.deadline",
            "target.deadline is a date.",
        ),
        (
            {"target": {"deadline": 2023, "value": 1}},
            "target.deadline",
            "target.deadline is a date.",
        ),
        ({"target": {"value": 1}}, "target.deadline", "target.deadline is a date."),
        ({"target": 5}, "target", "target is an object with deadline and value."),
        (
            {"metric": SHARE, "target": {"deadline": "2023-12-31", "value": 1.01}},
            "target.value",
            "A share is between 0 and 1.",
        ),
        (
            {"metric": SHARE, "baseline": {"year": 2019, "value": -0.01}},
            "baseline.value",
            "A share is between 0 and 1.",
        ),
        ({"colour": 1}, "colour", "colour cannot be set."),
        ({"b_extra": 1, "a_extra": 1}, "a_extra", "a_extra cannot be set."),
    ],
)
def test_each_refusal_names_its_field(fields, field, message):
    assert refusal(**fields) == (field, message)


def test_each_required_field_and_the_country():
    for missing in ("name", "metric", "baseline", "target"):
        fields = {k: v for k, v in BASE.items() if k != missing}
        with pytest.raises(InvalidIndicator) as refused:
            Indicator.define(id="x", country="QA", fields=fields, now=T0)
        assert refused.value.errors == [{"field": missing, "message": f"{missing} is required."}]
    for country in ("Qatar", "Q", "Q1", "", 5):
        with pytest.raises(InvalidIndicator) as refused:
            Indicator.define(id="x", country=country, fields=BASE, now=T0)  # type: ignore[arg-type]
        assert refused.value.errors == [
            {"field": "country", "message": "country is an ISO 3166-1 alpha-2 code."}
        ]


def test_the_limits_hold_at_their_boundaries():
    i = define(
        name={"ar": " " + "ا" * 300 + " ", "en": None},
        filters={"sdgs": [17, 1, 17], "sectors": ["b", "a", "b"], "kinds": ["mou"]},
        baseline={"year": 1900, "value": 1e12},
        target={"deadline": "2200-12-31", "value": -1e12},
        direction=None,
        window=None,
    )
    assert (i.name, i.filters, i.baseline, i.target, i.direction, i.window) == (
        Text(ar="ا" * 300),
        Filters(kinds=("mou",), sdgs=(1, 17), sectors=("a", "b")),
        Baseline(year=1900, value=1e12),
        Target(deadline=date(2200, 12, 31), value=-1e12),
        Direction.increase,
        Window.cumulative,
    )
    assert define(baseline={"year": 2200}, target={"deadline": "2200-01-01", "value": 1})
    share = define(
        metric=SHARE,
        baseline={"year": 2019, "value": 0},
        target={"deadline": date(2019, 12, 31), "value": 1},
        filters=None,
    )
    assert (share.baseline.value, share.target, share.filters) == (
        0.0,
        Target(deadline=date(2019, 12, 31), value=1.0),
        Filters(),
    )
    relative = define(target={"deadline": "2023-12-31", "relative_change": -0.5})
    assert relative.target == Target(deadline=date(2023, 12, 31), relative_change=-0.5)


def test_a_definition_in_full_and_its_event():
    i = Indicator.define(
        id="i9",
        country="qa",
        fields={
            **BASE,
            "metric": "nationals_trained",
            "window": "annual",
            "direction": "decrease",
            "filters": {"ministry_ids": ["m2", "m1"], "partner_ids": ["p"], "priorities": ["x"]},
        },
        now=T0,
        source_key="seed-000/1",
    )
    assert i == Indicator(
        id="i9",
        country="QA",
        name=Text(en="Agreements"),
        metric=Metric.nationals_trained,
        filters=Filters(ministry_ids=("m1", "m2"), partner_ids=("p",), priorities=("x",)),
        window=Window.annual,
        baseline=Baseline(year=2019, value=0.0),
        target=Target(deadline=date(2023, 12, 31), value=4.0),
        direction=Direction.decrease,
        created_at=T0,
        updated_at=T0,
        source_key="seed-000/1",
    )
    assert i.kinds == ("training",)
    [event] = i.events
    assert (event.name, event.changed_fields, event.state["version"]) == (
        "defined",
        ("baseline", "direction", "filters", "metric", "name", "target", "window"),
        1,
    )
    assert (event.topic, event.aggregate_type) == ("reporting.indicator.v1", "indicator")
    assert define(metric="engagements").kinds == ()
    assert define(metric="placements", filters={"kinds": ["visit"]}).kinds == ("visit",)


def test_a_revision_changes_what_it_names_and_records_it():
    i = define()
    assert i.revise({"name": {"en": "Agreements"}, "direction": "increase"}, T1) == []
    assert (i.version, i.updated_at, len(i.events)) == (1, T0, 1)
    assert i.revise({"name": {"ar": "اتفاقيات"}, "window": "annual"}, T1) == ["name", "window"]
    assert (i.name, i.window, i.version, i.updated_at) == (
        Text(ar="اتفاقيات"),
        Window.annual,
        2,
        T1,
    )
    assert (i.events[-1].name, i.events[-1].changed_fields) == ("revised", ("name", "window"))
    with pytest.raises(InvalidIndicator):
        i.revise({"target": {"deadline": "2010-12-31", "value": 1}}, T1)
    assert (i.target.deadline, i.version) == (date(2023, 12, 31), 2)  # a refusal changes nothing


def test_archiving_once_and_for_all():
    i = define()
    i.archive(T1)
    assert (i.status, i.version, i.updated_at) == (IndicatorStatus.archived, 2, T1)
    assert (i.events[-1].name, i.events[-1].changed_fields) == ("archived", ("status",))
    with pytest.raises(IndicatorStatusConflict) as again:
        i.archive(T1)
    assert str(again.value) == "The indicator is already archived."
    with pytest.raises(IndicatorArchived) as revised:
        i.revise({"name": {"en": "x"}}, T1)
    assert str(revised.value) == "An archived indicator cannot be changed."


def flows(**years: float) -> dict[int, YearValue]:
    return {int(y[1:]): YearValue(int(y[1:]), v) for y, v in years.items()}


def test_cumulative_progress_to_exact_values():
    # Baseline 1 in 2019; 3 more by the middle of the period: 4 of 10.
    i = define(baseline={"year": 2019, "value": 1}, target={"value": 10, "deadline": "2023-12-31"})
    at = datetime(2022, 1, 1, tzinfo=UTC)  # two years (730.5 days) into the four from 2020
    p = progress(i, flows(y2019=9, y2020=2, y2021=1, y2022=0), at)
    elapsed = (at - datetime(2020, 1, 1, tzinfo=UTC)).total_seconds() / (365.2425 * 86400)
    horizon = (
        datetime(2023, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - datetime(2020, 1, 1, tzinfo=UTC)
    ).total_seconds() / (365.2425 * 86400)
    assert p == Progress(
        baseline_value=1.0,
        target_value=10.0,
        actual=4.0,
        percent_of_target=40.0,
        projected=1 + 3 * horizon / elapsed,
        standing=Standing.off_track,
        as_of=date(2022, 1, 1),
        series=(
            YearValue(2019, 9),
            YearValue(2020, 2),
            YearValue(2021, 1),
            YearValue(2022, 0),
        ),
    )


def test_the_standing_at_the_at_risk_boundary():
    # From 0 towards 10 by the end of 2023; 2020 and 2021 gone: the line doubles the actual.
    i = define(target={"value": 10, "deadline": "2023-12-31"})
    at = datetime(2022, 1, 1, tzinfo=UTC)
    ratio = progress(i, flows(y2020=1), at).projected
    assert ratio == pytest.approx(2.0, rel=1e-3)
    share = 9 / ratio  # projects to exactly 9: 90 % of the gap
    assert progress(i, flows(y2020=share), at).standing is Standing.at_risk
    assert progress(i, flows(y2020=share * 0.999), at).standing is Standing.off_track
    assert progress(i, flows(y2020=share), at, at_risk_share=0.95).standing is Standing.off_track
    assert progress(i, flows(y2020=10 / ratio), at).standing is Standing.on_track
    assert progress(i, flows(y2020=9.99), at).standing is Standing.on_track
    assert progress(i, flows(y2020=10), at).standing is Standing.achieved


def test_a_decrease_at_risk_on_track_and_off_track():
    i = define(
        direction="decrease",
        baseline={"year": 2019, "value": 10},
        target={"value": 0, "deadline": "2023-12-31"},
    )
    at = datetime(2022, 1, 1, tzinfo=UTC)
    assert progress(i, flows(y2020=-5.1), at).standing is Standing.on_track
    assert progress(i, flows(y2020=-4.6), at).standing is Standing.at_risk
    assert progress(i, flows(y2020=-4), at).standing is Standing.off_track
    assert progress(i, flows(y2020=1), at).standing is Standing.off_track
    assert progress(i, flows(y2020=-10), at).standing is Standing.achieved
    assert progress(i, flows(y2020=-11), at).percent_of_target is None  # a target of 0


def test_before_the_period_starts_the_actual_is_the_projection():
    i = define(baseline={"year": 2019, "value": 1}, target={"value": 4, "deadline": "2023-12-31"})
    p = progress(i, flows(y2019=3), datetime(2019, 6, 1, tzinfo=UTC))
    assert (p.actual, p.projected, p.standing, p.as_of) == (
        1.0,
        1.0,
        Standing.off_track,
        date(2019, 6, 1),
    )
    assert p.series == (YearValue(2019, 3),)
    assert p.percent_of_target == 25.0


def test_an_annual_flow_in_the_baseline_year_has_no_actual_yet():
    i = define(metric="engagements", window="annual", target={"value": 4, "deadline": "2023-12-31"})
    p = progress(i, flows(y2019=7), datetime(2019, 6, 1, tzinfo=UTC))
    assert (p.actual, p.projected, p.standing, p.percent_of_target) == (None, None, None, None)
    later = progress(i, flows(y2021=1), datetime(2021, 7, 2, 12, tzinfo=UTC))
    assert later.actual == 1.0
    assert later.projected == pytest.approx(2.0, rel=1e-2)  # the year's end, not the deadline
    assert later.standing is Standing.off_track
    assert later.percent_of_target == 25.0
    # The last year of the period projects to the deadline, not past it.
    short = define(
        metric="engagements", window="annual", target={"value": 4, "deadline": "2021-06-30"}
    )
    ended = progress(short, flows(y2021=3.99), datetime(2021, 6, 30, tzinfo=UTC))
    assert ended.projected == pytest.approx(3.99 * 181 / 180, rel=1e-4)
    assert ended.standing is Standing.on_track


def test_a_share_over_the_period_and_per_year():
    i = define(
        metric=SHARE,
        baseline={"year": 2019, "value": None},
        target={"relative_change": 0.5, "deadline": "2023-12-31"},
    )
    series = {
        2019: YearValue(2019, 0.4, 4, 10),
        2020: YearValue(2020, 0.5, 1, 2),
        2021: YearValue(2021, None, None, None),
        2022: YearValue(2022, 0.25, 1, 4),
    }
    p = progress(i, series, datetime(2022, 12, 31, tzinfo=UTC))
    assert (p.baseline_value, p.target_value, p.actual, p.percent_of_target) == (
        0.4,
        pytest.approx(0.6),
        2 / 6,
        55.6,
    )
    assert p.standing is Standing.off_track
    annual = define(
        metric=SHARE,
        window="annual",
        baseline={"year": 2019, "value": 0.2},
        target={"value": 0.5, "deadline": "2023-12-31"},
    )
    q = progress(annual, series, datetime(2022, 12, 31, tzinfo=UTC))
    assert (q.baseline_value, q.target_value, q.actual) == (0.2, 0.5, 0.25)
    nothing = progress(i, {2020: YearValue(2020, None, 0, 0)}, datetime(2021, 1, 1, tzinfo=UTC))
    assert (nothing.actual, nothing.baseline_value, nothing.standing) == (None, None, None)
    floor = define(
        metric=SHARE,
        baseline={"year": 2019, "value": None},
        target={"relative_change": -2, "deadline": "2023-12-31"},
        direction="decrease",
    )
    low = progress(floor, series, datetime(2022, 12, 31, tzinfo=UTC))
    assert (low.target_value, low.standing) == (0.0, Standing.off_track)


def test_a_relative_target_of_a_flow_and_a_deadline_passed():
    i = define(
        baseline={"year": 2019, "value": 10},
        target={"relative_change": 0.25, "deadline": "2021-12-31"},
    )
    p = progress(i, flows(y2020=1, y2021=1, y2022=5), datetime(2023, 6, 1, tzinfo=UTC))
    assert (p.target_value, p.actual, p.as_of, p.standing) == (
        12.5,
        12.0,
        date(2021, 12, 31),
        Standing.off_track,
    )
    assert [y.year for y in p.series] == [2019, 2020, 2021]
    assert p.percent_of_target == 96.0
    met = progress(i, flows(y2020=2, y2021=1), datetime(2023, 6, 1, tzinfo=UTC))
    assert (met.actual, met.standing) == (13.0, Standing.achieved)


YEAR = 365.2425 * 86400


def years(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / YEAR


def test_the_earliest_deadline_and_a_relative_target_of_nothing():
    i = define(baseline={"year": 1900}, target={"deadline": "1900-12-31", "relative_change": 0})
    assert i.target == Target(deadline=date(1900, 12, 31), relative_change=0.0)
    same = define(
        baseline={"year": 2019, "value": 5}, target={"deadline": "2023-12-31", "relative_change": 0}
    )
    assert progress(same, flows(), datetime(2021, 1, 1, tzinfo=UTC)).target_value == 5.0


def test_an_annual_flow_projects_to_the_last_second_of_its_year():
    i = define(
        metric="engagements", window="annual", target={"value": 30, "deadline": "2030-12-31"}
    )
    at = datetime(2024, 7, 2, tzinfo=UTC)
    p = progress(i, flows(y2024=16), at)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end = datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert p.projected == 16 * years(start, end) / years(start, at)


def test_a_cumulative_flow_counts_from_zero_when_its_baseline_is_measured():
    i = define(
        baseline={"year": 2019, "value": None}, target={"value": 10, "deadline": "2023-12-31"}
    )
    at = datetime(2022, 1, 1, tzinfo=UTC)
    p = progress(i, flows(y2019=6, y2020=2, y2021=2), at)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    end = datetime(2023, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert (p.baseline_value, p.actual) == (6.0, 4.0)
    assert p.projected == 4 * years(start, end) / years(start, at)
    # The line from 0 reaches about 8 of 10: 80 %, not the 90 % of at risk.
    assert p.standing is Standing.off_track


def test_a_share_projects_from_its_baseline_the_year_after():
    i = define(
        metric=SHARE,
        baseline={"year": 2019, "value": 0.2},
        target={"value": 0.9, "deadline": "2023-12-31"},
    )
    at = datetime(2022, 1, 1, tzinfo=UTC)
    p = progress(i, {2020: YearValue(2020, 0.5, 1, 2), 2021: YearValue(2021, 0.5, 2, 4)}, at)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    end = datetime(2023, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert p.projected == 0.2 + (0.5 - 0.2) * years(start, end) / years(start, at)
    # Without a baseline value nor data of its year, the actual is all there is to project.
    unknown = define(
        metric=SHARE,
        baseline={"year": 2019, "value": None},
        target={"value": 0.9, "deadline": "2023-12-31"},
    )
    q = progress(unknown, {2020: YearValue(2020, 0.5, 1, 2)}, at)
    assert (q.baseline_value, q.actual, q.projected, q.standing) == (
        None,
        0.5,
        0.5,
        Standing.off_track,
    )


def test_a_share_measured_on_the_first_instant_of_the_period():
    i = define(
        metric=SHARE,
        window="annual",
        baseline={"year": 2019, "value": 0.2},
        target={"value": 0.9, "deadline": "2023-12-31"},
    )
    series = {2019: YearValue(2019, 0.4, 4, 10), 2020: YearValue(2020, 0.3, 3, 10)}
    p = progress(i, series, datetime(2020, 1, 1, tzinfo=UTC))
    assert (p.actual, p.projected) == (0.3, 0.3)
    early = progress(i, series, datetime(2019, 6, 1, tzinfo=UTC))
    assert (early.actual, early.projected) == (0.4, 0.4)


def test_past_the_deadline_close_is_not_at_risk():
    i = define(target={"value": 4, "deadline": "2023-12-31"})
    end = datetime(2023, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert progress(i, flows(y2020=3.8), end).standing is Standing.off_track
    assert progress(i, flows(y2020=3.8), end - timedelta(microseconds=1)).standing is (
        Standing.at_risk
    )
    assert progress(i, flows(y2020=3.8), datetime(2025, 1, 1, tzinfo=UTC)).standing is (
        Standing.off_track
    )


def test_an_annual_flow_measures_each_year_from_zero_not_from_the_baseline():
    # 30 a year, the baseline year had 20: a year projected to 28.5 closes 95 % of the way from
    # zero (at risk); from the baseline it would be 85 % (off track).
    i = define(
        metric="nationals_trained",
        window="annual",
        baseline={"year": 2019, "value": 20},
        target={"value": 30, "deadline": "2030-12-31"},
    )
    at = datetime(2024, 7, 2, tzinfo=UTC)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end = datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)
    actual = 28.5 * years(start, at) / years(start, end)
    p = progress(i, flows(y2024=actual), at)
    assert p.projected == pytest.approx(28.5)
    assert p.standing is Standing.at_risk
