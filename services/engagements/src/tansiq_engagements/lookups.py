"""The records of other services an engagement names: organizations (the registry) and agreements.

Each is looked up in the local replica first, then asked of the owning service over REST with
the caller's token (tansiq_common.references); an owner that cannot answer is a 503 with
Retry-After, never a silent accept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI, Request
from tansiq_common.auth import organization_directory
from tansiq_common.references import ReferenceLookup

from tansiq_engagements.agreements.tables import agreement_directory
from tansiq_engagements.engagements.model import OrgFacts
from tansiq_engagements.settings import EngagementsSettings

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


@dataclass(frozen=True)
class Lookups:
    organizations: ReferenceLookup[OrgFacts]
    agreements: ReferenceLookup[str]


def build_lookups(
    settings: EngagementsSettings, client: httpx.AsyncClient | None = None
) -> Lookups:
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
