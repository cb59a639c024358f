"""Tracing settings, the trace context stored with events, and trace ids in the logs."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tansiq_common import tracing
from tansiq_common.context import current_traceparent, traceparent_var
from tansiq_common.logging import JsonFormatter
from tansiq_common.tracing import TracingMisconfigured, enabled_by


@pytest.mark.parametrize(
    ("environ", "enabled"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp"}, False),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, True),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            },
            True,
        ),
    ],
)
def test_tracing_is_on_only_when_an_otlp_exporter_is_asked_for(environ, enabled):
    assert enabled_by(environ) is enabled


@pytest.mark.parametrize(
    "environ",
    [
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
        {"OTEL_TRACES_EXPORTER": "zipkin"},
    ],
)
def test_a_setting_that_cannot_be_honoured_fails_at_start(environ):
    with pytest.raises(TracingMisconfigured):
        enabled_by(environ)


def _log_line() -> dict:
    record = logging.makeLogRecord(
        {"name": "x", "levelname": "INFO", "levelno": 20, "msg": "hello"}
    )
    return json.loads(JsonFormatter("registry").format(record))


def test_logs_and_stored_events_carry_the_active_spans_ids():
    token = traceparent_var.set("00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    try:
        # Off: no ids in the logs; events keep the traceparent the request came with.
        assert "trace_id" not in _log_line()
        assert current_traceparent() == "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
        exporter = InMemorySpanExporter()
        with tracing.exporting_to(exporter):
            tracer = tracing.tracer_for("registry")
            assert tracer is not None
            assert "trace_id" not in _log_line()  # on, but no span active
            with tracer.start_as_current_span("work") as span:
                ctx = span.get_span_context()
                line = _log_line()
                stored = current_traceparent()
            after = _log_line()
    finally:
        traceparent_var.reset(token)
    trace_id, span_id = format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
    assert (line["trace_id"], line["span_id"]) == (trace_id, span_id)
    assert stored == f"00-{trace_id}-{span_id}-01"
    assert "trace_id" not in after
    assert [s.name for s in exporter.get_finished_spans()] == ["work"]
    # After the test exporter is gone, tracing is as the (empty) environment says: off.
    assert tracing.tracer_for("registry") is None


def test_an_unsampled_span_is_stored_as_unsampled(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
    with tracing.exporting_to(InMemorySpanExporter()):
        tracer = tracing.tracer_for("registry")
        assert tracer is not None
        with tracer.start_as_current_span("work"):
            stored = current_traceparent()
    assert stored is not None
    assert stored.endswith("-00")
