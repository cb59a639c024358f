"""The registry's events for the AsyncAPI document: each carries an organization's full state."""

from tansiq_common.events.catalog import EventDoc

from tansiq_registry.organizations import model
from tansiq_registry.organizations.schemas import OrganizationOut

_SUMMARIES = {
    model.OrganizationCreated: "An organization was registered.",
    model.OrganizationUpdated: "An organization's details (or its ministry, after a move) changed.",
    model.OrganizationMoved: "An organization moved to another parent.",
    model.OrganizationDesignated: "An organization's designations (coordinating body) changed.",
    model.OrganizationArchived: "An organization was archived; it stays resolvable by id.",
    model.OrganizationRestored: "An archived organization was restored.",
}


def _type_of(event: type[model.OrganizationEvent]) -> str:
    declared = event.__dataclass_fields__["event_type"].default
    assert isinstance(declared, str)
    return declared


EVENTS = [
    EventDoc(
        topic=model.TOPIC,
        type=_type_of(event),
        model=OrganizationOut,
        summary=summary,
    )
    for event, summary in _SUMMARIES.items()
]
