"""Records another service owns, checked where it is cheapest: the local replica, then the owner.

A service that must check another domain's records (agreements: that an owner and its parties
exist in the registry; engagements: organizations, and the agreements an engagement links to)
keeps a replica fed by the owner's events. A replica can lag (a record created a moment ago) or
miss records (a replica rebuilt late), so a miss is asked of the owning service over REST, with
a short timeout and the caller's own bearer token (the owner applies its own access rules: a
record the caller may not see is absent, exactly as one that does not exist). When the owner
cannot answer, the lookup raises `ReferenceUnavailable` (503 with Retry-After): a record that
cannot be checked is never accepted silently.

One `ReferenceLookup` per record type; it knows no domain. The caller says which replica table
to read, which REST path answers one record, and how a replica row or a REST body becomes the
value it wants (one function often serves both when the column names match the JSON fields)::

    organizations = ReferenceLookup(
        what="organization",
        replica=organization_directory,  # tansiq_common.auth.directory, fed by the registry
        base_url=settings.registry_base_url,  # REGISTRY_BASE_URL
        path="/v1/organizations/{id}",
        from_row=OrgRef.from_mapping,
        from_json=OrgRef.from_mapping,
    )
    found = await organizations.find_many(uow, ids, bearer=token)  # in the unit of work
    # {canonical id: value} for the records that exist; an id absent from it names nothing

    agreements = ReferenceLookup(
        what="agreement",
        replica=agreement_replica,  # or None: no replica, every lookup asks the owner
        base_url=settings.agreements_base_url,
        path="/v1/agreements/{id}",
        from_row=AgreementRef.from_row,
        from_json=AgreementRef.from_json,
    )

Ids are canonicalised with `normalize_id` (by default: a UUID, lower case; anything else names
nothing and is never sent to the owner), so the keys of the answer are the canonical ids.
Tests (and apps that want one pooled client) pass `client=`; otherwise each lookup that misses
the replica opens a short-lived client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
import sqlalchemy as sa

from tansiq_common.context import current_request_id, current_traceparent
from tansiq_common.domain import Unavailable
from tansiq_common.repository import parse_id, statements_of
from tansiq_common.uow import UnitOfWork

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 2.0
# At most this many REST calls at once for one lookup (a record naming many missing references).
MAX_CONCURRENT_CALLS = 8


class ReferenceUnavailable(Unavailable):
    """A referenced record missed the replica and its owning service did not answer (503)."""

    slug = "reference-unavailable"


class ReferenceLookup(Generic[T]):
    """Finds records of one type another service owns: replica first, then its REST API."""

    def __init__(
        self,
        *,
        what: str,
        base_url: str,
        path: str,
        from_json: Callable[[Mapping[str, Any]], T],
        replica: sa.Table | None = None,
        from_row: Callable[[Mapping[str, Any]], T] | None = None,
        id_column: str = "id",
        normalize_id: Callable[[str], str | None] = parse_id,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retry_after_s: int = 5,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if "{id}" not in path:
            raise ValueError("path must contain {id}, e.g. /v1/organizations/{id}")
        if replica is not None and from_row is None:
            raise ValueError("a replica needs from_row")
        self.what = what
        self.base_url = base_url.rstrip("/")
        self.path = path
        self.replica = replica
        self.from_row = from_row
        self.from_json = from_json
        self.id_column = id_column
        self.normalize_id = normalize_id
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.client = client

    async def find(self, uow: UnitOfWork, record_id: str, *, bearer: str | None) -> T | None:
        """The record, or None when it does not exist (or the caller may not see it)."""
        canonical = self.normalize_id(str(record_id))
        if canonical is None:
            return None
        return (await self.find_many(uow, [canonical], bearer=bearer)).get(canonical)

    async def find_many(
        self, uow: UnitOfWork, ids: Iterable[str], *, bearer: str | None
    ) -> dict[str, T]:
        """{canonical id: value} of the records that exist, the replica read by the unit of
        work (`lookup`); raises ReferenceUnavailable when a replica miss cannot be asked of the
        owner."""
        # Each id once before it is read: a batch names the same few records again and again.
        named = dict.fromkeys(ids)
        wanted = list(dict.fromkeys(c for c in (self.normalize_id(str(i)) for i in named) if c))
        if not wanted:
            return {}
        found = await self._from_replica(uow, wanted)
        missing = [i for i in wanted if i not in found]
        if missing:
            found.update(await self._from_owner(missing, bearer))
        return found

    # -- internals --

    async def _from_replica(self, uow: UnitOfWork, ids: list[str]) -> dict[str, T]:
        if self.replica is None or self.from_row is None:
            return {}
        sql = statements_of(self.replica).select_any(self.id_column)
        records = await uow.lookup(sql, ids)
        return {str(r[self.id_column]): self.from_row(dict(r)) for r in records}

    async def _from_owner(self, ids: list[str], bearer: str | None) -> dict[str, T]:
        headers = {"Accept": "application/json"}
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        # The owner's log lines and spans join this request's: same request id, same trace.
        if (request_id := current_request_id()) is not None:
            headers["X-Request-ID"] = request_id
        if (traceparent := current_traceparent()) is not None:
            headers["traceparent"] = traceparent
        if self.client is not None:
            answers = await self._ask_all(self.client, ids, headers)
        else:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                answers = await self._ask_all(client, ids, headers)
        return {record_id: value for record_id, value in answers if value is not None}

    async def _ask_all(
        self, client: httpx.AsyncClient, ids: list[str], headers: dict[str, str]
    ) -> list[tuple[str, T | None]]:
        limit = asyncio.Semaphore(MAX_CONCURRENT_CALLS)

        async def ask(record_id: str) -> tuple[str, T | None]:
            async with limit:
                return record_id, await self._ask(client, record_id, headers)

        return list(await asyncio.gather(*(ask(i) for i in ids)))

    async def _ask(
        self, client: httpx.AsyncClient, record_id: str, headers: dict[str, str]
    ) -> T | None:
        url = self.base_url + self.path.format(id=quote(record_id, safe=""))
        try:
            response = await client.get(url, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            log.warning("%s lookup failed: %r", self.what, exc, extra={"record_id": record_id})
            raise self._unavailable(record_id) from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            log.warning(
                "%s lookup answered %s",
                self.what,
                response.status_code,
                extra={"record_id": record_id},
            )
            raise self._unavailable(record_id)
        try:
            body = response.json()
        except ValueError:
            raise self._unavailable(record_id) from None
        if not isinstance(body, Mapping):
            raise self._unavailable(record_id)
        try:
            return self.from_json(body)
        except (KeyError, TypeError, ValueError):
            # An answer we cannot read is no answer: the record stays unchecked.
            log.warning("%s lookup: unreadable answer", self.what, extra={"record_id": record_id})
            raise self._unavailable(record_id) from None

    def _unavailable(self, record_id: str) -> ReferenceUnavailable:
        error = ReferenceUnavailable(
            f"The {self.what} {record_id} could not be checked: the service that owns "
            f"{self.what} records did not answer. Retry later.",
            [{"field": self.what, "message": f"{record_id} could not be checked"}],
        )
        error.retry_after = self.retry_after_s
        return error
