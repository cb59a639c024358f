"""Reporting's events for the AsyncAPI document: findings (`reporting.finding.v1`) and indicator
definitions (`reporting.indicator.v1`), each carrying the aggregate's full state."""

from tansiq_common.domain import event_type
from tansiq_common.events.catalog import EventDoc

from tansiq_reporting.findings import model as findings
from tansiq_reporting.findings.schemas import FindingState
from tansiq_reporting.indicators import model as indicators
from tansiq_reporting.indicators.schemas import IndicatorState

# Event name → what it means; the names are those the aggregates record.
_FINDINGS = {
    "opened": (
        "A rule's condition started to hold for a record (again): the finding is open, or keeps "
        "the decision a coordinator made on it earlier (acknowledged, accepted)."
    ),
    "updated": "An open finding's description changed (records involved, explanation).",
    "resolved": "The condition stopped holding: the finding resolved itself.",
    "acknowledged": "A coordinator acknowledged the finding.",
    "accepted": (
        "A coordinator accepted the finding as an exception, with a justification; it no longer "
        "counts against the ministry's score."
    ),
}
_INDICATORS = {
    "defined": "An indicator of a country's results framework was defined.",
    "revised": "An indicator's definition changed (metric, filters, baseline, target...).",
    "archived": "An indicator was archived.",
}

EVENTS = [
    EventDoc(
        topic=findings.TOPIC,
        type=event_type(findings.TOPIC, findings.AGGREGATE_TYPE, name),
        model=FindingState,
        summary=summary,
    )
    for name, summary in _FINDINGS.items()
] + [
    EventDoc(
        topic=indicators.TOPIC,
        type=event_type(indicators.TOPIC, indicators.AGGREGATE_TYPE, name),
        model=IndicatorState,
        summary=summary,
    )
    for name, summary in _INDICATORS.items()
]
