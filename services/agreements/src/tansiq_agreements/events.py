"""The agreements service's events for the AsyncAPI document: each carries an agreement's full
state (`AgreementState`) with its version, on `agreements.agreement.v1`."""

from tansiq_common.domain import event_type
from tansiq_common.events.catalog import EventDoc

from tansiq_agreements.agreements.model import AGGREGATE_TYPE, TOPIC
from tansiq_agreements.agreements.schemas import AgreementState

# Event name → what it means; the names are those the aggregate records.
_SUMMARIES = {
    "created": "An agreement was drafted (a renewal's successor too: it carries `supersedes`).",
    "updated": "An agreement's details changed (changed fields in the audit log and history).",
    "submitted": "An agreement was submitted to the coordinating body for clearance.",
    "cleared": "The coordinating body cleared the agreement (`clearance`: who, when, conditions).",
    "returned": "The coordinating body returned the agreement to its owner with comments.",
    "signed": "The agreement was signed; `signed_uncleared` is true when it was not cleared.",
    "entered-into-force": "The agreement entered into force.",
    "terminated": "The agreement was terminated (`termination`: when and why).",
    "expired": "The agreement expired (`expires_on` passed).",
    "renewed": "The agreement was renewed: `superseded_by` names its successor.",
    "milestone-added": "A milestone or obligation was added to the agreement.",
    "milestone-updated": "A milestone of the agreement changed (its status, typically).",
}

EVENTS = [
    EventDoc(
        topic=TOPIC,
        type=event_type(TOPIC, AGGREGATE_TYPE, name),
        model=AgreementState,
        summary=summary,
    )
    for name, summary in _SUMMARIES.items()
]
