"""One trace from a write to the service that consumes its event (real PostgreSQL, real Kafka).

The registry creates an organization: its HTTP request span's context is stored with the outbox
row, the relay puts it in the Kafka message's `traceparent` header, and agreements' consumer of
the organization directory handles the event in a span of the same trace, child of that request
span. With tracing off (the default) no span is made and nothing of the SDK is loaded.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import uuid

import asyncpg
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from tansiq_common import tracing
from tansiq_common.events.topics import ensure_topics
from tansiq_common.testing import databases
from tansiq_common.testing.kafka import read_topic
from tansiq_common.testing.plugin import running_app

pytestmark = pytest.mark.e2e


def _service(span) -> str:
    return span.resource.attributes["service.name"]


def _hex(number: int, width: int) -> str:
    return format(number, f"0{width}x")


async def _wait_for(predicate, timeout_s: float = 180):
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        found = predicate()
        if found:
            return found
        await asyncio.sleep(0.2)
    return predicate()


async def test_a_writes_trace_reaches_the_consuming_services_span(
    build_service_app, kafka_topics, kafka_bootstrap, topic_prefix, auth_headers
):
    # Topics of this test alone: the consumer would otherwise read every earlier test's events.
    topic_prefix = f"{topic_prefix}trace{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka_bootstrap, topic_prefix)
    exporter = InMemorySpanExporter()
    with tracing.exporting_to(exporter):
        registry, registry_settings = await build_service_app(
            "registry", run_relay=True, topic_prefix=topic_prefix
        )
        agreements, _ = await build_service_app(
            "agreements", run_consumers=True, topic_prefix=topic_prefix
        )
        admin = auth_headers(str(uuid.uuid4()), ["registry_admin"], sub="tracer")
        name = f"Traced ministry {uuid.uuid4().hex[:8]}"
        async with running_app(agreements), running_app(registry) as client:
            created = await client.post(
                "/v1/organizations",
                json={"kind": "ministry", "names": {"en": name}, "country": "QA"},
                headers=admin,
            )
            assert created.status_code == 201, created.text
            org_id = created.json()["id"]

            request_span = next(
                s
                for s in exporter.get_finished_spans()
                if s.kind == SpanKind.SERVER and s.name == "POST /v1/organizations"
            )
            trace_id = request_span.context.trace_id

            def consumed():
                return [
                    s
                    for s in exporter.get_finished_spans()
                    if s.kind == SpanKind.CONSUMER
                    and _service(s) == "tansiq-agreements"
                    and s.context.trace_id == trace_id
                ]

            consumer_spans = await _wait_for(consumed)
            topic = f"{topic_prefix}registry.organization.v1"
            records = await read_topic(
                kafka_bootstrap,
                [topic],
                until=lambda rs: any(r.key == org_id.encode() for r in rs),
            )

        conn = await asyncpg.connect(databases._plain(registry_settings.database_url))
        try:
            stored = await conn.fetchval(
                "select headers::text from outbox where aggregateid = $1", org_id
            )
        finally:
            await conn.close()

    expected = f"00-{_hex(trace_id, 32)}-{_hex(request_span.context.span_id, 16)}-01"
    # The request span: named after the route, the registry's, a root (no traceparent sent).
    assert _service(request_span) == "tansiq-registry"
    assert request_span.attributes["http.route"] == "/v1/organizations"
    assert request_span.attributes["http.response.status_code"] == 201
    assert request_span.parent is None
    # The outbox row stored that span's context, and the relay put it on the message.
    assert json.loads(stored)["traceparent"] == expected
    message = next(r for r in records if r.key == org_id.encode())
    assert dict(message.headers)["traceparent"].decode() == expected
    # Agreements handled the event in a span of the same trace, child of the request span.
    assert consumer_spans, "no span of agreements' consumer in the write's trace"
    handled = consumer_spans[0]
    assert handled.parent is not None
    assert handled.parent.span_id == request_span.context.span_id
    assert handled.parent.is_remote
    assert handled.name == f"process {topic}"
    assert handled.attributes["messaging.destination.name"] == topic
    assert handled.attributes["cloudevents.event_type"].startswith("tansiq.registry.organization")
    assert handled.attributes["messaging.message.id"] == dict(message.headers)["ce_id"].decode()
    assert handled.attributes["tansiq.outcome"] == "applied"


async def test_a_callers_traceparent_is_continued(build_service_app, auth_headers):
    exporter = InMemorySpanExporter()
    caller_trace, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    with tracing.exporting_to(exporter):
        registry, _settings = await build_service_app("registry")
        async with running_app(registry) as client:
            probe = await client.get("/health/live")
            response = await client.get(
                "/v1/organizations",
                headers={
                    **auth_headers(str(uuid.uuid4()), ["viewer"]),
                    "traceparent": f"00-{caller_trace}-{caller_span}-01",
                },
            )
    assert response.status_code == 200, response.text
    assert probe.status_code == 200
    # One server span: the request, not the probe.
    (span,) = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert _hex(span.context.trace_id, 32) == caller_trace
    assert span.parent is not None
    assert _hex(span.parent.span_id, 16) == caller_span
    assert span.name == "GET /v1/organizations"


def test_tracing_is_off_by_default_and_loads_no_sdk(tmp_path):
    """In a fresh interpreter with no OTEL_* variable: the app gets no tracing middleware, a
    consumer no tracer, and the SDK is never imported."""
    script = textwrap.dedent(
        """
        import os, sys
        for name in [n for n in os.environ if n.startswith("OTEL_")]:
            del os.environ[name]
        from tansiq_registry.app import create_app
        from tansiq_registry.settings import RegistrySettings
        from tansiq_common.tracing import TracingMiddleware, tracer_for
        from tansiq_common import context
        app = create_app(RegistrySettings(run_relay=False, run_consumers=False))
        classes = [m.cls for m in app.user_middleware]
        assert TracingMiddleware not in classes, classes
        assert tracer_for("registry") is None
        assert context.span_context_hook is None
        loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk"))
        assert not loaded, loaded
        print("off")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("off")
