"""Idempotency-Key on POST: the same key and body within 24 h answer the first response.

The same key with another body is refused with 422; a key whose first request is still running
answers 409 with Retry-After. Only successful (2xx) responses are kept, so a client can fix a
rejected request (or retry after a 5xx) and send it again under the same key. The caller is
identified by the authenticator (sub and org, encoded so that no two callers share a key), so
one caller's key never replays another caller's response.

While a request runs, its key is leased: a heartbeat extends the lease every third of its length,
so a retry of a long request (an import) answers 409 for as long as the first one runs, and a
request whose process died is taken over once its lease ran out. The lease's end time doubles as
a fencing token: a request that lost its lease (its heartbeat could not reach the database) does
not overwrite the response of the request that took over.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tansiq_common.background import sleep_unless
from tansiq_common.db import Database
from tansiq_common.problems import Conflict, Problem, UnprocessableEntity, problem_response
from tansiq_common.schema import idempotency_keys

log = logging.getLogger(__name__)

# The caller as parts (e.g. (sub, org)), encoded by `caller_key`; a str is used as it is, so it
# must be unambiguous already. None: unauthenticated.
CallerIdentifier = Callable[[Scope], Awaitable[str | Sequence[str | None] | None]]

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 255
IN_FLIGHT_LEASE = timedelta(seconds=60)  # renewed while the request runs
RETRY_AFTER_S = 1
REPLAYED_HEADERS = {b"content-type", b"location", b"etag"}


def caller_key(*parts: str | None) -> str:
    """One string per caller that no other caller can produce: a JSON array of the parts, so a
    `|` (or anything else) inside a subject cannot make it equal another subject's key."""
    return json.dumps(list(parts), ensure_ascii=False, separators=(",", ":"))


def _caller(identified: str | Sequence[str | None]) -> str:
    return identified if isinstance(identified, str) else caller_key(*identified)


@dataclass
class _Lease:
    """The in-flight lease this request holds: `until` is also its fencing token."""

    until: datetime
    lost: bool = False


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        ttl: timedelta = timedelta(hours=24),
        lease: timedelta = IN_FLIGHT_LEASE,
    ) -> None:
        self.app = app
        self.ttl = ttl
        self.lease = lease

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
        identified = await identify(scope)
        if identified is None:  # unauthenticated: the endpoint answers 401 on its own
            await self.app(scope, receive, send)
            return
        caller = _caller(identified)
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
        lease = verdict

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
            async with self._leased(db, caller, key, lease):
                await self.app(scope, receive, capture)
        finally:
            await self._settle(db, caller, key, lease, status, headers, b"".join(chunks))

    async def _claim(
        self, db: Database, caller: str, key: str, scope: Scope, print_: str
    ) -> Problem | tuple[int, list[tuple[bytes, bytes]], bytes] | _Lease:
        """A lease: this request runs. A tuple: replay it. A Problem: refuse."""
        now = datetime.now(UTC)
        lease = _Lease(now + self.lease)
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
                    locked_until=lease.until,
                    expires_at=now + self.ttl,
                )
                .on_conflict_do_nothing()
                .returning(idempotency_keys.c.key)
            )
            if inserted.first() is not None:
                return lease
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
                    headers={"Retry-After": str(RETRY_AFTER_S)},
                )
            # The first attempt died mid-way (its lease ran out unrenewed): this one takes over.
            await conn.execute(
                sa.update(idempotency_keys)
                .where(idempotency_keys.c.caller == caller, idempotency_keys.c.key == key)
                .values(locked_until=lease.until)
            )
            return lease

    @contextlib.asynccontextmanager
    async def _leased(
        self, db: Database, caller: str, key: str, lease: _Lease
    ) -> AsyncIterator[None]:
        """Renew the lease while the request runs."""
        stop = asyncio.Event()
        heartbeat = asyncio.create_task(
            self._renew(db, caller, key, lease, stop), name=f"idempotency-lease-{key[:40]}"
        )
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await heartbeat

    async def _renew(
        self, db: Database, caller: str, key: str, lease: _Lease, stop: asyncio.Event
    ) -> None:
        interval = self.lease.total_seconds() / 3
        while not await sleep_unless(stop, interval):
            until = datetime.now(UTC) + self.lease
            try:
                async with db.engine.begin() as conn:
                    renewed = await conn.execute(
                        sa.update(idempotency_keys)
                        .where(*self._held(caller, key, lease))
                        .values(locked_until=until)
                    )
            except Exception as exc:  # the next round tries again, within the lease
                log.warning("could not renew an idempotency lease: %r", exc)
                continue
            if not renewed.rowcount:
                lease.lost = True
                log.warning("an idempotency lease was taken over while its request ran")
                return
            lease.until = until

    @staticmethod
    def _held(caller: str, key: str, lease: _Lease) -> tuple[sa.ColumnElement[bool], ...]:
        """The row as this request leased it: not settled, not taken over."""
        return (
            idempotency_keys.c.caller == caller,
            idempotency_keys.c.key == key,
            idempotency_keys.c.status_code.is_(None),
            idempotency_keys.c.locked_until == lease.until,
        )

    async def _settle(
        self,
        db: Database,
        caller: str,
        key: str,
        lease: _Lease,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        where = self._held(caller, key, lease)
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
