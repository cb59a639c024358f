"""Client values no service can store are refused with 422 problem+json for every route (NUL in
the URL or a body; a time or an integer out of the database's range), nothing is written, and
an unexpected database error is logged without the values bound to its statement."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.types import Message, Receive, Scope, Send
from tansiq_common.app import create_service_app
from tansiq_common.db import Database, ValueNotStorable
from tansiq_common.inputs import nul_in_body, nul_in_url
from tansiq_common.middleware import RequestContextMiddleware, request_id_from, safe_traceback
from tansiq_common.schema import audit_log
from tansiq_common.settings import ServiceSettings
from tansiq_common.testing.plugin import running_app
from tansiq_common.uow import UnitOfWork

PROBLEM_JSON = "application/problem+json"
SECRET = "amal.secret@example.org"

router = APIRouter()


class Note(BaseModel):
    subject: str
    tags: list[str] = []
    meta: dict[str, Any] = {}


async def _write(request: Request, subject: str) -> None:
    async with UnitOfWork(request.app.state.db.sessionmaker) as uow:
        uow.audit("created", "note", subject, ["subject"])


@router.post("/v1/notes", status_code=201)
async def create_note(note: Note, request: Request) -> dict[str, str]:
    await _write(request, note.subject)
    return {"subject": note.subject}


@router.post("/v1/notes.csv", status_code=201)
async def import_notes(request: Request) -> dict[str, int]:
    lines = (await request.body()).decode().splitlines()
    for line in lines:
        await _write(request, line)
    return {"rows": len(lines)}


@router.get("/v1/notes/{subject}")
async def find_notes(
    subject: str,
    request: Request,
    since: datetime | None = None,
    number: Annotated[int | None, Query()] = None,
) -> dict[str, int]:
    stmt = sa.select(sa.func.count()).select_from(audit_log).where(audit_log.c.entity_id == subject)
    if since is not None:
        stmt = stmt.where(audit_log.c.occurred_at >= since)
    if number is not None:
        stmt = stmt.where(audit_log.c.id == number)
    async with request.app.state.db.sessionmaker() as session:
        return {"count": int((await session.execute(stmt)).scalar_one())}


@router.get("/v1/broken")
async def broken(request: Request, email: str) -> None:
    """A bug: the statement fails whatever the input, with the caller's e-mail bound to it."""
    async with request.app.state.db.sessionmaker() as session:
        await session.execute(sa.text("select * from no_such_table where email = :e"), {"e": email})


@router.get("/v1/mistyped")
async def mistyped(request: Request, email: str) -> None:
    """A bug: text bound where the statement wants an integer (the driver quotes the value)."""
    stmt = sa.select(sa.literal(email, sa.Integer))
    async with request.app.state.db.sessionmaker() as session:
        await session.execute(stmt)


@pytest.fixture
async def client(infra_db) -> AsyncIterator[httpx.AsyncClient]:
    settings = ServiceSettings(database_url=infra_db.url, run_relay=False, run_consumers=False)
    app = create_service_app(service="example", settings=settings, routers=[router])
    async with running_app(app) as client:
        yield client


async def _audit_rows(db: Database) -> int:
    async with db.engine.connect() as conn:
        count = await conn.execute(sa.select(sa.func.count()).select_from(audit_log))
        return int(count.scalar_one())


def _refused(response: httpx.Response, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    return body


# --- NUL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "location", "field"),
    [
        ("/v1/notes/a%00b", "path", ""),
        ("/v1/notes/x?since=%00", "query", "since"),
        ("/v1/notes/x?other=1&number=1%002", "query", "number"),
    ],
)
async def test_nul_in_the_url_is_422(client, path, location, field) -> None:
    body = _refused(await client.get(path))
    assert body["type"] == "urn:tansiq:problem:validation-error"
    assert {"location": location, "field": field} == {
        key: body["errors"][0][key] for key in ("location", "field")
    }


@pytest.mark.parametrize(
    ("note", "field"),
    [
        ({"subject": "a\x00b"}, "subject"),
        ({"subject": "ok", "tags": ["x", "\x00"]}, "tags.1"),
        ({"subject": "ok", "meta": {"k\x00": 1}}, "meta.k\\x00"),
    ],
)
async def test_nul_in_a_json_string_is_422_and_nothing_is_written(
    client, infra_db, note, field
) -> None:
    body = _refused(await client.post("/v1/notes", json=note))
    assert [error["field"] for error in body["errors"]] == [field]
    assert await _audit_rows(infra_db) == 0


async def test_nul_in_merge_patch_json_is_422(client) -> None:
    response = await client.post(
        "/v1/notes",
        content=b'{"subject": "a\\u0000"}',
        headers={"content-type": "application/merge-patch+json"},
    )
    _refused(response)


async def test_nul_in_a_text_body_is_422_and_nothing_is_written(client, infra_db) -> None:
    response = await client.post(
        "/v1/notes.csv", content=b"one\ntw\x00o\n", headers={"content-type": "text/csv"}
    )
    _refused(response)
    assert await _audit_rows(infra_db) == 0


async def test_escaped_backslash_u0000_is_text_not_nul(client, infra_db) -> None:
    response = await client.post(
        "/v1/notes",
        content=b'{"subject": "\\\\u0000"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"subject": "\\u0000"}


def test_nul_detection() -> None:
    assert nul_in_url({"path": "/v1/x", "query_string": b"q=a%2500"}) == []  # "%00" as text
    assert nul_in_url({"path": "/v1/x", "query_string": b"q%00=1"})[0]["location"] == "query"
    assert nul_in_body("application/json", b'{"a": "\\u0000"}')[0]["field"] == "a"
    assert nul_in_body("application/json", b'{"a": "b"}') == []
    assert nul_in_body("application/octet-stream", b"\x00") == []


# --- out of the database's range ------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01T00:00:00%2B05:00",  # before year 1 in UTC
        "since=9999-12-31T23:59:59-05:00",  # after 9999 in UTC
        f"number={2**63}",
        f"number={-(2**63) - 1}",
    ],
)
async def test_values_out_of_range_are_422(client, query) -> None:
    body = _refused(await client.get(f"/v1/notes/x?{query}"))
    assert body["type"] == "urn:tansiq:problem:value-out-of-range"
    assert "9223372036854775808" not in body["detail"]


async def test_in_range_values_pass(client) -> None:
    response = await client.get(f"/v1/notes/x?since=0001-01-02T00:00:00Z&number={2**63 - 1}")
    assert response.status_code == 200, response.text


async def test_the_database_layer_refuses_them_for_any_caller(infra_db) -> None:
    before_year_1 = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))
    for value, type_ in ((before_year_1, sa.DateTime(timezone=True)), (2**63, sa.BigInteger)):
        async with infra_db.engine.connect() as conn:
            with pytest.raises(ValueNotStorable):
                await conn.execute(sa.select(sa.literal(value, type_)))
    async with infra_db.engine.connect() as conn:  # a wrong type bound by the code is a bug
        with pytest.raises(sa.exc.DBAPIError):
            await conn.execute(sa.select(sa.literal("x", sa.Integer)))


# --- unexpected errors keep bound values out of the log ------------------------------------


@pytest.mark.parametrize("route", ["/v1/broken", "/v1/mistyped"])
async def test_unexpected_database_error_logs_no_bound_value(client, caplog, route) -> None:
    with caplog.at_level(logging.ERROR):
        response = await client.get(route, params={"email": SECRET})
    _refused(response, 500)
    assert SECRET not in response.text
    logged = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert logged, "the unexpected error is logged"
    for record in logged:
        text = record.getMessage() + str(record.__dict__.get("exception", ""))
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        assert SECRET not in text
        assert "sqlstate" in str(record.__dict__.get("exception", ""))


def test_safe_traceback_keeps_frames_and_other_messages() -> None:
    try:
        raise RuntimeError("not from the database")
    except RuntimeError as error:
        text = safe_traceback(error)
    assert "builtins.RuntimeError: not from the database" in text
    assert "test_safe_traceback_keeps_frames_and_other_messages" in text


# --- X-Request-ID ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        ("abc-123:x.y_z", True),
        ("abc\n", False),  # `$` would let the trailing newline through
        ("a" * 129, False),
        ("a b", False),
        ("ab\x00", False),
        ("", False),
    ],
)
def test_request_id_is_kept_only_when_safe(incoming, kept) -> None:
    assert (request_id_from(incoming) == incoming) is kept


async def test_unsafe_request_id_never_reaches_the_response() -> None:
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/health/live",
        "query_string": b"",
        "headers": [(b"x-request-id", b"forged\n")],
    }
    await RequestContextMiddleware(app, service="example")(scope, receive, send)
    request_id = dict(sent[0]["headers"])[b"x-request-id"]
    assert b"\n" not in request_id
    assert b"forged" not in request_id
