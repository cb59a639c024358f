"""Idempotency-Key on POST: the same key and body within 24 h answer the first response.

The same key with another body is refused with 422; a key whose first request is still running
answers 409. Only successful (2xx) responses are kept, so a client can fix a rejected request and
send it again under the same key. The caller is identified by the authenticator (sub and org), so
one caller's key never replays another caller's response.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tansiq_common.background import sleep_unless
from tansiq_common.db import Database
from tansiq_common.problems import Conflict, Problem, UnprocessableEntity, problem_response
from tansiq_common.schema import idempotency_keys

log = logging.getLogger(__name__)

CallerIdentifier = Callable[[Scope], Awaitable[str | None]]

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
IN_FLIGHT_LEASE = timedelta(seconds=60)
REPLAYED_HEADERS = {b"content-type", b"location", b"etag"}


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, ttl: timedelta = timedelta(hours=24)) -> None:
        self.app = app
        self.ttl = ttl

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = next((v.decode("latin-1") for k, v in scope["headers"] if k == HEADER), None)
        state = scope["app"].state
        identify: CallerIdentifier | None = getattr(state, "identify_caller", None)
        if key is None or identify is None:
            await self.app(scope, receive, send)
            return
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            await self._problem(
                scope, receive, send, Problem("Idempotency-Key must be 1 to 255 characters.")
            )
            return
        caller = await identify(scope)
        if caller is None:  # unauthenticated: the endpoint answers 401 on its own
            await self.app(scope, receive, send)
            return
        body: bytes = scope.get("state", {}).get("raw_body", b"")
        print_ = fingerprint(scope["method"], scope["path"], scope.get("query_string", b""), body)
        db: Database = state.db
        verdict = await self._claim(db, caller, key, scope, print_)
        if isinstance(verdict, Problem):
            await self._problem(scope, receive, send, verdict)
            return
        if isinstance(verdict, tuple):
            await self._replay(send, *verdict)
            return

        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            await self._settle(db, caller, key, status, headers, b"".join(chunks))

    async def _claim(
        self, db: Database, caller: str, key: str, scope: Scope, print_: str
    ) -> Problem | tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """None: this request runs. A tuple: replay it. A Problem: refuse."""
        now = datetime.now(UTC)
        async with db.engine.begin() as conn:
            await conn.execute(
                sa.delete(idempotency_keys).where(
                    idempotency_keys.c.caller == caller,
                    idempotency_keys.c.key == key,
                    idempotency_keys.c.expires_at < now,
                )
            )
            inserted = await conn.execute(
                insert(idempotency_keys)
                .values(
                    caller=caller,
                    key=key,
                    method=scope["method"],
                    path=scope["path"],
                    fingerprint=print_,
                    locked_until=now + IN_FLIGHT_LEASE,
                    expires_at=now + self.ttl,
                )
                .on_conflict_do_nothing()
                .returning(idempotency_keys.c.key)
            )
            if inserted.first() is not None:
                return None
            row = (
                await conn.execute(
                    sa.select(idempotency_keys)
                    .where(idempotency_keys.c.caller == caller, idempotency_keys.c.key == key)
                    .with_for_update()
                )
            ).one()
            if row.fingerprint != print_:
                return UnprocessableEntity(
                    "This Idempotency-Key was used with a different request.",
                    slug="idempotency-key-reused",
                )
            if row.status_code is not None:
                stored = row.response_headers or []
                return (
                    row.status_code,
                    [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored],
                    row.response_body or b"",
                )
            if row.locked_until and row.locked_until > now:
                return Conflict(
                    "A request with this Idempotency-Key is still being processed.",
                    slug="idempotency-key-in-flight",
                    headers={"Retry-After": "1"},
                )
            # The first attempt died mid-way: this one takes over.
            await conn.execute(
                sa.update(idempotency_keys)
                .where(idempotency_keys.c.caller == caller, idempotency_keys.c.key == key)
                .values(locked_until=now + IN_FLIGHT_LEASE)
            )
            return None

    async def _settle(
        self,
        db: Database,
        caller: str,
        key: str,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        where = (idempotency_keys.c.caller == caller, idempotency_keys.c.key == key)
        async with db.engine.begin() as conn:
            if 200 <= status < 300:
                kept = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in headers
                    if k.lower() in REPLAYED_HEADERS
                ]
                await conn.execute(
                    sa.update(idempotency_keys)
                    .where(*where)
                    .values(
                        status_code=status,
                        response_headers=kept,
                        response_body=body,
                        locked_until=None,
                    )
                )
            else:
                await conn.execute(sa.delete(idempotency_keys).where(*where))

    async def _replay(
        self, send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        headers = [
            *headers,
            (b"idempotent-replayed", b"true"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _problem(self, scope: Scope, receive: Receive, send: Send, problem: Problem) -> None:
        await problem_response(problem)(scope, receive, send)


async def purge_periodically(db: Database, stop: asyncio.Event, interval_s: float) -> None:
    """Forget expired keys (and the responses kept with them) until `stop`."""
    while not await sleep_unless(stop, interval_s):
        try:
            purged = await purge_expired(db)
        except Exception as exc:  # a missed round is retried at the next one
            log.warning("could not purge expired idempotency keys: %r", exc)
            continue
        if purged:
            log.info("purged %d expired idempotency keys", purged)


async def purge_expired(db: Database) -> int:
    async with db.engine.begin() as conn:
        result = await conn.execute(
            sa.delete(idempotency_keys).where(idempotency_keys.c.expires_at < datetime.now(UTC))
        )
        return int(result.rowcount or 0)
