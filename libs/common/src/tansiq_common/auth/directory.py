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
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from tansiq_common.auth.scope import OrgScope
from tansiq_common.db import DriverReads, new_metadata
from tansiq_common.events.consumer import ConsumerSpec
from tansiq_common.repository import parse_id

ORGANIZATION_TOPIC = "registry.organization.v1"
COORDINATING_BODY = "coordinating_body"
ACTIVE = "active"
NATIONAL = "national"

directory_metadata = new_metadata()

organization_directory = sa.Table(
    "organization_directory",
    directory_metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("parent_id", sa.Text, nullable=True),
    sa.Column("ministry_id", sa.Text, nullable=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("scope", sa.Text, nullable=True),
    sa.Column("country", sa.Text, nullable=True),
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
        "country": _text_or_none(data.get("country")),
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


def _descendants_query(table: sa.Table, org_id: str) -> sa.Select[Any]:
    t = table
    tree = sa.select(t.c.id).where(t.c.id == org_id).cte("tree", recursive=True)
    # UNION (not ALL) stops a cycle in bad data from recursing forever.
    tree = tree.union(sa.select(t.c.id).join(tree, t.c.parent_id == tree.c.id))
    return sa.select(tree.c.id)


def _chain_query(table: sa.Table, org_id: str) -> sa.Select[Any]:
    t = table
    columns = (t.c.id, t.c.parent_id, t.c.designations, t.c.status)
    up = sa.select(*columns).where(t.c.id == org_id).cte("up", recursive=True)
    up = up.union(sa.select(*columns).join(up, t.c.id == up.c.parent_id))
    return sa.select(up.c.designations, up.c.status)


async def scope_from_rows(
    session: AsyncSession | AsyncConnection, org_id: str, table: sa.Table = organization_directory
) -> OrgScope:
    """The scope of `org_id` over an organization table: the registry's own `organizations` or
    a service's replica `organization_directory` (same column names), so both compute scopes
    the same way.

    An unknown or archived organization confers nothing; a coordinating-body designation counts
    only on an active organization of the chain above (or at) the caller's.
    """
    t = table
    # The registry's ids are UUIDs (anything else names nothing); a replica keeps them as text.
    canonical = parse_id(org_id) if isinstance(t.c.id.type, sa.Uuid) else org_id
    if canonical is None:
        return OrgScope.empty(org_id)
    org = (
        await session.execute(
            sa.select(t.c.id, t.c.ministry_id, t.c.status, t.c.country, t.c.scope).where(
                t.c.id == canonical
            )
        )
    ).first()
    if org is None or org.status != ACTIVE:
        return OrgScope.empty(canonical)
    found = (await session.execute(_descendants_query(t, canonical))).scalars()
    chain = (await session.execute(_chain_query(t, canonical))).all()
    return OrgScope(
        org_id=canonical,
        ministry_id=_text_or_none(org.ministry_id),
        descendants=frozenset(str(each) for each in found),
        is_coordinating_body=any(
            row.status == ACTIVE and COORDINATING_BODY in (row.designations or []) for row in chain
        ),
        country=org.country,
        national=org.scope == NATIONAL,
    )


async def scope_from_driver(
    connection: Any, org_id: str, table: sa.Table = organization_directory
) -> OrgScope:
    """`scope_from_rows` on the driver's (asyncpg) connection, in one statement: the
    organization, its descendants and whether an active organization of its chain is a
    coordinating body, in one round trip instead of three (the registry runs it on every
    write, the other services on every uncached caller)."""
    canonical = parse_id(org_id) if isinstance(table.c.id.type, sa.Uuid) else org_id
    if canonical is None:
        return OrgScope.empty(org_id)
    sql = _DRIVER_SQL.get(table.name)
    if sql is None:
        sql = _DRIVER_SQL[table.name] = _driver_sql(table.name)
    org = await connection.fetchrow(sql, canonical, ACTIVE, COORDINATING_BODY)
    if org is None or org["status"] != ACTIVE:
        return OrgScope.empty(canonical)
    return OrgScope(
        org_id=canonical,
        ministry_id=_text_or_none(org["ministry_id"]),
        descendants=frozenset(str(each) for each in org["descendants"]),
        is_coordinating_body=org["coordinating"],
        country=org["country"],
        national=org["scope"] == NATIONAL,
    )


_DRIVER_SQL: dict[str, str] = {}


def _driver_sql(name: str) -> str:
    # The table's name is ours (the registry's or the replica's), never a client's.
    # UNION (not ALL) stops a cycle in bad data from recursing forever.
    t = f'"{name}"'
    return (
        "SELECT o.ministry_id, o.status, o.country, o.scope, "  # noqa: S608
        "ARRAY(WITH RECURSIVE tree(id) AS (SELECT o.id "
        f"UNION SELECT c.id FROM {t} c JOIN tree ON c.parent_id = tree.id) "
        "SELECT id FROM tree) AS descendants, "
        "EXISTS(WITH RECURSIVE up(id, parent_id, designations, status) AS ("
        "SELECT o.id, o.parent_id, o.designations, o.status "
        f"UNION SELECT p.id, p.parent_id, p.designations, p.status FROM {t} p "
        "JOIN up ON p.id = up.parent_id) "
        "SELECT 1 FROM up WHERE up.status = $2 AND $3 = ANY(up.designations)) AS coordinating "
        f"FROM {t} o WHERE o.id = $1"
    )


class ScopeDirectory:
    """OrganizationDirectory over an organization table; scopes cached for a few seconds
    (0: not at all, for the registry, which owns the table)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        table: sa.Table = organization_directory,
        *,
        cache_seconds: float = 5.0,
        reads: DriverReads | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        # Given (the app's driver reads): scopes are read with no transaction of their own,
        # no BEGIN and ROLLBACK round trips around three statements on each uncached request.
        self._reads = reads
        self._table = table
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, OrgScope]] = {}

    async def scope_of(self, org_id: str) -> OrgScope:
        now = time.monotonic()
        hit = self._cache.get(org_id)
        if hit is not None and now - hit[0] < self._cache_seconds:
            return hit[1]
        if self._reads is not None:
            async with self._reads.connection() as connection:
                scope = await scope_from_driver(connection, org_id, self._table)
        else:
            async with self._sessionmaker() as session:
                scope = await scope_from_rows(session, org_id, self._table)
        if self._cache_seconds > 0:
            if len(self._cache) > 10_000:  # bounded: a flood of foreign org ids cannot grow it
                self._cache.clear()
            self._cache[org_id] = (now, scope)
        return scope

    def forget(self) -> None:
        self._cache.clear()


# The name other services' code and tests know it by.
ReplicaDirectory = ScopeDirectory


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
