"""The organization replica: fed by registry events, newest version wins, scopes by hierarchy."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from tansiq_common.auth import (
    OrgScope,
    ReplicaDirectory,
    apply_organization_event,
    organization_directory,
)


@dataclass(frozen=True)
class Event:
    data: dict[str, Any] = field(default_factory=dict)


def org(org_id: str, *, parent=None, ministry=None, kind="directorate", version=1, **extra):
    return Event(
        {
            "id": org_id,
            "parent_id": parent,
            "ministry_id": ministry,
            "kind": kind,
            "scope": "national",
            "designations": extra.pop("designations", []),
            "status": "active",
            "country": extra.pop("country", "QA"),
            "version": version,
            "names": {"en": org_id},
            **extra,
        }
    )


# MoFA (ministry) > ICD (coordinating body) > ICD-unit; MoE (ministry) > MoE-dir; UNESCO abroad.
HIERARCHY = [
    org("mofa", kind="ministry", ministry="mofa"),
    org("icd", parent="mofa", ministry="mofa", designations=["coordinating_body"]),
    org("icd-unit", parent="icd", ministry="mofa"),
    org("moe", kind="ministry", ministry="moe"),
    org("moe-dir", parent="moe", ministry="moe"),
    Event(
        {
            "id": "unesco",
            "kind": "un_entity",
            "scope": "international",
            "designations": [],
            "version": 1,
        }
    ),
]


async def _load(db, events) -> None:
    async with db.sessionmaker() as session, session.begin():
        for event in events:
            await apply_organization_event(session, event)


async def test_scopes_follow_the_hierarchy(infra_db, directory_db_url):
    await _load(infra_db, HIERARCHY)
    directory = ReplicaDirectory(infra_db.sessionmaker, cache_seconds=0)

    mofa = await directory.scope_of("mofa")
    assert mofa.descendants == {"mofa", "icd", "icd-unit"}
    assert mofa.ministry_id == "mofa"  # a ministry is its own ministry
    assert mofa.is_coordinating_body is False  # the designation is on its directorate

    unit = await directory.scope_of("icd-unit")
    assert unit.descendants == {"icd-unit"}
    assert unit.ministry_id == "mofa"
    assert unit.is_coordinating_body is True  # inherits from the designated ancestor

    moe_dir = await directory.scope_of("moe-dir")
    assert (moe_dir.ministry_id, moe_dir.is_coordinating_body) == ("moe", False)
    assert moe_dir.covers("moe-dir")
    assert not moe_dir.covers("moe")

    assert (await directory.scope_of("unesco")).ministry_id is None


async def test_an_unknown_organization_has_an_empty_scope(infra_db, directory_db_url):
    directory = ReplicaDirectory(infra_db.sessionmaker)
    scope = await directory.scope_of("nobody")
    assert scope == OrgScope.empty("nobody")
    assert not scope.covers("nobody")


async def test_only_a_newer_version_changes_the_replica(infra_db, directory_db_url):
    await _load(
        infra_db,
        [
            org("x", parent="a", version=3),
            org("x", parent="b", version=2),  # late, older: ignored
            org("x", parent="c", version=3),  # redelivered version: ignored
        ],
    )
    async with infra_db.engine.connect() as conn:
        row = (await conn.execute(sa.select(organization_directory))).one()
    assert (row.parent_id, row.version) == ("a", 3)

    await _load(infra_db, [org("x", parent="d", version=4, designations=["coordinating_body"])])
    async with infra_db.engine.connect() as conn:
        row = (await conn.execute(sa.select(organization_directory))).one()
    assert (row.parent_id, row.version, row.designations) == ("d", 4, ["coordinating_body"])


async def test_moving_an_organization_moves_its_scope(infra_db, directory_db_url):
    await _load(infra_db, HIERARCHY)
    directory = ReplicaDirectory(infra_db.sessionmaker, cache_seconds=0)
    assert "moe-dir" not in (await directory.scope_of("mofa")).descendants
    await _load(infra_db, [org("moe-dir", parent="mofa", ministry="mofa", version=2)])
    assert "moe-dir" in (await directory.scope_of("mofa")).descendants
    assert (await directory.scope_of("moe-dir")).ministry_id == "mofa"


async def test_an_archived_organization_confers_nothing(infra_db, directory_db_url):
    await _load(infra_db, HIERARCHY)
    directory = ReplicaDirectory(infra_db.sessionmaker, cache_seconds=0)
    assert (await directory.scope_of("moe")).covers("moe-dir")
    await _load(
        infra_db, [org("moe", kind="ministry", ministry="moe", version=2, status="archived")]
    )
    archived = await directory.scope_of("moe")
    assert archived == OrgScope.empty("moe")  # its editors write nothing, it has no country
    # An archived coordinating body is no longer one, for anyone below it either.
    await _load(
        infra_db,
        [
            org(
                "icd",
                parent="mofa",
                ministry="mofa",
                designations=["coordinating_body"],
                status="archived",
                version=2,
            )
        ],
    )
    unit = await directory.scope_of("icd-unit")
    assert unit.is_coordinating_body is False
    assert (unit.country, unit.national, unit.ministry_id) == ("QA", True, "mofa")


async def test_registry_and_replica_compute_the_same_scope(infra_db, directory_db_url):
    """One computation over either table: the registry's `organizations` (UUID ids) and a
    replica fed by its events give the same scopes for the same hierarchy."""
    import uuid

    from sqlalchemy.dialects.postgresql import ARRAY, UUID
    from tansiq_common.auth import scope_from_rows
    from tansiq_common.db import new_metadata

    metadata = new_metadata()
    registry_like = sa.Table(
        "registry_like_organizations",
        metadata,
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("parent_id", UUID(as_uuid=False)),
        sa.Column("ministry_id", UUID(as_uuid=False)),
        sa.Column("scope", sa.Text),
        sa.Column("country", sa.Text),
        sa.Column("designations", ARRAY(sa.Text), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
    )
    ids = {e.data["id"]: str(uuid.uuid4()) for e in HIERARCHY}

    def as_uuid(value):
        return ids.get(value) if value else None

    events = [
        Event({**e.data, **{k: as_uuid(e.data.get(k)) for k in ("id", "parent_id", "ministry_id")}})
        for e in HIERARCHY
    ]
    await _load(infra_db, events)
    async with infra_db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            sa.insert(registry_like),
            [
                {
                    "id": e.data["id"],
                    "parent_id": e.data.get("parent_id"),
                    "ministry_id": e.data.get("ministry_id"),
                    "scope": e.data.get("scope"),
                    "country": e.data.get("country"),
                    "designations": e.data.get("designations") or [],
                    "status": e.data.get("status") or "active",
                }
                for e in events
            ],
        )
    try:
        async with infra_db.sessionmaker() as session:
            for org_id in ids.values():
                from_registry = await scope_from_rows(session, org_id, registry_like)
                from_replica = await scope_from_rows(session, org_id, organization_directory)
                assert from_registry == from_replica
                assert from_registry.known
    finally:
        async with infra_db.engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)


async def test_scopes_on_the_driver_connection_are_the_sessions(infra_db, directory_db_url):
    """The directory given the app's driver reads computes every scope as the session does."""
    await _load(
        infra_db,
        [*HIERARCHY, org("gone", parent="icd", ministry="mofa", status="archived")],
    )
    by_session = ReplicaDirectory(infra_db.sessionmaker, cache_seconds=0)
    by_driver = ReplicaDirectory(
        infra_db.sessionmaker,
        cache_seconds=0,
        reads=infra_db.reads,
    )
    for org_id in ("mofa", "icd", "icd-unit", "moe", "moe-dir", "unesco", "gone", "nobody"):
        assert await by_driver.scope_of(org_id) == await by_session.scope_of(org_id), org_id
    unit = await by_driver.scope_of("icd-unit")
    assert (unit.ministry_id, unit.is_coordinating_body, unit.country) == ("mofa", True, "QA")
    assert (await by_driver.scope_of("mofa")).descendants == {"mofa", "icd", "icd-unit", "gone"}


async def test_scopes_on_the_driver_connection_end_on_a_cycle_in_bad_data(
    infra_db, directory_db_url
):
    """A replica holding a cycle (two organizations each the other's parent, events applied
    out of order) still answers, with both in each other's descendants, as the session does."""
    await _load(
        infra_db,
        [
            org("loop-a", parent="loop-b", ministry="mofa", designations=["coordinating_body"]),
            org("loop-b", parent="loop-a", ministry="mofa"),
        ],
    )
    by_session = ReplicaDirectory(infra_db.sessionmaker, cache_seconds=0)
    by_driver = ReplicaDirectory(infra_db.sessionmaker, cache_seconds=0, reads=infra_db.reads)
    for org_id in ("loop-a", "loop-b"):
        scope = await asyncio.wait_for(by_driver.scope_of(org_id), 5)
        assert scope == await by_session.scope_of(org_id)
        assert scope.descendants == {"loop-a", "loop-b"}
        assert scope.is_coordinating_body is True
