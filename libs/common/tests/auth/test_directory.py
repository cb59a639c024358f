"""The organization replica: fed by registry events, newest version wins, scopes by hierarchy."""

from __future__ import annotations

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
            "version": version,
            "names": {"en": org_id},
            **extra,
        }
    )


# MoFA (ministry) > ICD (coordinating body) > ICD-unit; MoE (ministry) > MoE-dir; UNESCO abroad.
HIERARCHY = [
    org("mofa", kind="ministry"),
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
