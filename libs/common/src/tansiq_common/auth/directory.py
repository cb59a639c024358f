"""The organization replica a service other than the registry keeps for scopes.

See docs/architecture.md, "Reads across domains".

Fed by `registry.organization.v1` events (event-carried state: each carries the organization's
full state and version), applied only when newer, so redelivery and reordering change nothing.
A service creates the table in one of its migrations with `create_directory_table(bind)`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tansiq_common.auth.scope import OrgScope
from tansiq_common.db import new_metadata
from tansiq_common.events.consumer import ConsumerSpec

ORGANIZATION_TOPIC = "registry.organization.v1"
COORDINATING_BODY = "coordinating_body"

directory_metadata = new_metadata()

organization_directory = sa.Table(
    "organization_directory",
    directory_metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("parent_id", sa.Text, nullable=True),
    sa.Column("ministry_id", sa.Text, nullable=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=True),
    sa.Column("designations", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("status", sa.Text, nullable=False, server_default="active"),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column(
        "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
)
sa.Index("ix_organization_directory_parent_id", organization_directory.c.parent_id)


def create_directory_table(bind: sa.engine.Connection) -> None:
    directory_metadata.create_all(bind)


def drop_directory_table(bind: sa.engine.Connection) -> None:
    directory_metadata.drop_all(bind)


class HasData(Protocol):
    """What the handler reads of an event envelope."""

    @property
    def data(self) -> Mapping[str, Any]: ...


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


async def apply_organization_event(session: AsyncSession, envelope: HasData) -> None:
    """Upsert the organization the event carries, unless the replica already has its version."""
    data = envelope.data
    org_id, version = data.get("id"), data.get("version")
    if org_id is None or not isinstance(version, int):
        raise ValueError("an organization event carries `id` and an integer `version`")
    designations = data.get("designations") or []
    row = {
        "id": str(org_id),
        "parent_id": _text_or_none(data.get("parent_id")),
        "ministry_id": _text_or_none(data.get("ministry_id")),
        "kind": str(data.get("kind") or "other"),
        "scope": _text_or_none(data.get("scope")),
        "designations": [str(d) for d in designations],
        "status": str(data.get("status") or "active"),
        "version": version,
    }
    stmt = insert(organization_directory).values(**row)
    stmt = stmt.on_conflict_do_update(
        index_elements=[organization_directory.c.id],
        set_={**{k: stmt.excluded[k] for k in row if k != "id"}, "updated_at": sa.func.now()},
        where=organization_directory.c.version < stmt.excluded.version,
    )
    await session.execute(stmt)


def _descendants_query(org_id: str) -> sa.Select[Any]:
    t = organization_directory
    tree = sa.select(t.c.id).where(t.c.id == org_id).cte("tree", recursive=True)
    tree = tree.union(sa.select(t.c.id).join(tree, t.c.parent_id == tree.c.id))
    return sa.select(tree.c.id)


def _ancestors_query(org_id: str) -> sa.Select[Any]:
    t = organization_directory
    up = (
        sa.select(t.c.id, t.c.parent_id, t.c.designations)
        .where(t.c.id == org_id)
        .cte("up", recursive=True)
    )
    # UNION (not ALL) stops a cycle in bad data from recursing forever.
    up = up.union(
        sa.select(t.c.id, t.c.parent_id, t.c.designations).join(up, t.c.id == up.c.parent_id)
    )
    return sa.select(up.c.id, up.c.designations)


async def scope_from_rows(session: AsyncSession, org_id: str) -> OrgScope:
    """The scope of `org_id` computed over `organization_directory` in `session`."""
    t = organization_directory
    org = (
        await session.execute(sa.select(t.c.id, t.c.kind, t.c.ministry_id).where(t.c.id == org_id))
    ).first()
    if org is None:
        return OrgScope.empty(org_id)
    found = (await session.execute(_descendants_query(org_id))).scalars()
    descendants = frozenset(str(org) for org in found)
    ancestors = (await session.execute(_ancestors_query(org_id))).all()
    coordinating = any(COORDINATING_BODY in (row.designations or []) for row in ancestors)
    ministry = org.ministry_id or (org.id if org.kind == "ministry" else None)
    return OrgScope(
        org_id=org_id,
        ministry_id=ministry,
        descendants=descendants,
        is_coordinating_body=coordinating,
    )


class ReplicaDirectory:
    """OrganizationDirectory over the replica table; scopes cached for a few seconds."""

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, cache_seconds: float = 5.0
    ) -> None:
        self._sessionmaker = sessionmaker
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, OrgScope]] = {}

    async def scope_of(self, org_id: str) -> OrgScope:
        now = time.monotonic()
        hit = self._cache.get(org_id)
        if hit is not None and now - hit[0] < self._cache_seconds:
            return hit[1]
        async with self._sessionmaker() as session:
            scope = await scope_from_rows(session, org_id)
        if len(self._cache) > 10_000:  # bounded: a flood of foreign org ids cannot grow it
            self._cache.clear()
        self._cache[org_id] = (now, scope)
        return scope

    def forget(self) -> None:
        self._cache.clear()


def directory_consumer() -> ConsumerSpec:
    """The consumer that keeps a service's organization directory in step with the registry.

    Every service but the registry runs it (`tansiq replay organizations --service <name>`).
    """
    return ConsumerSpec(
        name="organizations",
        topics=[ORGANIZATION_TOPIC],
        handlers={"*": apply_organization_event},
        tables=[organization_directory.name],
    )
