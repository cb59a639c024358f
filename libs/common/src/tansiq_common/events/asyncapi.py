"""Generates the AsyncAPI 3.0 document of Tansiq's events from the pydantic payload models.

``python -m tansiq_common.events.asyncapi`` writes docs/asyncapi/asyncapi.json;
``--check`` exits 1 when the committed file differs from what the code says (CI, and a test).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tansiq_common.events.catalog import EventDoc, discover
from tansiq_common.events.contracts import CONTRACTS, INTEGRATION_SOURCE_PREFIX, TopicContract
from tansiq_common.events.topics import DOMAIN_TOPICS, TopicSpec

DEFAULT_OUTPUT = Path("docs/asyncapi/asyncapi.json")

CLOUDEVENT_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0, Kafka protocol binding, binary content mode.",
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "format": "uuid", "description": "Unique per event."},
        "ce_source": {
            "type": "string",
            "description": (
                f"/tansiq/<service>; {INTEGRATION_SOURCE_PREFIX}<system> for integration jobs. "
                "Must be the channel's producer, or consumers dead-letter the event."
            ),
        },
        "ce_type": {"type": "string"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "The aggregate id (also the key)."},
        "content-type": {"type": "string", "const": "application/json"},
        "traceparent": {"type": "string", "description": "W3C trace context, when known."},
        "redrive_count": {
            "type": "string",
            "description": (
                "On a message sent back from the DLQ (tansiq events redrive): how often this "
                "event was re-driven. Consumers dead-letter it above CONSUMER_MAX_REDRIVES."
            ),
        },
        "redriven_at": {"type": "string", "format": "date-time"},
        "redriven_by": {"type": "string", "description": "The operator who re-drove it."},
        "redriven_from": {
            "type": "string",
            "description": "The dead letter it came from: <dlq topic>[<partition>]@<offset>.",
        },
    },
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject"],
}

DLQ_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": (
        "The original headers plus why and where the message failed. dlq_reason: invalid "
        "(undecodable), wrong-source (ce_source is not the topic's producer), unknown-type "
        "(ce_type is not one of the topic's), failed (the consumer gave up after retries), "
        "redrive-limit (re-driven more than CONSUMER_MAX_REDRIVES times)."
    ),
    "properties": {
        name: {"type": "string"}
        for name in (
            "dlq_reason",
            "dlq_error_type",
            "dlq_error",
            "dlq_source_topic",
            "dlq_source_partition",
            "dlq_source_offset",
            "dlq_consumer",
            "dlq_attempts",
        )
    },
}


def _message_name(doc: EventDoc) -> str:
    return doc.type.removeprefix("tansiq.").replace(".", "_")


def _channel_description(contract: TopicContract | None) -> str:
    description = "Prefixed with TOPIC_PREFIX when one is set."
    if contract is None:
        return description
    producer = (
        f"integration jobs ({contract.producer}<system>)"
        if contract.producer.endswith("/")
        else contract.producer
    )
    return (
        f"{description} Written only by {producer}: consumers dead-letter events with another "
        "ce_source or a ce_type not listed here."
    )


def build_document(
    events: Iterable[EventDoc],
    topics: Mapping[str, TopicSpec] = DOMAIN_TOPICS,
    contracts: Mapping[str, TopicContract] = CONTRACTS,
) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    by_topic: dict[str, list[EventDoc]] = {}
    for doc in events:
        by_topic.setdefault(doc.topic, []).append(doc)
    for doc in [d for docs in by_topic.values() for d in docs]:
        schema = doc.model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[doc.model.__name__] = schema
        messages[_message_name(doc)] = {
            "name": doc.type,
            "title": doc.type,
            "summary": doc.summary or doc.model.__doc__ or doc.type,
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
            "payload": {"$ref": f"#/components/schemas/{doc.model.__name__}"},
            "bindings": {"kafka": {"key": {"type": "string", "description": "aggregate id"}}},
        }
    schemas["CloudEventHeaders"] = CLOUDEVENT_HEADERS
    schemas["DeadLetterHeaders"] = DLQ_HEADERS
    for name in sorted({*topics, *by_topic}):
        spec = topics.get(name)
        channel: dict[str, Any] = {
            "address": name,
            "description": _channel_description(contracts.get(name)),
            "messages": {
                _message_name(doc): {"$ref": f"#/components/messages/{_message_name(doc)}"}
                for doc in by_topic.get(name, [])
            },
        }
        if spec is not None:
            channel["bindings"] = {
                "kafka": {
                    "partitions": spec.partitions,
                    "topicConfiguration": {"retention.ms": spec.retention_ms},
                }
            }
        channels[name.replace(".", "_")] = channel
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Tansiq events",
            "version": "1.0.0",
            "description": (
                "Domain events of Tansiq (docs/api.md): one topic per aggregate, key = aggregate "
                "id, value = the aggregate's full state with its version. Generated from the "
                "pydantic models by `python -m tansiq_common.events.asyncapi`; do not edit."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": messages, "schemas": schemas},
    }


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate() -> str:
    return render(build_document(discover()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = generate()
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: run python -m tansiq_common.events.asyncapi")
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
