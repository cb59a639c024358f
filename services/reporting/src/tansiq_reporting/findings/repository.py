"""Loading and storing findings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from tansiq_common.codec import RowMapper
from tansiq_common.repository import VersionedRepository

from tansiq_reporting.findings.model import Finding
from tansiq_reporting.findings.rules import RecordRef
from tansiq_reporting.findings.tables import findings

MAPPER = RowMapper(Finding)


class FindingRepository(VersionedRepository[Finding]):
    table: ClassVar[sa.Table] = findings
    mapper: ClassVar[RowMapper] = MAPPER

    def extra_columns(self, aggregate: Finding) -> dict[str, Any]:
        f = aggregate
        return {
            "anchor_type": f.anchor.type,
            "anchor_id": f.anchor.id,
            "record_ids": sorted({r.id for r in f.records}),
            "other_record_ids": sorted({r.id for r in f.records[1:]} - {f.anchor.id}),
            "visibility": f.access.visibility,
            "owner_ministry_id": f.access.owner_ministry_id,
            "party_org_ids": list(f.access.party_org_ids),
            "countries": list(f.access.countries),
        }

    async def add_all(self, found: Sequence[Finding]) -> None:
        """Insert new findings in one statement."""
        if not found:
            return
        await self.session.execute(sa.insert(findings), [self.to_row(f) for f in found])
        for finding in found:
            self._seen(finding)

    async def save_all(self, changed: Sequence[Finding]) -> None:
        """Write back findings loaded for update, in one statement. Their rows are locked
        (`anchored_at`) under the evaluation lock, which every writer of findings takes: no
        version can have moved since they were read."""
        if not changed:
            return
        t = findings
        rows = []
        for finding in changed:
            row = self.to_row(finding)
            row.pop("created_at", None)
            rows.append({f"b_{name}": value for name, value in row.items()})
            self._loaded[finding.id] = finding.version
        names = [name for name in self.to_row(changed[0]) if name not in ("id", "created_at")]
        await self.session.execute(
            sa.update(t)
            .where(t.c.id == sa.bindparam("b_id"))
            .values({name: sa.bindparam(f"b_{name}") for name in names}),
            rows,
        )

    async def anchored_at(self, anchors: Iterable[RecordRef]) -> dict[str, Finding]:
        """The findings anchored at any of the records, locked for update, by id."""
        wanted = {(a.type, a.id) for a in anchors}
        if not wanted:
            return {}
        t = findings
        # By id alone (= ANY uses the index whatever the list's length); record ids are UUIDs,
        # so the type only confirms.
        rows = await self.session.execute(
            sa.select(t)
            .where(
                t.c.anchor_id
                == sa.func.any(sa.cast(sorted({i for _, i in wanted}), ARRAY(sa.Text)))
            )
            .order_by(t.c.id)
            .with_for_update()
        )
        found = {}
        for row in rows:
            if (row.anchor_type, row.anchor_id) not in wanted:
                continue
            finding = self.to_model(row)
            self._seen(finding)
            found[finding.id] = finding
        return found

    async def anchors_naming(self, records: Iterable[RecordRef]) -> set[RecordRef]:
        """The anchors of the findings (not resolved) that name any of the records besides
        their anchor: they must be looked at again when one of those records changes."""
        ids = sorted({r.id for r in records})
        if not ids:
            return set()
        t = findings
        # The partial index's own conditions, so it serves whatever the plan.
        rows = await self.session.execute(
            sa.select(t.c.anchor_type, t.c.anchor_id).where(
                t.c.other_record_ids.overlap(sa.cast(ids, t.c.other_record_ids.type)),
                t.c.other_record_ids != sa.text("'{}'"),
                t.c.status != "resolved",
            )
        )
        return {RecordRef(row.anchor_type, row.anchor_id) for row in rows}
