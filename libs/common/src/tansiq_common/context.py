"""Per-request context carried through logs, audit rows and events without threading it by hand."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
traceparent_var: ContextVar[str | None] = ContextVar("traceparent", default=None)


def current_request_id() -> str | None:
    return request_id_var.get()


def current_traceparent() -> str | None:
    return traceparent_var.get()
