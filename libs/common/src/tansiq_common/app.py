"""The app factory every service uses: lifespan, middleware, problem handlers, health, metrics."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import timedelta
from http import HTTPStatus
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp

from tansiq_common import health, metrics
from tansiq_common.background import running_in_background
from tansiq_common.db import Database
from tansiq_common.docs import install_docs
from tansiq_common.idempotency import IdempotencyMiddleware, purge_periodically
from tansiq_common.logging import configure_logging
from tansiq_common.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from tansiq_common.problems import install_problem_handlers
from tansiq_common.settings import ServiceSettings
from tansiq_common.tracing import install_tracing

log = logging.getLogger(__name__)

# A background component (relay, consumer, replica refresher) started with the app and stopped
# before the database closes: an async context manager built from the running app.
Component = Callable[[FastAPI], AbstractAsyncContextManager[Any]]

IDEMPOTENCY_PURGE_INTERVAL_S = 3600.0
# New container objects between two young collections while a service runs (CPython: 700).
GC_YOUNG_THRESHOLD = 20_000

PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["type", "title", "status"],
}


def create_service_app(
    *,
    service: str,
    settings: ServiceSettings,
    routers: Sequence[APIRouter] = (),
    components: Sequence[Component] = (),
    version: str = "0.1.0",
    description: str = "",
    organizations: sa.Table | None = None,
) -> FastAPI:
    """A service's app: lifespan (database, background components), middleware, problem
    handlers, health, metrics, the access model and the audit API.

    `organizations`: the table caller scopes are computed over; the registry passes its own
    (read live), every other service gets the replica fed by the registry's events (cached
    for a few seconds), whose table its migrations create.
    """
    # Imported here: the access model's replica consumer is itself an app component.
    from tansiq_common.auth.directory import ScopeDirectory, organization_directory
    from tansiq_common.auth.install import install_auth

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(service, settings.log_level)
        db = Database(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
            statement_timeout_ms=settings.database_statement_timeout_ms,
            application_name=f"tansiq-{service}",
            pool_timeout=settings.database_pool_timeout_s,
            read_pool_size=settings.database_read_pool_size,
            write_pool_size=settings.database_write_pool_size,
        )
        app.state.db = db
        # Reads: one statement each, no transaction of their own (no BEGIN/ROLLBACK round trips).
        app.state.read_engine = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        app.state.reads = db.reads
        app.state.readiness_checks["database"] = db.ping
        app.state.organization_directory = getattr(
            app.state, "organization_directory_override", None
        ) or ScopeDirectory(
            db.sessionmaker,
            organization_directory if organizations is None else organizations,
            cache_seconds=5 if organizations is None else 0,
            reads=db.reads,
        )
        async with AsyncExitStack() as stack:
            stack.push_async_callback(db.dispose)
            stop = asyncio.Event()
            await stack.enter_async_context(
                running_in_background(
                    purge_periodically(db, stop, IDEMPOTENCY_PURGE_INTERVAL_S),
                    stop,
                    name=f"{service}-idempotency-purge",
                    grace_s=5,
                )
            )
            for component in components:
                await stack.enter_async_context(component(app))
            # What exists now (modules, routes, schemas, the pool) lives as long as the process:
            # kept out of the collector's generations, a full collection no longer walks it,
            # which shortens the pauses that make the slowest requests. (No collection first:
            # the little startup garbage frozen with it is not worth a pause per app start.)
            gc.freeze()
            # A young collection after every 700 new containers (the default) walks a bulk
            # request's live objects again and again (an ingested batch of 500: a tenth of its
            # CPU); reference counting frees nearly everything anyway, so collect for cycles
            # after every GC_YOUNG_THRESHOLD instead.
            thresholds = gc.get_threshold()
            gc.set_threshold(GC_YOUNG_THRESHOLD, *thresholds[1:])
            log.info("%s started", service, extra={"environment": settings.environment})
            yield
            log.info("%s stopping", service)
            gc.set_threshold(*thresholds)
            gc.unfreeze()  # collectable again once stopped (tests start many apps)

    app = FastAPI(
        title=f"Tansiq {service}",
        version=version,
        description=description,
        lifespan=lifespan,
        # /docs is served with Swagger UI's files from the service itself (tansiq_common.docs).
        docs_url=None,
        redoc_url=None,
        # FastAPI's own OpenTelemetry off: the services trace with tansiq_common.tracing, and
        # its per-request check for a configured provider is a cost on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.service = service
    app.state.settings = settings
    app.state.readiness_checks = {}
    app.state.advisory_checks = {}
    install_problem_handlers(app)
    # One layer of our own: the request context, so every log line and problem carries the
    # request id; requests with a body go on through the body limit, then idempotency (which
    # sees the whole body); reads skip both (tansiq_common.middleware).
    app.add_middleware(_service_middleware, service=service, settings=settings)
    install_tracing(app, service)  # outermost when tracing is on; nothing when it is off
    app.include_router(health.router)
    app.include_router(metrics.router)
    install_docs(app)
    install_auth(app, settings)
    for router in routers:
        app.include_router(router)
    _document_problem_schema(app)
    return app


def _service_middleware(app: ASGIApp, *, service: str, settings: ServiceSettings) -> ASGIApp:
    ttl = timedelta(hours=settings.idempotency_ttl_hours)
    with_body = BodySizeLimitMiddleware(
        IdempotencyMiddleware(app, ttl=ttl), max_bytes=settings.max_body_bytes
    )
    return RequestContextMiddleware(app, service=service, body_layers=with_body)


_PROBLEM_CONTENT = {
    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
}


def _problems_on_every_operation(schema: dict[str, Any]) -> None:
    """What every operation can answer whatever its route says: 422 for invalid input (as
    problem+json, not FastAPI's default HTTPValidationError), and for operations with a body,
    400 for malformed JSON and 413 for a body over the limit."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            wanted = ["422"] + (["400", "413"] if "requestBody" in operation else [])
            for status in wanted:
                phrase = HTTPStatus(int(status)).phrase
                responses[status] = {"description": phrase, "content": _PROBLEM_CONTENT}


def _document_problem_schema(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
                PROBLEM_SCHEMA
            )
            _problems_on_every_operation(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
