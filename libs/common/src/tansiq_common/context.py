"""Per-request context carried through logs, audit rows and events without threading it by hand."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
# The trace context when tracing is off: the caller's traceparent (or a new one) for a request,
# the event's for a consumer; carried to the outbox so a trace can still be followed by hand.
traceparent_var: ContextVar[str | None] = ContextVar("traceparent", default=None)

# Set by tansiq_common.tracing once tracing is on: (trace id, span id, sampled) of the active
# span, or None. Left None when tracing is off, so reading the context costs nothing then.
span_context_hook: Callable[[], tuple[str, str, bool] | None] | None = None


def current_request_id() -> str | None:
    return request_id_var.get()


def current_span_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the active span, as hex; None without one (or tracing off)."""
    hook = span_context_hook
    if hook is None:
        return None
    ids = hook()
    return None if ids is None else (ids[0], ids[1])


def current_traceparent() -> str | None:
    """The W3C traceparent to store with what is written now: the active span's when tracing
    is on, else the one the request or event came with."""
    hook = span_context_hook
    if hook is not None and (ids := hook()) is not None:
        trace_id, span_id, sampled = ids
        return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}"
    return traceparent_var.get()
