"""OpenTelemetry tracing, off unless an OTLP endpoint is configured.

One trace follows a write from the HTTP request through the outbox row (its ``traceparent``
header), the Kafka message (the relay copies it into the message's ``traceparent`` header) to
every consumer that handles the event (a span per event, child of the producer's context), and
on through the events those consumers publish in turn.

Configured by the standard variables (docs/operations.md, Tracing): on when
``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set or
``OTEL_TRACES_EXPORTER=otlp``, and ``OTEL_SDK_DISABLED`` is not ``true``; exported with OTLP over
HTTP (protobuf) through a batch processor; sampled by ``OTEL_TRACES_SAMPLER`` (default: parent
based, always on). Off, nothing of the SDK is imported, no middleware is installed and the
consumers create no spans: `tracer_for` returns None and every caller checks that first.

Each service gets its own tracer provider (resource ``service.name`` = ``OTEL_SERVICE_NAME``, else
``tansiq-<service>``), so tests running several services in one process see each one's spans
under its own name.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tansiq_common import context

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger(__name__)

SUPPORTED_PROTOCOL = "http/protobuf"


class TracingMisconfigured(ValueError):
    """An OTEL_* setting asks for something this process cannot do; raised at start."""


def _env(name: str, environ: Mapping[str, str]) -> str:
    return environ.get(name, "").strip()


def enabled_by(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the OTEL_* variables turn tracing on (raises on a setting we cannot honour)."""
    env = os.environ if environ is None else environ
    if _env("OTEL_SDK_DISABLED", env).lower() == "true":
        return False
    exporter = _env("OTEL_TRACES_EXPORTER", env).lower()
    if exporter == "none":
        return False
    endpoint = _env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", env) or _env(
        "OTEL_EXPORTER_OTLP_ENDPOINT", env
    )
    if exporter not in ("", "otlp"):
        raise TracingMisconfigured(f"OTEL_TRACES_EXPORTER={exporter!r}: only 'otlp' or 'none'")
    if not (endpoint or exporter == "otlp"):
        return False
    protocol = (
        _env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", env)
        or _env("OTEL_EXPORTER_OTLP_PROTOCOL", env)
        or SUPPORTED_PROTOCOL
    )
    if protocol != SUPPORTED_PROTOCOL:
        raise TracingMisconfigured(
            f"OTLP protocol {protocol!r} is not supported: use {SUPPORTED_PROTOCOL!r} "
            "(the collector's HTTP port, usually 4318)"
        )
    return True


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.providers: dict[str, TracerProvider] = {}
        # Tests: every provider exports here, synchronously, whatever the environment says.
        self.test_exporter: SpanExporter | None = None


_state = _State()


def tracer_for(service: str) -> Tracer | None:
    """The service's tracer, or None when tracing is off (then nothing of the SDK is loaded)."""
    with _state.lock:
        provider = _state.providers.get(service)
        if provider is None:
            if _state.test_exporter is None and not enabled_by():
                return None
            provider = _state.providers[service] = _new_provider(service, _state.test_exporter)
            _install_hooks()
    return provider.get_tracer("tansiq")


def _new_provider(service: str, test_exporter: SpanExporter | None) -> TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or f"tansiq-{service}"
    # Resource.create also reads OTEL_RESOURCE_ATTRIBUTES; the sampler comes from
    # OTEL_TRACES_SAMPLER(_ARG), the batch processor's limits from OTEL_BSP_*.
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if test_exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(test_exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        log.info("tracing on: spans of %s exported with OTLP", name)
    return provider


def _install_hooks() -> None:
    """Point `context.current_traceparent` and the logs at the active span from now on."""
    from opentelemetry import trace

    def span_context() -> tuple[str, str, bool] | None:
        span_ctx = trace.get_current_span().get_span_context()
        if not span_ctx.is_valid:
            return None
        return (
            format(span_ctx.trace_id, "032x"),
            format(span_ctx.span_id, "016x"),
            bool(span_ctx.trace_flags.sampled),
        )

    context.span_context_hook = span_context


@contextmanager
def exporting_to(exporter: SpanExporter) -> Iterator[None]:
    """Tests: trace every service built meanwhile, exporting each span to ``exporter`` as it
    ends; afterwards tracing is as the environment says again."""
    reset()
    _state.test_exporter = exporter
    try:
        yield
    finally:
        reset()


def reset() -> None:
    """Forget every provider (flushing them) and the test exporter."""
    with _state.lock:
        providers, _state.providers = list(_state.providers.values()), {}
        _state.test_exporter = None
        context.span_context_hook = None
    for provider in providers:
        provider.shutdown()


# -- propagation ----------------------------------------------------------------------------


def extracted(carrier: Mapping[str, str]) -> Any:
    """The OpenTelemetry context a W3C ``traceparent``/``tracestate`` carrier names."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract(dict(carrier))


# -- HTTP -----------------------------------------------------------------------------------


# Probes and scrapes every few seconds: a trace each would drown the requests that matter.
UNTRACED_PATHS = frozenset({"/health/live", "/health/ready", "/metrics"})


class TracingMiddleware:
    """A server span per HTTP request, continuing the caller's ``traceparent``; outermost, so
    the request's log lines and the outbox rows it writes carry its ids."""

    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        from opentelemetry.trace import SpanKind, Status, StatusCode

        carrier = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope.get("headers", [])
            if key in (b"traceparent", b"tracestate")
        }
        method = scope.get("method", "GET")
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with self.tracer.start_as_current_span(
            method,
            context=extracted(carrier),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope.get("path", "")},
        ) as span:
            try:
                await self.app(scope, receive, send_with_status)
            finally:
                # The router put the matched route on the scope: name the span after it, not
                # after the path (ids in paths would make every span name unique).
                route = getattr(scope.get("route"), "path", None)
                if route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))


def install_tracing(app: Any, service: str) -> bool:
    """Add the HTTP middleware when tracing is on (the last one added, so outermost)."""
    tracer = tracer_for(service)
    if tracer is None:
        return False
    app.add_middleware(TracingMiddleware, tracer=tracer)
    return True


# -- Kafka ----------------------------------------------------------------------------------


def consumer_span(
    tracer: Tracer | None,
    *,
    topic: str,
    headers: Mapping[str, str],
    attributes: Mapping[str, Any],
    operation: str = "process",
) -> AbstractContextManager[Span | None]:
    """A consumer span for one event, child of the producer's context in its ``traceparent``
    header; nothing when tracing is off."""
    if tracer is None:
        return nullcontext()
    from opentelemetry.trace import SpanKind

    carrier = {k: v for k, v in headers.items() if k in ("traceparent", "tracestate")}
    return tracer.start_as_current_span(
        f"{operation} {topic}",
        context=extracted(carrier),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": operation,
            "messaging.destination.name": topic,
            **attributes,
        },
    )
