"""pytest fixtures for Kafka; loaded by the plugin list in pyproject.toml.

- ``kafka_topics``: the domain topics (and their DLQs) created with the run's prefix, deleted at
  the end of the session.
- ``private_broker()``: a throw-away single-node KRaft broker of its own (own data dir, free ports,
  256 MB heap) that a test may stop and start; the shared broker is never touched.
- ``read_topic(...)``: every record of some topics from the beginning, without a consumer group.
- ``FetchedRecord``: a message as aiokafka hands it to a consumer, for driving a runner's batch
  without a broker.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tansiq_common.events.topics import DOMAIN_TOPICS, delete_topics, ensure_topics
from tansiq_common.testing.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[5]


@dataclass(frozen=True)
class FetchedRecord:
    """A fetched message, with the fields of aiokafka's ConsumerRecord a runner reads."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    @property
    def id(self) -> str:
        """Its CloudEvents id (`ce_id`)."""
        return dict(self.headers)["ce_id"].decode()


@pytest.fixture(scope="session")
async def kafka_topics(kafka_bootstrap: str, topic_prefix: str) -> AsyncIterator[list[str]]:
    """The domain topics with this run's prefix; yields their full names."""
    await ensure_topics(kafka_bootstrap, topic_prefix)
    yield [f"{topic_prefix}{name}" for name in DOMAIN_TOPICS]
    try:
        await delete_topics(kafka_bootstrap, topic_prefix)
    except Exception as exc:  # clean-up only; a leftover prefixed topic harms nobody
        print(f"could not delete the run's topics: {exc!r}")


async def read_topic(
    bootstrap: str,
    topics: Sequence[str],
    *,
    until: Callable[[list[Any]], bool],
    timeout_s: float = 30,
) -> list[Any]:
    """Records of ``topics`` from offset 0 until ``until(records)`` holds or the time is up."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[Any] = []
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(await _partitions(consumer, topic))
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not until(records) and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for tp_records in batch.values():
                records.extend(tp_records)
        return records
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(50):
        await consumer._client.force_metadata_update()
        found = consumer.partitions_for_topic(topic)
        if found:
            return set(found)
        await asyncio.sleep(0.1)
    raise LookupError(f"topic {topic} not found")


# -- a private broker --------------------------------------------------------------------------


def _java_bin() -> str:
    return shutil.which("java") or "java"


def kafka_libs() -> Path:
    return Path(os.environ.get("TANSIQ_KAFKA_LIBS", REPO_ROOT / ".local" / "kafka" / "libs"))


@dataclass
class PrivateBroker:
    data_dir: Path
    port: int
    controller_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker.out"

    def _java(self, *args: str, heap: str = "-Xmx256m") -> list[str]:
        return [
            _java_bin(),
            heap,
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            f"-Dlog4j2.configurationFile={REPO_ROOT / 'ops/local/kafka/log4j2-tools.xml'}",
            "-cp",
            f"{kafka_libs()}/*",
            *args,
        ]

    def format(self) -> None:
        props = self.data_dir / "server.properties"
        host = "127.0.0.1"
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers={host}:{self.controller_port}",
                    f"listeners=PLAINTEXT://{host}:{self.port},CONTROLLER://{host}:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://{host}:{self.port},CONTROLLER://{host}:{self.controller_port}",
                    "inter.broker.listener.name=PLAINTEXT",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.data_dir / 'data'}",
                    "num.partitions=3",
                    "auto.create.topics.enable=false",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=3",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "log.retention.hours=-1",
                    "",
                ]
            )
        )
        # A Kafka Uuid is 16 random bytes, URL-safe base64 without padding.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        subprocess.run(  # noqa: S603 - our own java and jars
            self._java(
                "kafka.tools.StorageTool", "format", "--standalone",
                "-t", cluster_id, "-c", str(props),
            ),
            check=True,
            capture_output=True,
        )  # fmt: skip

    def start(self, ready_timeout: float = 60) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our own java and jars
            [
                _java_bin(), "-Xms128m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                f"-Dkafka.logs.dir={self.data_dir}",
                f"-Dlog4j2.configurationFile={REPO_ROOT / 'ops/local/kafka/log4j2.xml'}",
                "-cp", f"{kafka_libs()}/*", "kafka.Kafka", str(self.data_dir / "server.properties"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"private broker exited:\n{self.log_path.read_text()[-3000:]}")
            with socket.socket() as sock:
                sock.settimeout(0.2)
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"private broker not up within {ready_timeout}s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def private_broker() -> Iterator[PrivateBroker]:
    """A broker of the test's own; ``stop()`` / ``start()`` it at will. Cleaned up on exit."""
    if shutil.which("java") is None or not kafka_libs().is_dir():
        pytest.skip("no Java or Kafka jars for a private broker (run `ops/local/stack.sh up`)")
    data_dir = Path(tempfile.mkdtemp(prefix="tansiq-kafka-"))
    broker = PrivateBroker(data_dir, free_port(), free_port())
    try:
        broker.format()
        broker.start()
        yield broker
    finally:
        broker.stop(signal.SIGKILL)
        shutil.rmtree(data_dir, ignore_errors=True)
