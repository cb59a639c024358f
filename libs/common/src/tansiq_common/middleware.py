"""ASGI middleware every service runs: request id, access log, metrics, body size limit, and the
client values no service can store (tansiq_common.inputs)."""

from __future__ import annotations

import logging
import os
import re
import time
import traceback
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tansiq_common.context import request_id_var, traceparent_var
from tansiq_common.domain import DomainError
from tansiq_common.inputs import nul_in_body, nul_in_url, nul_refused
from tansiq_common.metrics import HTTP_LATENCY, HTTP_REQUESTS
from tansiq_common.problems import (
    PayloadTooLarge,
    Problem,
    from_domain_error,
    problem_response,
)

access_log = logging.getLogger("tansiq.access")
log = logging.getLogger(__name__)

INTERNAL_ERROR = Problem(
    "An unexpected error occurred. Quote the request id when reporting it.",
    status=500,
    slug="internal-error",
    title="Internal server error",
)

# A client's request id goes into every log line and audit row: short, and nothing but these
# characters (fullmatch: `$` would let a trailing newline through), or it is replaced.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


def request_id_from(incoming: str | None) -> str:
    """The client's X-Request-ID when it is safe to log and store, else a new one."""
    if incoming and _SAFE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return os.urandom(16).hex()  # as unique as a UUID4's hex, without building a UUID


def new_traceparent() -> str:
    """A W3C traceparent with new random trace and span ids (sampled)."""
    ids = os.urandom(24).hex()
    return f"00-{ids[:32]}-{ids[32:]}-01"


def _from_database(exc: BaseException) -> bool:
    return type(exc).__module__.split(".", 1)[0] in ("sqlalchemy", "asyncpg")


def safe_traceback(exc: BaseException) -> str:
    """The traceback of an unexpected error, for the log, without what a database error's
    message may quote: the values bound to the statement (e-mails, phone numbers). Such
    messages, and those of the errors that caused them, are replaced by the SQLSTATE and the
    statement's text (which has placeholders, not values)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    parts = []
    withheld = False
    for error in chain:  # outermost first
        withheld = withheld or _from_database(error)
        if withheld:
            sqlstate = getattr(error, "sqlstate", None) or getattr(
                getattr(error, "orig", None), "sqlstate", None
            )
            statement = getattr(error, "statement", None)
            message = f"(message withheld; sqlstate {sqlstate})" + (
                f" SQL: {statement}" if statement else ""
            )
        else:
            message = str(error)
        name = f"{type(error).__module__}.{type(error).__qualname__}"
        frames = "".join(traceback.format_tb(error.__traceback__))
        parts.append(f"{name}: {message}\n{frames}")
    return "caused by ".join(parts)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


# Requests that carry no body: neither the body limit nor Idempotency-Key concerns them.
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})


class RequestContextMiddleware:
    """Assigns the request id, logs one line per request and records its metrics.

    `body_layers` (the body limit and idempotency middleware, wrapped around the same `app`) is
    what requests that may carry a body go through; reads go straight to `app`. One layer
    instead of three for a GET: every await of a request resumes each frame of the stack.
    """

    def __init__(self, app: ASGIApp, service: str, body_layers: ASGIApp | None = None) -> None:
        self.app = app
        self.with_body = body_layers or app
        self.service = service
        # The metric series of each (method, route template, status), looked up once: labels()
        # validates and hashes its values under a lock on every call. Bounded by the routes.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _metrics_of(self, method: str, route: str, status: int) -> tuple[Any, Any]:
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = (
                HTTP_REQUESTS.labels(self.service, method, route, str(status)),
                HTTP_LATENCY.labels(self.service, method, route),
            )
            self._series[key] = series
        return series

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(_header(scope, b"x-request-id"))
        traceparent = _header(scope, b"traceparent")
        if not traceparent or not _TRACEPARENT.fullmatch(traceparent):
            traceparent = new_traceparent()
        rid_token = request_id_var.set(request_id)
        tp_token = traceparent_var.set(traceparent)
        status = 500
        response_started = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            nul = nul_in_url(scope)
            if nul:
                await problem_response(nul_refused(nul))(scope, receive, send_with_id)
            elif scope["method"] in _BODYLESS:
                await self.app(scope, receive, send_with_id)
            else:
                await self.with_body(scope, receive, send_with_id)
        except Exception as exc:
            # Handled here, inside the request's context, so the log line and the problem
            # carry the request id; the client never sees the stack trace. A problem or a
            # domain error raised outside the routes (by a middleware) is answered as such.
            if isinstance(exc, DomainError):
                answer = from_domain_error(exc)
            elif isinstance(exc, Problem):
                answer = exc
            else:
                answer = INTERNAL_ERROR
                log.error(
                    "unhandled error on %s %s: %s",
                    scope["method"],
                    scope["path"],
                    type(exc).__name__,
                    extra={"exception": safe_traceback(exc)},
                )
            if not response_started:
                await problem_response(answer)(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            method = scope["method"]
            if not route.startswith("/health") and route != "/metrics":
                requests, latency = self._metrics_of(method, route, status)
                requests.inc()
                latency.observe(elapsed)
                access_log.info(
                    "%s %s %s",
                    method,
                    scope["path"],
                    status,
                    extra={
                        "method": method,
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(rid_token)
            traceparent_var.reset(tp_token)


class BodySizeLimitMiddleware:
    """Refuses bodies over the limit with 413, whether declared or streamed.

    The body is buffered (it is at most `max_bytes`) and handed on whole, so the limit holds
    for chunked uploads too and the application still reads it as usual.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODYLESS:
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        nul = nul_in_body(_header(scope, b"content-type"), body)
        if nul:
            await problem_response(nul_refused(nul))(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        scope.setdefault("state", {})["raw_body"] = body
        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            PayloadTooLarge(f"The request body exceeds {self.max_bytes} bytes.")
        )
        await response(scope, receive, send)


def client_ip(scope: dict[str, Any]) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None
