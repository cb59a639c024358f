"""The envelope codec and the AsyncAPI document (pure logic, no broker)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel
from tansiq_common.events.asyncapi import build_document, generate
from tansiq_common.events.catalog import EventDoc
from tansiq_common.events.envelope import Envelope, InvalidEvent, cloudevent_headers

REPO_ROOT = Path(__file__).resolve().parents[4]


@dataclass
class Record:
    value: bytes | None
    headers: list[tuple[str, bytes]]
    key: bytes | None = b"agg-1"
    topic: str = "t.x.registry.organization.v1"
    partition: int = 2
    offset: int = 7
    timestamp: int = 1_700_000_000_000


def headers(**overrides: str) -> list[tuple[str, bytes]]:
    base = {
        k: v.decode()
        for k, v in cloudevent_headers(
            event_id="e-1",
            service="registry",
            event_type="tansiq.registry.organization.created.v1",
            time=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
            subject="agg-1",
            traceparent="00-abc-def-01",
        )
    }
    base.update(overrides)
    return [(k, v.encode()) for k, v in base.items() if v != "<drop>"]


def test_a_cloudevent_round_trips():
    envelope = Envelope.from_record(Record(b'{"id": "agg-1", "version": 3}', headers()))
    assert envelope.id == "e-1"
    assert envelope.source == "/tansiq/registry"
    assert envelope.type == "tansiq.registry.organization.created.v1"
    assert envelope.subject == "agg-1"
    assert envelope.time == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert (envelope.topic, envelope.partition, envelope.offset) == (Record.topic, 2, 7)
    assert envelope.data == {"id": "agg-1", "version": 3}
    assert envelope.version == 3
    assert envelope.headers["traceparent"] == "00-abc-def-01"


@pytest.mark.parametrize(
    ("value", "hdrs", "why"),
    [
        (b"{nope", headers(), "not JSON"),
        (b"[1, 2]", headers(), "not a JSON object"),
        (None, headers(), "no value"),
        (b"{}", headers(ce_id="<drop>"), "ce_id"),
        (b"{}", headers(ce_specversion="0.3"), "ce_specversion"),
        (b"{}", headers(ce_time="yesterday"), "ce_time"),
        (b"{}", headers(**{"content-type": "application/xml"}), "content-type"),
    ],
)
def test_undecodable_messages_are_invalid(value, hdrs, why):
    with pytest.raises(InvalidEvent, match=why):
        Envelope.from_record(Record(value, hdrs))


class ThingState(BaseModel):
    """A thing's full state."""

    id: str
    version: int


def test_the_document_describes_each_event_on_its_topic():
    doc = build_document([EventDoc("registry.organization.v1", "tansiq.test.thing.v1", ThingState)])
    channel = doc["channels"]["registry_organization_v1"]
    assert channel["address"] == "registry.organization.v1"
    assert "test_thing_v1" in channel["messages"]
    message = doc["components"]["messages"]["test_thing_v1"]
    assert message["payload"] == {"$ref": "#/components/schemas/ThingState"}
    assert doc["components"]["schemas"]["ThingState"]["required"] == ["id", "version"]
    assert "registry_organization_v1_dlq" in doc["channels"]


def test_the_committed_asyncapi_document_is_current():
    committed = REPO_ROOT / "docs" / "asyncapi" / "asyncapi.json"
    assert committed.exists(), "run: python -m tansiq_common.events.asyncapi"
    assert json.loads(committed.read_text()) == json.loads(generate()), (
        "docs/asyncapi/asyncapi.json is stale: run `python -m tansiq_common.events.asyncapi`"
    )
