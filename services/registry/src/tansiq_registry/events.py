"""The registry's events for the AsyncAPI document: each carries an organization's full state."""

from tansiq_common.domain import event_type
from tansiq_common.events.catalog import EventDoc

from tansiq_registry.organizations.model import AGGREGATE_TYPE, TOPIC
from tansiq_registry.organizations.schemas import OrganizationOut

# Event name → what it means; the names are those the aggregate records.
_SUMMARIES = {
    "created": "An organization was registered.",
    "updated": "An organization's details (or its ministry, after a move) changed.",
    "moved": "An organization moved to another parent.",
    "designated": "An organization's designations (coordinating body) changed.",
    "archived": "An organization was archived; it stays resolvable by id.",
    "restored": "An archived organization was restored.",
}

EVENTS = [
    EventDoc(
        topic=TOPIC,
        type=event_type(TOPIC, AGGREGATE_TYPE, name),
        model=OrganizationOut,
        summary=summary,
    )
    for name, summary in _SUMMARIES.items()
]
