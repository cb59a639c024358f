"""The records of other services an engagement names: organizations (the registry) and agreements.

Each is looked up in the local replica first, then asked of the owning service over REST with
the caller's token (tansiq_common.references); an owner that cannot answer is a 503 with
Retry-After, never a silent accept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import httpx
import sqlalchemy as sa
from fastapi import FastAPI, Request
from tansiq_common.auth import organization_directory
from tansiq_common.references import ReferenceLookup
from tansiq_common.repository import parse_id, statements_of
from tansiq_common.uow import UnitOfWork

from tansiq_engagements.agreements.tables import agreement_directory
from tansiq_engagements.engagements.model import OrgFacts
from tansiq_engagements.settings import EngagementsSettings

T = TypeVar("T")

ACTIVE = "active"
NATIONAL = "national"


def org_facts(data: Mapping[str, Any]) -> OrgFacts:
    """From a replica row or the registry's JSON (same names: id, scope, country, ...)."""
    ministry = data.get("ministry_id")
    return OrgFacts(
        id=str(data["id"]),
        national=data.get("scope") == NATIONAL,
        country=data.get("country"),
        ministry_id=None if ministry is None else str(ministry),
        active=(data.get("status") or ACTIVE) == ACTIVE,
    )


def agreement_id(data: Mapping[str, Any]) -> str:
    return str(data["id"])


class Finder(Protocol[T]):
    async def find_many(
        self, uow: UnitOfWork, ids: Iterable[str], *, bearer: str | None
    ) -> dict[str, T]: ...


class ReplicaLookup(Generic[T]):
    """The replica alone: for writers that carry no caller token to ask the owner with (the
    ingest topic's messages). A miss is a record that does not exist, as far as they go."""

    def __init__(self, replica: sa.Table, from_row: Callable[[Mapping[str, Any]], T]) -> None:
        self.replica = replica
        self.from_row = from_row

    async def find_many(
        self, uow: UnitOfWork, ids: Iterable[str], *, bearer: str | None
    ) -> dict[str, T]:
        """Read in the unit of work's transaction, on whichever connection it runs."""
        # Each id once before it is parsed: a batch names the same few records again and again.
        named = dict.fromkeys(ids)
        wanted = list(dict.fromkeys(c for c in (parse_id(str(i)) for i in named) if c))
        if not wanted:
            return {}
        records = await uow.lookup(statements_of(self.replica).select_any("id"), wanted)
        return {r["id"]: self.from_row(dict(r)) for r in records}


@dataclass(frozen=True)
class Lookups:
    organizations: Finder[OrgFacts]
    agreements: Finder[str]


def build_lookups(
    settings: EngagementsSettings, client: httpx.AsyncClient | None = None
) -> Lookups:
    """Replica first, then the owner over REST with the caller's token."""
    return Lookups(
        organizations=ReferenceLookup(
            what="organization",
            replica=organization_directory,
            base_url=settings.registry_base_url,
            path="/v1/organizations/{id}",
            from_row=org_facts,
            from_json=org_facts,
            timeout_s=settings.reference_timeout_s,
            client=client,
        ),
        agreements=ReferenceLookup(
            what="agreement",
            replica=agreement_directory,
            base_url=settings.agreements_base_url,
            path="/v1/agreements/{id}",
            from_row=agreement_id,
            from_json=agreement_id,
            timeout_s=settings.reference_timeout_s,
            client=client,
        ),
    )


def replica_lookups() -> Lookups:
    """The replicas alone (the ingest topic: its messages carry no caller token)."""
    return Lookups(
        organizations=ReplicaLookup(organization_directory, org_facts),
        agreements=ReplicaLookup(agreement_directory, agreement_id),
    )


def lookups_component(app: FastAPI) -> Any:
    """For `create_service_app(components=[...])`: one pooled HTTP client for the app's life.
    Tests set `app.state.reference_transport` (an httpx transport) to stand in for the owners."""

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        transport = getattr(app.state, "reference_transport", None)
        settings: EngagementsSettings = app.state.settings
        async with httpx.AsyncClient(
            transport=transport, timeout=settings.reference_timeout_s
        ) as client:
            app.state.lookups = build_lookups(settings, client)
            yield

    return running()


def get_lookups(request: Request) -> Lookups:
    lookups: Lookups = request.app.state.lookups
    return lookups
