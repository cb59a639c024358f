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
from typing import Any, Literal

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


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


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

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    def expected(self, role: Role, target: Target) -> Outcome:
        return self.scoped.get(role, {}).get(target, self.success)

    def targets(self) -> tuple[Target, ...]:
        return TARGETS if self.scoped else ("own",)
