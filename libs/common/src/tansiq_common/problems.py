"""RFC 9457 problem details for every error a client can see; never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from tansiq_common.context import current_request_id
from tansiq_common.domain import DomainError, Unavailable

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem_type(slug: str) -> str:
    return f"urn:tansiq:problem:{slug}"


class Problem(Exception):
    """An error with a status and a problem type; raise it anywhere below an endpoint."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        slug: str | None = None,
        title: str | None = None,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or title or self.title)
        if status is not None:
            self.status = status
        if slug is not None:
            self.slug = slug
        if title is not None:
            self.title = title
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": problem_type(self.slug),
            "title": self.title,
            "status": self.status,
            "detail": self.detail or self.title,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        request_id = current_request_id()
        if request_id:
            body["request_id"] = request_id
        body.update(self.extra)
        return body


class BadRequest(Problem):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(Problem):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(Problem):
    status, slug, title = 403, "forbidden", "Not allowed"


class NotFound(Problem):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(Problem):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(Problem):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class PayloadTooLarge(Problem):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class UnprocessableEntity(Problem):
    status, slug, title = 422, "unprocessable-entity", "Unprocessable entity"


class PreconditionRequired(Problem):
    status, slug, title = 428, "precondition-required", "Precondition required"


class ServiceUnavailable(Problem):
    status, slug, title = 503, "service-unavailable", "Service unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 5, **kw: Any) -> None:
        super().__init__(detail, **kw)
        self.headers.setdefault("Retry-After", str(retry_after))


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    instance = request.url.path if request is not None else None
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        errors.append(
            {
                "field": ".".join(loc[1:]) if len(loc) > 1 else ".".join(loc),
                "location": loc[0] if loc else "body",
                "message": err.get("msg", "invalid"),
                "type": err.get("type", "value_error"),
            }
        )
    return errors


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    if exc.status >= 500:
        log.warning("problem %s: %s", exc.status, exc.detail)
    return problem_response(exc, request)


def from_domain_error(exc: DomainError) -> Problem:
    """The problem a client sees for a broken domain rule: the error's own status and slug."""
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Unavailable) else None
    return Problem(
        exc.message,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        errors=exc.errors or None,
        headers=headers,
        extra=exc.extra,
    )


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(from_domain_error(exc), request)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc)
    if any(e["type"] == "json_invalid" for e in errors):
        # Malformed JSON is a syntax error of the request, not a semantic one.
        return problem_response(
            BadRequest("The request body is not valid JSON.", slug="malformed-json", errors=errors),
            request,
        )
    return problem_response(
        UnprocessableEntity(
            "The request has invalid fields.", slug="validation-error", errors=errors
        ),
        request,
    )


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    try:
        title = HTTPStatus(exc.status_code).phrase
    except ValueError:
        title = "Error"
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem_response(
        Problem(
            detail,
            status=exc.status_code,
            slug=title.lower().replace(" ", "-"),
            title=title,
            headers=exc.headers,
        ),
        request,
    )


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    """The database went away under a request (restart, failover): SQLAlchemy invalidated the
    connection, so a retry gets a new one. Any other database error is a bug: re-raised, 500."""
    assert isinstance(exc, DBAPIError)
    if not exc.connection_invalidated:
        raise exc
    log.warning("database connection lost during %s; answered 503", request.url.path)
    return problem_response(
        ServiceUnavailable("The database connection was lost; retry.", retry_after=1), request
    )


async def _on_pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
    """Every connection of the pool stayed busy for the pool timeout: the process is overloaded,
    not broken. A 503 with Retry-After lets the client (or the gateway) come back."""
    log.warning("no free database connection for %s; answered 503", request.url.path)
    return problem_response(
        ServiceUnavailable("Every database connection is busy; retry shortly.", retry_after=1),
        request,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(PoolTimeout, _on_pool_exhausted)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    # Unexpected exceptions are answered by RequestContextMiddleware, inside the request context.


# For OpenAPI: `responses=problem_responses(404, 409)` on a route documents its problems.
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
