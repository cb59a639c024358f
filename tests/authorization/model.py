"""The vocabulary of the authorization tables: a route, who may call it, and a valid call.

Each service's table (`tests/authorization/<service>.py`) lists every route of the service as
data: the roles allowed, and a builder for a call that succeeds for an allowed caller (a valid
body, real records). Scoped routes say what each allowed role gets when it acts on a record of
its own organization, of another organization of the same country, and of another country.
The matrix test (test_matrix.py) walks the app's routes and fails on any route missing here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from tansiq_common.auth import Role

Target = Literal["own", "same_country", "other_country"]
TARGETS: tuple[Target, ...] = ("own", "same_country", "other_country")

# What a call must answer: a success status, or the slug of the problem refusing it.
Outcome = int | str

READERS = frozenset(
    {
        Role.viewer,
        Role.editor,
        Role.coordinator,
        Role.registry_admin,
        Role.auditor,
        Role.integration,
    }
)
GOVERNMENT_READERS = READERS - {Role.integration}
ALL = frozenset(Role)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # Claims the caller's token carries besides org, roles and sub (e.g. an integration
    # token's `orgs`).
    claims: Mapping[str, Any] = field(default_factory=dict)


def outcome_of(response: Any) -> Outcome:
    """A success status, or the slug of the problem+json type refusing the call."""
    if response.status_code < 400:
        return int(response.status_code)
    body = response.json()
    return str(body.get("type", "")).removeprefix("urn:tansiq:problem:")


# builder(world, role, target) → the call; the world creates the records it needs.
Builder = Callable[[Any, Role, Target], Awaitable[Call]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    allowed: frozenset[Role]
    call: Builder
    success: int = 200
    # For scoped routes: role → target → outcome. Roles not listed get `success` everywhere.
    scoped: Mapping[Role, Mapping[Target, Outcome]] = field(default_factory=dict)
    # What a response means when its status alone does not say (a batch answering 200 with a
    # result per item); by default `outcome_of`.
    judge: Callable[[Any], Outcome] = outcome_of
    # Public: answers without a token, and the same to every role (`allowed` is then ALL).
    public: bool = False
    # What a caller of an organization no directory knows gets, by allowed role, where it is a
    # success (a platform registry administrator, a global auditor). Otherwise such a caller
    # is authenticated but covers nothing: a write is refused, a read answers without a 500.
    foreign: Mapping[Role, Outcome] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    def expected(self, role: Role, target: Target) -> Outcome:
        return self.scoped.get(role, {}).get(target, self.success)

    def targets(self) -> tuple[Target, ...]:
        return TARGETS if self.scoped else ("own",)


@dataclass(frozen=True)
class Organization:
    """A body as the services' organization replica holds it."""

    kind: str
    country: str | None = None
    parent: str | None = None  # the key of its parent
    coordinating_body: bool = False


# The demo-like organizations the tables of the services beside the registry act on: Qatar's
# Ministry of Education (the callers' home) and a directorate under it, another Qatari ministry,
# the ICD under the Ministry of Foreign Affairs (Qatar's coordinating body); a Syrian ministry
# and Syria's coordinating body; two UN entities.
ORGANIZATIONS: dict[str, Organization] = {
    "qa-mehe": Organization("ministry", "QA"),
    "qa-mehe-dir": Organization("directorate", "QA", parent="qa-mehe"),
    "qa-moph": Organization("ministry", "QA"),
    "qa-mofa": Organization("ministry", "QA"),
    "qa-mofa-icd": Organization("directorate", "QA", parent="qa-mofa", coordinating_body=True),
    "sy-mlae": Organization("ministry", "SY"),
    "sy-mofae": Organization("ministry", "SY", coordinating_body=True),
    "unesco": Organization("un_entity"),
    "undp": Organization("un_entity"),
}


async def install_organizations(db: Any) -> dict[str, str]:
    """Writes ORGANIZATIONS into the service's replica (as its consumer would); key → id."""
    import uuid

    from tansiq_common.auth import apply_organization_event

    ids = {key: str(uuid.uuid4()) for key in ORGANIZATIONS}

    def ministry_of(key: str) -> str | None:
        org = ORGANIZATIONS[key]
        if org.country is None:
            return None
        return ministry_of(org.parent) if org.parent else ids[key]

    @dataclass
    class _Event:
        data: dict[str, Any]

    async with db.sessionmaker() as session, session.begin():
        for key, org in ORGANIZATIONS.items():
            data = {
                "id": ids[key],
                "version": 1,
                "kind": org.kind,
                "country": org.country,
                "scope": "national" if org.country else "international",
                "parent_id": ids[org.parent] if org.parent else None,
                "ministry_id": ministry_of(key),
                "designations": ["coordinating_body"] if org.coordinating_body else [],
                "status": "active",
            }
            await apply_organization_event(session, _Event(data))
    return ids


class ServiceWorld:
    """What every service's table calls on: its callers' home organizations (a coordinator of
    Qatar's coordinating body, every other role of Qatar's Ministry of Education) and the
    targets of scoped calls (another Qatari ministry, a Syrian one), loaded into the service's
    organization replica."""

    HOMES: ClassVar[dict[Role, str]] = {Role.coordinator: "qa-mofa-icd"}
    HOME = "qa-mehe"
    TARGETS: ClassVar[dict[str, str]] = {"same_country": "qa-moph", "other_country": "sy-mlae"}

    def __init__(self, db: Any) -> None:
        self.db = db
        self.ids: dict[str, str] = {}

    async def load(self) -> None:
        self.ids = await install_organizations(self.db)

    def org_of(self, role: Role) -> str:
        return self.ids[self.HOMES.get(role, self.HOME)]

    def target(self, role: Role, target: Target) -> str:
        return self.org_of(role) if target == "own" else self.ids[self.TARGETS[target]]
