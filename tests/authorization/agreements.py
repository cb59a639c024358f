"""Who may call each agreements route, as data (see model.py).

Callers: the coordinator belongs to Qatar's coordinating body (the ICD); every other role to
Qatar's Ministry of Education. Targets: an agreement owned by the caller's organization
(`own`), by another Qatari ministry (`same_country`), by a Syrian ministry (`other_country`).
Editors write only for their own organization; a coordinator decides clearance on any agreement
of its country, never on another country's.
"""

from __future__ import annotations

import uuid
from typing import Any

from tansiq_agreements.agreements.model import Agreement
from tansiq_agreements.agreements.organizations import organization_lookup
from tansiq_agreements.agreements.service import AgreementService
from tansiq_common.auth import Role
from tansiq_common.uow import SystemActor, UnitOfWork

from .model import READERS, Call, Route, ServiceWorld, Target

EDITOR = frozenset({Role.editor})
COORDINATOR = frozenset({Role.coordinator})
NOT_OWNER = "not-owner-editor"
NOT_CLEARING = "not-clearing-coordinator"
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


class World(ServiceWorld):
    """The organizations in the replica, and fresh agreements made for each call."""

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        # Every organization is in the replica: the registry is never asked.
        self.orgs = organization_lookup("http://registry.invalid", timeout_s=1.0)

    def body(self, owner: str, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "cooperation_agreement",
            "title": {"en": f"Cooperation {uuid.uuid4().hex[:6]}", "ar": "اتفاقية تعاون"},
            "owner_org_id": owner,
            "parties": [
                {"org_id": owner, "role": "signatory"},
                {"org_id": self.ids["unesco"], "role": "signatory"},
            ],
            "themes": {"sdgs": [4], "sectors": ["education"], "priorities": []},
            "effective_from": "2024-01-01",
            "expires_on": "2027-12-31",
            "visibility": "interagency",
        }
        body.update(overrides)
        return body

    async def agreement(
        self, role: Role, target: Target, *, steps: tuple[str, ...] = (), **fields: Any
    ) -> Agreement:
        """A new agreement owned by the target organization, taken through `steps` by the
        system itself (so the caller's rights are not what made it)."""
        owner = self.target(role, target)
        uow = UnitOfWork(self.db.sessionmaker, actor=SystemActor())
        service = AgreementService(uow, self.orgs)
        async with service.unit():
            made = await service.create(self.body(owner, **fields))
            for step in steps:
                if step == "submit":
                    made = await service.submit(made.id, None)
                elif step == "sign":
                    made = await service.sign(made.id, None, signed_on=_date("2020-06-01"))
                elif step == "milestone":
                    made, _ = await service.add_milestone(made.id, self.milestone(owner), None)
        return made

    def milestone(self, owner: str) -> dict[str, Any]:
        return {"title": "Annual report", "due_on": "2026-06-30", "responsible_org_id": owner}


def _date(text: str) -> Any:
    from datetime import date

    return date.fromisoformat(text)


async def _list(w: World, role: Role, t: Target) -> Call:
    await w.agreement(role, t)
    return Call("GET", "/v1/agreements?limit=5")


async def _count(w: World, role: Role, t: Target) -> Call:
    return Call("GET", "/v1/agreements/count")


async def _create(w: World, role: Role, t: Target) -> Call:
    return Call("POST", "/v1/agreements", json=w.body(w.target(role, t)))


async def _get(w: World, role: Role, t: Target) -> Call:
    return Call("GET", f"/v1/agreements/{(await w.agreement(role, t)).id}")


async def _patch(w: World, role: Role, t: Target) -> Call:
    made = await w.agreement(role, t)
    return Call(
        "PATCH",
        f"/v1/agreements/{made.id}",
        json={"summary": {"en": "Revised scope"}},
        headers={"If-Match": f'"{made.version}"', **MERGE_PATCH},
    )


async def _history(w: World, role: Role, t: Target) -> Call:
    return Call("GET", f"/v1/agreements/{(await w.agreement(role, t)).id}/history")


def _action(name: str, steps: tuple[str, ...] = (), json: Any = None, **fields: Any) -> Any:
    async def build(w: World, role: Role, t: Target) -> Call:
        made = await w.agreement(role, t, steps=steps, **fields)
        return Call("POST", f"/v1/agreements/{made.id}/actions/{name}", json=json)

    return build


async def _milestones(w: World, role: Role, t: Target) -> Call:
    made = await w.agreement(role, t, steps=("milestone",))
    return Call("GET", f"/v1/agreements/{made.id}/milestones")


async def _add_milestone(w: World, role: Role, t: Target) -> Call:
    made = await w.agreement(role, t)
    return Call("POST", f"/v1/agreements/{made.id}/milestones", json=w.milestone(made.owner_org_id))


async def _milestone(w: World, role: Role, t: Target) -> Call:
    made = await w.agreement(role, t, steps=("milestone",))
    return Call("GET", f"/v1/agreements/{made.id}/milestones/{made.milestones[0].id}")


async def _update_milestone(w: World, role: Role, t: Target) -> Call:
    made = await w.agreement(role, t, steps=("milestone",))
    return Call(
        "PATCH",
        f"/v1/agreements/{made.id}/milestones/{made.milestones[0].id}",
        json={"status": "in_progress"},
        headers={"If-Match": f'"{made.version}"', **MERGE_PATCH},
    )


async def _audit(w: World, role: Role, t: Target) -> Call:
    await w.agreement(role, t)
    return Call("GET", "/v1/audit?limit=5")


def _editor(success: int) -> dict[Role, dict[Target, int | str]]:
    """Editors write for their own organization only."""
    return {
        Role.editor: {
            "own": success,
            "same_country": NOT_OWNER,
            "other_country": NOT_OWNER,
        }
    }


# A coordinator of Qatar's coordinating body decides on every Qatari agreement, on no Syrian one.
CLEARING: dict[Role, dict[Target, int | str]] = {
    Role.coordinator: {"own": 200, "same_country": 200, "other_country": NOT_CLEARING}
}
# Long expired: signed in 2020, valid until the end of 2021.
PAST = {"effective_from": "2020-01-01", "expires_on": "2021-12-31"}

ROUTES = [
    Route("POST", "/v1/agreements", EDITOR, _create, 201, _editor(201)),
    Route("GET", "/v1/agreements", READERS, _list),
    Route("GET", "/v1/agreements/count", READERS, _count),
    Route("GET", "/v1/agreements/{agreement_id}", READERS, _get),
    Route("PATCH", "/v1/agreements/{agreement_id}", EDITOR, _patch, 200, _editor(200)),
    Route("GET", "/v1/agreements/{agreement_id}/history", READERS, _history),
    Route("POST", "/v1/agreements/{agreement_id}/actions/submit", EDITOR,
          _action("submit"), 200, _editor(200)),
    Route("POST", "/v1/agreements/{agreement_id}/actions/clear", COORDINATOR,
          _action("clear", ("submit",), {"conditions": "Report yearly"}), 200, CLEARING),
    Route("POST", "/v1/agreements/{agreement_id}/actions/return", COORDINATOR,
          _action("return", ("submit",), {"comments": "Name the focal point"}), 200, CLEARING),
    Route("POST", "/v1/agreements/{agreement_id}/actions/sign", EDITOR,
          _action("sign", (), {"signed_on": "2024-03-01"}), 200, _editor(200)),
    Route("POST", "/v1/agreements/{agreement_id}/actions/enter-into-force", EDITOR,
          _action("enter-into-force", ("sign",), {"effective_from": "2024-04-01"}), 200,
          _editor(200)),
    Route("POST", "/v1/agreements/{agreement_id}/actions/terminate", EDITOR,
          _action("terminate", (), {"reason": "Abandoned draft"}), 200, _editor(200)),
    Route("POST", "/v1/agreements/{agreement_id}/actions/expire", EDITOR,
          _action("expire", ("sign",), None, **PAST), 200, _editor(200)),
    Route("POST", "/v1/agreements/{agreement_id}/actions/renew", EDITOR,
          _action("renew", ("sign",), {"expires_on": "2031-12-31"}), 201, _editor(201)),
    Route("GET", "/v1/agreements/{agreement_id}/milestones", READERS, _milestones),
    Route("POST", "/v1/agreements/{agreement_id}/milestones", EDITOR, _add_milestone, 201,
          _editor(201)),
    Route("GET", "/v1/agreements/{agreement_id}/milestones/{milestone_id}", READERS, _milestone),
    Route("PATCH", "/v1/agreements/{agreement_id}/milestones/{milestone_id}", EDITOR,
          _update_milestone, 200, _editor(200)),
    Route("GET", "/v1/audit", frozenset({Role.auditor, Role.coordinator}), _audit),
]  # fmt: skip
