"""Who may write each topic, and which event types: what a consumer checks before it applies.

Each topic has exactly one producer. A consumer applies an event only when its ``ce_source`` is
that topic's producer and its ``ce_type`` is one the catalogue lists for the topic; anything else
is dead-lettered with the reason (``ConsumerRunner``). The list is here, in the common library,
so a consumer needs no other service's code to check it; ``libs/common/tests/events`` proves it
equals what the services' own catalogues (``tansiq_<service>/events.py``) declare, so a new
event type goes into both or the tests fail.

Why the producer check, and not a limit on versions: a forged ``registry.organization.v1``
message with version 2147483647 would pin a replica's row against every later real update, and
every replay would apply it again. A bound on how far a version may jump cannot tell the forged
event from a real one (a forger that can write the topic sends ``stored + 1`` as easily), and it
would refuse real events after a gap (a dead-lettered event, a replica started late). What
closes it is that nobody but the producer can write the topic (on Kubernetes: TLS + SCRAM and
one KafkaUser per service whose ACLs allow writing only its own topics; integration jobs write
only ``engagements.ingest.v1``) and that consumers refuse what claims to come from anyone else
or carries a type the producer never emits, on live traffic and on replay alike.

Integration jobs identify themselves as ``/tansiq/integration/<system>`` (``<system>``: letters,
digits, ``.``, ``_`` or ``-``, e.g. ``/tansiq/integration/calendar``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tansiq_common.events.envelope import source_of

INTEGRATION_SOURCE_PREFIX = "/tansiq/integration/"
_SYSTEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")

ORGANIZATION_TOPIC = "registry.organization.v1"
AGREEMENT_TOPIC = "agreements.agreement.v1"
ENGAGEMENT_TOPIC = "engagements.engagement.v1"
INGEST_TOPIC = "engagements.ingest.v1"
FINDING_TOPIC = "reporting.finding.v1"
INDICATOR_TOPIC = "reporting.indicator.v1"


def integration_source(system: str) -> str:
    """The ce_source of an integration job, e.g. ``integration_source("calendar")``."""
    if not _SYSTEM.fullmatch(system):
        raise ValueError(f"not a system name: {system!r}")
    return f"{INTEGRATION_SOURCE_PREFIX}{system}"


@dataclass(frozen=True)
class TopicContract:
    """The one producer of a topic and the event types it may carry there."""

    topic: str  # logical, without TOPIC_PREFIX
    producer: str  # a ce_source; one ending in "/" admits any one path segment after it
    event_types: frozenset[str]

    def admits_source(self, source: str) -> bool:
        if self.producer.endswith("/"):
            system = source.removeprefix(self.producer)
            return source.startswith(self.producer) and bool(_SYSTEM.fullmatch(system))
        return source == self.producer

    def violation(self, source: str, event_type: str) -> tuple[str, str] | None:
        """None when the event may be applied; else (reason, explanation) for the DLQ headers."""
        if not self.admits_source(source):
            return (
                "wrong-source",
                f"ce_source {source!r} is not the producer of {self.topic} ({self.producer!r})",
            )
        if event_type not in self.event_types:
            return (
                "unknown-type",
                f"ce_type {event_type!r} is not an event type of {self.topic}",
            )
        return None


def _contract(topic: str, producer: str, types: Iterable[str]) -> TopicContract:
    return TopicContract(topic, producer, frozenset(types))


def _types(prefix: str, *verbs: str) -> list[str]:
    return [f"{prefix}.{verb}.v1" for verb in verbs]


# One entry per topic. A service that adds an event type to its catalogue adds it here too.
CONTRACTS: dict[str, TopicContract] = {
    contract.topic: contract
    for contract in (
        _contract(
            ORGANIZATION_TOPIC,
            source_of("registry"),
            _types(
                "tansiq.registry.organization",
                "created",
                "updated",
                "moved",
                "designated",
                "archived",
                "restored",
            ),
        ),
        _contract(
            AGREEMENT_TOPIC,
            source_of("agreements"),
            _types(
                "tansiq.agreements.agreement",
                "created",
                "updated",
                "submitted",
                "cleared",
                "returned",
                "signed",
                "entered-into-force",
                "renewed",
                "terminated",
                "expired",
                "milestone-added",
                "milestone-updated",
            ),
        ),
        _contract(
            ENGAGEMENT_TOPIC,
            source_of("engagements"),
            _types(
                "tansiq.engagements.engagement",
                "created",
                "updated",
                "replanned",
                "held",
                "cancelled",
                "reported",
                "report_revised",
                "action_item_added",
                "action_item_updated",
            ),
        ),
        _contract(INGEST_TOPIC, INTEGRATION_SOURCE_PREFIX, ["tansiq.integration.engagement.v1"]),
        _contract(
            FINDING_TOPIC,
            source_of("reporting"),
            _types(
                "tansiq.reporting.finding",
                "opened",
                "updated",
                "acknowledged",
                "accepted",
                "resolved",
            ),
        ),
        _contract(
            INDICATOR_TOPIC,
            source_of("reporting"),
            _types("tansiq.reporting.indicator", "defined", "revised", "archived"),
        ),
    )
}


def contract_for(topic: str, extra: Mapping[str, TopicContract] | None = None) -> TopicContract:
    """The contract of a logical topic (``extra`` first: tests' and benchmarks' own topics)."""
    found = (extra or {}).get(topic) or CONTRACTS.get(topic)
    if found is None:
        raise LookupError(
            f"no producer is registered for topic {topic!r}: add it to "
            "tansiq_common.events.contracts.CONTRACTS (or give the ConsumerSpec its contract)"
        )
    return found
