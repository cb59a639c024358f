"""The topics Tansiq owns: one per aggregate, the inbound ingest topic, and a DLQ for each.

Domain topics keep their events for ever, so a consumer can be rebuilt from the beginning
(`tansiq replay`); dead letters are kept 30 days for an operator to look at.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from tansiq_common.events.kafka import KafkaSecurity, admin_client

log = logging.getLogger(__name__)

KEEP_FOREVER_MS = -1
DLQ_RETENTION_MS = 30 * 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str  # logical; the deployment's TOPIC_PREFIX is added when it is created
    partitions: int
    retention_ms: int = KEEP_FOREVER_MS
    configs: dict[str, str] = field(default_factory=dict)

    def kafka_configs(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": "delete", **self.configs}


def dlq_name(topic: str) -> str:
    return f"{topic}.dlq"


def _with_dlq(name: str, partitions: int) -> dict[str, TopicSpec]:
    return {
        name: TopicSpec(name, partitions),
        dlq_name(name): TopicSpec(dlq_name(name), 1, DLQ_RETENTION_MS),
    }


# Partitions bound consumer parallelism per group; events of one aggregate share a partition (key).
DOMAIN_TOPICS: dict[str, TopicSpec] = {
    **_with_dlq("registry.organization.v1", 3),
    **_with_dlq("agreements.agreement.v1", 3),
    **_with_dlq("engagements.engagement.v1", 3),
    **_with_dlq("engagements.ingest.v1", 3),
    **_with_dlq("reporting.finding.v1", 3),
    **_with_dlq("reporting.indicator.v1", 1),
}


async def ensure_topics(
    bootstrap: str,
    prefix: str,
    names: Iterable[str] | None = None,
    *,
    replication_factor: int = 1,
    specs: Iterable[TopicSpec] = (),
    security: KafkaSecurity | None = None,
) -> list[str]:
    """Create the missing topics (all of DOMAIN_TOPICS by default); return the names created.

    Idempotent: existing topics are left alone, a concurrent creation is not an error. Names not in
    DOMAIN_TOPICS get 1 partition, or what ``specs`` says. ``security``: the Kafka security
    settings (default: from the environment, KAFKA_SECURITY_PROTOCOL and the rest).
    """
    known = {**DOMAIN_TOPICS, **{spec.name: spec for spec in specs}}
    wanted = [known.get(name) or TopicSpec(name, 1) for name in (names or DOMAIN_TOPICS)]
    admin = admin_client(bootstrap, "tansiq-topics", security=security)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in wanted if f"{prefix}{spec.name}" not in existing]
        if not missing:
            return []
        new = [
            NewTopic(
                f"{prefix}{spec.name}",
                num_partitions=spec.partitions,
                replication_factor=replication_factor,
                topic_configs=spec.kafka_configs(),
            )
            for spec in missing
        ]
        try:
            response = await admin.create_topics(new)
        except TopicAlreadyExistsError:
            return []
        created = []
        for topic, code, *rest in response.topic_errors:
            # 36 = TOPIC_ALREADY_EXISTS: another process won the race; that is fine.
            if code not in (0, 36):
                raise RuntimeError(f"creating topic {topic} failed: error {code} {rest}")
            if code == 0:
                created.append(topic)
        log.info("created topics", extra={"topics": created})
        return created
    finally:
        await admin.close()


async def delete_topics(
    bootstrap: str, prefix: str, *, security: KafkaSecurity | None = None
) -> list[str]:
    """Delete every topic carrying the prefix (tests' clean-up); refuse an empty prefix."""
    if not prefix:
        raise ValueError("refusing to delete every topic of the cluster")
    admin = admin_client(bootstrap, "tansiq-topics", security=security)
    await admin.start()
    try:
        doomed = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()
