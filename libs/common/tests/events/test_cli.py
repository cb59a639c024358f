"""`tansiq events topics` creates the domain topics once; running it again changes nothing."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka.admin import AIOKafkaAdminClient
from tansiq_cli.events_cmd import app
from tansiq_common.events.topics import DOMAIN_TOPICS, delete_topics
from typer.testing import CliRunner


async def _prefixed_topics(bootstrap: str, prefix: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {t for t in await admin.list_topics() if t.startswith(prefix)}
    finally:
        await admin.close()


def test_topics_command_is_idempotent(kafka_bootstrap, topic_prefix):
    """A plain test: the command runs its own event loop, as it does from a shell."""
    prefix = f"{topic_prefix}cli{uuid.uuid4().hex[:4]}."
    runner = CliRunner()
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TOPIC_PREFIX": prefix}
    try:
        first = runner.invoke(app, ["topics"], env=env)
        second = runner.invoke(app, ["topics"], env=env)
        existing = asyncio.run(_prefixed_topics(kafka_bootstrap, prefix))
    finally:
        asyncio.run(delete_topics(kafka_bootstrap, prefix))
    assert first.exit_code == 0, first.output
    assert f"{len(DOMAIN_TOPICS)} created" in first.output
    assert second.exit_code == 0, second.output
    assert "0 created" in second.output
    assert existing == {f"{prefix}{name}" for name in DOMAIN_TOPICS}
