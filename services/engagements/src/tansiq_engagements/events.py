"""The engagements service's events for the AsyncAPI document.

Outbound, `engagements.engagement.v1`: every change of an engagement, with its full state and
version (`EngagementOut`). Inbound, `engagements.ingest.v1`: what integration jobs publish, one
engagement item per message (`EngagementIngestItem`).
"""

from tansiq_common.domain import event_type
from tansiq_common.events.catalog import EventDoc
from tansiq_common.events.contracts import INGEST_TOPIC

from tansiq_engagements.engagements.ingest import INGEST_EVENT_TYPE
from tansiq_engagements.engagements.model import AGGREGATE_TYPE, TOPIC
from tansiq_engagements.engagements.schemas import EngagementIngestItem, EngagementOut

# Event name → what it means; the names are those the aggregate records.
_SUMMARIES = {
    "created": "An engagement was recorded (by a user or an integration job).",
    "updated": "An engagement's details changed.",
    "held": "A planned engagement took place.",
    "cancelled": "A planned engagement was cancelled.",
    "replanned": "A cancelled engagement is planned again.",
    "reported": "The report on a held engagement was filed; it is now reported.",
    "report_revised": "The report on an engagement was replaced.",
    "action_item_added": "An action item was added to an engagement.",
    "action_item_updated": "An action item of an engagement changed (status, owner, due date).",
}

EVENT_NAMES = tuple(_SUMMARIES)

EVENTS = [
    EventDoc(
        topic=TOPIC,
        type=event_type(TOPIC, AGGREGATE_TYPE, name),
        model=EngagementOut,
        summary=summary,
    )
    for name, summary in _SUMMARIES.items()
] + [
    EventDoc(
        topic=INGEST_TOPIC,
        type=INGEST_EVENT_TYPE,
        model=EngagementIngestItem,
        summary=(
            "An engagement as an integration job's system has it, upserted by "
            "(source, external_id); ce_source /tansiq/integration/<source>, key "
            "<source>:<external_id>. Invalid items go to engagements.ingest.v1.dlq."
        ),
    )
]
