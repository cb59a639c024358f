"""Who may call each engagements route, as data (see model.py).

Callers: the coordinator belongs to Qatar's coordinating body (the ICD); every other role to
Qatar's Ministry of Education. Targets: an engagement led by the caller's organization (`own`),
by another Qatari ministry (`same_country`), by a Syrian ministry (`other_country`).

The rules, from the design (§3): every government user reads interagency engagements, the same
readers as agreements (integration jobs too); editors write engagements led by their own
organization or one below it; an integration job pushes engagements led by the organizations its
token names (its `org`, or the `orgs` claim's list instead); coordinators and auditors read the
audit trail.
"""

from __future__ import annotations

import uuid
from typing import Any

from tansiq_common.auth import Role
from tansiq_common.uow import SystemActor, UnitOfWork
from tansiq_engagements.engagements.model import Engagement
from tansiq_engagements.engagements.service import EngagementService
from tansiq_engagements.lookups import replica_lookups

from .model import (
    READERS,
    TARGETS,
    Call,
    Outcome,
    Route,
    ServiceWorld,
    Target,
    outcome_of,
)

EDITOR = frozenset({Role.editor})
INTEGRATION = frozenset({Role.integration})
OUTSIDE = "organization-scope"
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
SOURCE = "matrix-calendar"


class World(ServiceWorld):
    """The organizations in the replica, and fresh engagements made for each call."""

    def body(self, lead: str, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "meeting",
            "title": {"en": f"Consultation {uuid.uuid4().hex[:6]}", "ar": "اجتماع تشاوري"},
            "start": "2025-03-10T09:00:00+03:00",
            "end": "2025-03-10T12:00:00+03:00",
            "location": {"city": "Doha", "country": "QA", "virtual": False},
            "lead_org_id": lead,
            "participants": [
                {"org_id": lead, "role": "host"},
                {"org_id": self.ids["unesco"], "role": "participant"},
            ],
            "attendees": {"total": 12, "nationals": 8, "nationals_trained": 0},
            "themes": {"sdgs": [4], "sectors": ["education"], "priorities": []},
            "report_due_on": "2025-03-24",
            "channel": "direct",
            "status": "held",
            "visibility": "interagency",
        }
        body.update(overrides)
        return body

    def item(self, lead: str) -> dict[str, Any]:
        return self.body(lead, source=SOURCE, external_id=f"matrix-{uuid.uuid4().hex}")

    def action_item(self, owner: str) -> dict[str, Any]:
        return {"title": "Share the workshop's findings", "owner_org_id": owner}

    async def engagement(
        self, role: Role, target: Target, *, steps: tuple[str, ...] = (), led_by: str = ""
    ) -> Engagement:
        """A new engagement led by the target organization (or the one `led_by` names, its
        action item then owned by the target), taken through `steps` by the system itself (so
        the caller's rights are not what made it)."""
        owner = self.target(role, target)
        lead = self.ids[led_by] if led_by else owner
        made = await self._service().create(self.body(lead))
        for step in steps:
            if step == "report":
                made, _ = await self._service().put_report(made.id, "Agreed next steps.", [], None)
            elif step == "action_item":
                made, _ = await self._service().add_action_item(
                    made.id, self.action_item(owner), None
                )
        return made

    def _service(self) -> EngagementService:
        uow = UnitOfWork(self.db.sessionmaker, actor=SystemActor())
        return EngagementService(uow, replica_lookups())


async def _create(w: World, role: Role, t: Target) -> Call:
    return Call("POST", "/v1/engagements", json=w.body(w.target(role, t)))


async def _list(w: World, role: Role, t: Target) -> Call:
    await w.engagement(role, t)
    return Call("GET", "/v1/engagements?limit=5")


async def _search(w: World, role: Role, t: Target) -> Call:
    made = await w.engagement(role, t)
    word = str(made.title.en).split()[-1]
    return Call("GET", f"/v1/engagements?q={word}&lead_org_id={made.lead_org_id}")


async def _get(w: World, role: Role, t: Target) -> Call:
    return Call("GET", f"/v1/engagements/{(await w.engagement(role, t)).id}")


async def _patch(w: World, role: Role, t: Target) -> Call:
    made = await w.engagement(role, t)
    return Call(
        "PATCH",
        f"/v1/engagements/{made.id}",
        json={"outcome": "A joint work plan"},
        headers={"If-Match": f'"{made.version}"', **MERGE_PATCH},
    )


async def _put_report(w: World, role: Role, t: Target) -> Call:
    made = await w.engagement(role, t)
    return Call("PUT", f"/v1/engagements/{made.id}/report", json={"text": "Agreed next steps."})


async def _get_report(w: World, role: Role, t: Target) -> Call:
    made = await w.engagement(role, t, steps=("report",))
    return Call("GET", f"/v1/engagements/{made.id}/report")


async def _action_items(w: World, role: Role, t: Target) -> Call:
    made = await w.engagement(role, t, steps=("action_item",))
    return Call("GET", f"/v1/engagements/{made.id}/action-items")


async def _add_action_item(w: World, role: Role, t: Target) -> Call:
    made = await w.engagement(role, t)
    return Call(
        "POST",
        f"/v1/engagements/{made.id}/action-items",
        json=w.action_item(made.lead_org_id),
    )


async def _action_item(w: World, role: Role, t: Target) -> Call:
    made = await w.engagement(role, t, steps=("action_item",))
    return Call("GET", f"/v1/engagements/{made.id}/action-items/{made.action_items[0].id}")


async def _update_action_item(w: World, role: Role, t: Target) -> Call:
    made = await w.engagement(role, t, steps=("action_item",))
    return Call(
        "PATCH",
        f"/v1/engagements/{made.id}/action-items/{made.action_items[0].id}",
        json={"title": "Share the findings with UNESCO"},
        headers={"If-Match": f'"{made.version}"', **MERGE_PATCH},
    )


def _owners_change(changes: dict[str, Any]) -> Any:
    """An action item owned by the target organization on an engagement another Qatari
    ministry leads: the owner's editors do the work, so they move its status, and only that."""

    async def build(w: World, role: Role, t: Target) -> Call:
        made = await w.engagement(role, t, steps=("action_item",), led_by="qa-mofa")
        return Call(
            "PATCH",
            f"/v1/engagements/{made.id}/action-items/{made.action_items[0].id}",
            json=changes,
            headers={"If-Match": f'"{made.version}"', **MERGE_PATCH},
        )

    return build


async def _ingest(w: World, role: Role, t: Target) -> Call:
    return Call("POST", "/v1/ingest/engagements", json={"items": [w.item(w.target(role, t))]})


async def _ingest_for_listed(w: World, role: Role, t: Target) -> Call:
    """A token whose `orgs` claim lists the other Qatari ministry and the Syrian one: it pushes
    for those, no longer for its own organization."""
    listed = [w.ids[w.TARGETS["same_country"]], w.ids[w.TARGETS["other_country"]]]
    return Call(
        "POST",
        "/v1/ingest/engagements",
        json={"items": [w.item(w.target(role, t))]},
        claims={"orgs": listed},
    )


def item_result(response: Any) -> Outcome:
    """A batch answers 200 with a result per item: the one item's result, or the problem type
    of why it was rejected."""
    if response.status_code != 200:
        return outcome_of(response)
    (result,) = response.json()["results"]
    if result["result"] == "rejected":
        return str(result["errors"][0]["type"])
    return str(result["result"])


async def _audit(w: World, role: Role, t: Target) -> Call:
    await w.engagement(role, t)
    return Call("GET", "/v1/audit?limit=5")


def _editor(success: int) -> dict[Role, dict[Target, Outcome]]:
    """Editors write engagements led by their own organization only."""
    return {Role.editor: {"own": success, "same_country": OUTSIDE, "other_country": OUTSIDE}}


ROUTES = [
    Route("POST", "/v1/engagements", EDITOR, _create, 201, _editor(201)),
    Route("GET", "/v1/engagements", READERS, _list),
    Route("GET", "/v1/engagements", READERS, _search),
    Route("GET", "/v1/engagements/{engagement_id}", READERS, _get),
    Route("PATCH", "/v1/engagements/{engagement_id}", EDITOR, _patch, 200, _editor(200)),
    # The first report on a held engagement.
    Route("PUT", "/v1/engagements/{engagement_id}/report", EDITOR, _put_report, 201,
          _editor(201)),
    Route("GET", "/v1/engagements/{engagement_id}/report", READERS, _get_report),
    Route("GET", "/v1/engagements/{engagement_id}/action-items", READERS, _action_items),
    Route("POST", "/v1/engagements/{engagement_id}/action-items", EDITOR, _add_action_item, 201,
          _editor(201)),
    Route("GET", "/v1/engagements/{engagement_id}/action-items/{item_id}", READERS,
          _action_item),
    Route("PATCH", "/v1/engagements/{engagement_id}/action-items/{item_id}", EDITOR,
          _update_action_item, 200, _editor(200)),
    Route("PATCH", "/v1/engagements/{engagement_id}/action-items/{item_id}", EDITOR,
          _owners_change({"status": "in_progress"}), 200, _editor(200)),
    Route("PATCH", "/v1/engagements/{engagement_id}/action-items/{item_id}", EDITOR,
          _owners_change({"title": "Renamed by the owner"}), 200,
          {Role.editor: dict.fromkeys(TARGETS, OUTSIDE)}),
    # An integration job pushes for its own organization (and those below it) ...
    Route("POST", "/v1/ingest/engagements", INTEGRATION, _ingest, 200,
          {Role.integration: {"own": "created", "same_country": OUTSIDE,
                              "other_country": OUTSIDE}},
          judge=item_result),
    # ... or, with an `orgs` claim, for the organizations listed instead.
    Route("POST", "/v1/ingest/engagements", INTEGRATION, _ingest_for_listed, 200,
          {Role.integration: {"own": OUTSIDE, "same_country": "created",
                              "other_country": "created"}},
          judge=item_result),
    Route("GET", "/v1/audit", frozenset({Role.auditor, Role.coordinator}), _audit),
]  # fmt: skip
