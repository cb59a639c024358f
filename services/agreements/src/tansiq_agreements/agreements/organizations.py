"""Organizations as the agreement rules see them: the replica fed by `registry.organization.v1`
first, the registry's REST API on a miss (tansiq_common.references)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from tansiq_common.auth import organization_directory
from tansiq_common.references import ReferenceLookup

from tansiq_agreements.agreements.model import OrgRef

OrganizationLookup = ReferenceLookup[OrgRef]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def org_ref(data: Mapping[str, Any]) -> OrgRef:
    """A replica row and the registry's representation name these fields alike."""
    return OrgRef(
        id=str(data["id"]),
        kind=str(data["kind"]),
        scope=_text(data.get("scope")),
        country=_text(data.get("country")),
        ministry_id=_text(data.get("ministry_id")),
        status=str(data.get("status") or "active"),
    )


def organization_lookup(
    base_url: str, *, timeout_s: float, client: httpx.AsyncClient | None = None
) -> OrganizationLookup:
    return ReferenceLookup(
        what="organization",
        replica=organization_directory,
        base_url=base_url,
        path="/v1/organizations/{id}",
        from_row=org_ref,
        from_json=org_ref,
        timeout_s=timeout_s,
        client=client,
    )
