"""Loading and storing engagements; the upsert by (source, external_id) ingestion relies on.

What the API's writes and ingestion's bulk statements run (loads, checks, `lock_keys`,
`insert_if_absent`, the base's add and save) is SQL text on the unit of work's connection: a
request's write stays on the driver, a consumer's runs on its session's connection
(tansiq_common.uow).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from tansiq_common.auth import OrgScope, Principal, visible_sql, visible_to
from tansiq_common.codec import RowMapper, json_text
from tansiq_common.db import Params
from tansiq_common.domain import RuleConflict
from tansiq_common.repository import VersionedRepository, parse_id
from tansiq_common.search import search_text

from tansiq_engagements.engagements.model import Engagement
from tansiq_engagements.engagements.tables import engagements

__all__ = [
    "DuplicateExternalId",
    "EngagementRepository",
    "parse_id",
    "visibility_clause",
    "visibility_sql",
]

MAPPER = RowMapper(Engagement)


# Bulk writes of ingestion: rows as one JSON array each (`created`, `changed`), parsed once
# (`DOCS`, the common table expression `docs`) and read back as engagement records by
# PostgreSQL; each returns the ids it wrote. Parts of a larger statement (the ingestion writes
# the rows' events and audit entries with them, engagements.ingest).
DOCS = "SELECT CAST(:created AS jsonb) AS created, CAST(:changed AS jsonb) AS changed"
INSERT_ROWS = (
    "INSERT INTO engagements SELECT r.* FROM docs, "
    "jsonb_populate_recordset(NULL::engagements, docs.created) AS r "
    "ON CONFLICT DO NOTHING RETURNING id"
)
_LOADED = "loaded_version"  # not a column: the version an updated row was locked at
# Columns the repository derives (`extra_columns`): a row less these (and `_LOADED`) is the
# engagement's state, what its last event carries.
DERIVED_COLUMNS = ("party_org_ids", "search_text")
_UPDATED = [c.name for c in engagements.c if c.name not in ("id", "created_at")]
_TARGETS = ", ".join(f'"{c}"' for c in _UPDATED)
_VALUES = ", ".join(f'r."{c}"' for c in _UPDATED)
UPDATE_ROWS = (
    f"UPDATE engagements AS e SET ({_TARGETS}) = ({_VALUES}) "  # noqa: S608 - our own columns
    "FROM docs, jsonb_array_elements(docs.changed) AS d(doc), "
    "LATERAL jsonb_populate_record(NULL::engagements, d.doc) AS r "
    f"WHERE e.id = r.id AND e.version = (d.doc->>'{_LOADED}')::int RETURNING e.id"
)
_NOT_STATE = ", ".join(f"'{c}'" for c in (*DERIVED_COLUMNS, _LOADED))
# Each row's state by engagement id: an event carrying the state its row holds need not carry
# it again (the database parses it once).
ROW_STATES = " UNION ALL ".join(
    f"SELECT (d->>'id')::uuid AS id, d - ARRAY[{_NOT_STATE}] AS state "  # noqa: S608 - ours
    f"FROM docs, jsonb_array_elements(docs.{docs}) AS d"
    for docs in ("created", "changed")
)
# The engagements of the keys $1 (sources) and $2 (external ids), paired by position, locked in
# id order: the pairs joined on the unique index (`lock_keys`). `columns` is the table's list.
_LOCK_KEYS = (
    "SELECT {columns} FROM engagements JOIN (SELECT unnest($1::text[]) AS source, "
    "unnest($2::text[]) AS external_id) AS wanted USING (source, external_id) "
    "ORDER BY engagements.id FOR UPDATE OF engagements"
)
# Added to a row's INSERT: nothing when the id or the key is taken (`insert_if_absent`).
_IF_ABSENT = " ON CONFLICT DO NOTHING RETURNING id"


class DuplicateExternalId(RuleConflict):
    slug = "duplicate-external-id"


def visibility_clause(scope: OrgScope, principal: Principal) -> sa.ColumnElement[bool]:
    """The rows `principal` may see: the one access filter of every read (and of loads for a
    write, so a hidden engagement is missing, not forbidden)."""
    t = engagements
    return visible_to(
        scope,
        principal,
        visibility_col=t.c.visibility,
        owner_ministry_col=t.c.lead_ministry_id,
        party_org_ids_col=t.c.party_org_ids,
        countries_col=t.c.countries,
    )


def visibility_sql(scope: OrgScope, principal: Principal, bind: Callable[[Any], str]) -> str | None:
    """`visibility_clause` as SQL text over the engagements' columns (tested against it on the
    same rows), for the reads and the writes' loads on the driver; None when the caller sees
    every row. `bind` is `Params.bind`."""
    return visible_sql(scope, principal, bind, owner_ministry="lead_ministry_id")


# The id of the engagement with a (source, external_id): the unique index answers it.
_BY_KEY = "SELECT id::text FROM engagements WHERE source = $1 AND external_id = $2"


class EngagementRepository(VersionedRepository[Engagement]):
    table: ClassVar[sa.Table] = engagements
    mapper: ClassVar[RowMapper] = MAPPER
    conflicts: ClassVar[dict[str, Any]] = {
        "uq_engagements_source_external_id": lambda: DuplicateExternalId(
            "An engagement with this source and external_id exists already."
        ),
    }

    def extra_columns(self, aggregate: Engagement) -> dict[str, Any]:
        e = aggregate
        report = e.report.text if e.report is not None else None
        return {
            "party_org_ids": e.party_org_ids,
            "search_text": search_text(e.title.ar, e.title.en, e.outcome, report),
        }

    async def get_visible(
        self, engagement_id: str, scope: OrgScope | None, principal: Principal | None
    ) -> Engagement | None:
        """Load for update what the caller may see (the system, without a principal, sees all)."""
        canonical = parse_id(engagement_id)
        if canonical is None:
            return None
        p = Params(canonical)
        sql = self.sql.select_one + _visible_to(scope, principal, p) + " FOR UPDATE"
        row = await self.uow.fetchrow(sql, *p.args)
        if row is None:
            return None
        engagement = self.to_model(row)
        self._seen(engagement)
        return engagement

    async def by_keys(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Engagement]:
        """The engagements with these (source, external_id), locked for update in id order
        (`lock_keys`) and handed to the unit of work."""
        found = await self.lock_keys(keys)
        for engagement in found.values():
            self._seen(engagement)
        return found

    async def lock_keys(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Engagement]:
        """The engagements with these (source, external_id), locked for update in id order
        (every writer locks in the same order: no deadlock between batches). They are not
        handed to the unit of work (`by_keys` does): a batch plans its changes on them and
        writes them, their events and audit entries itself. The keys travel as two arrays
        joined on the unique index (a list of row values is planned as a scan of the table).

        A batch's first statement, on the unit of work's connection: the batch door's runs on
        the driver, the consumer's on its session's connection (engagements.ingest)."""
        if not keys:
            return {}
        rows = await self.uow.fetch(
            _LOCK_KEYS.format(columns=self.sql.columns),
            [k[0] for k in keys],
            [k[1] for k in keys],
        )
        found: dict[tuple[str, str], Engagement] = {}
        for row in rows:
            engagement = self.to_model(row)
            found[(engagement.source, engagement.external_id or "")] = engagement
        return found

    @staticmethod
    def state_of(engagement: Engagement) -> Mapping[str, Any]:
        """The engagement's state as JSON: the one its last event carries (computed once, for
        the event), or a snapshot when no event carries the current version."""
        state = engagement.events[-1].state if engagement.events else None
        if state is None or state.get("version") != engagement.version:
            state = engagement.snapshot()
        return state

    def row_of(self, engagement: Engagement, state: Mapping[str, Any]) -> dict[str, Any]:
        """The engagement's row as JSON, from its state (`state_of`)."""
        return {**state, **self.extra_columns(engagement)}

    def rows(
        self,
        created: Sequence[Engagement],
        changed: Sequence[tuple[Engagement, int]],
        states: Mapping[str, Mapping[str, Any]],
    ) -> dict[str, str]:
        """The parameters of INSERT_ROWS and UPDATE_ROWS from the engagements' states (by id):
        `created`, and `changed` each with the version it was locked at (`lock_keys` holds
        the rows, so no one changed them since)."""
        return {
            "created": json_text([self.row_of(e, states[e.id]) for e in created]),
            "changed": json_text(
                [{**self.row_of(e, states[e.id]), _LOADED: v} for e, v in changed]
            ),
        }

    async def find_by_key(self, source: str, external_id: str) -> str | None:
        """The id of the engagement with this (source, external_id), if any."""
        rows = await self.uow.lookup(_BY_KEY, source, external_id)
        return str(rows[0][0]) if rows else None

    async def insert_if_absent(self, engagement: Engagement) -> bool:
        """Insert unless an engagement with the same id or (source, external_id) exists; a
        concurrent insert of the same item makes this wait for it, then do nothing. True when
        this call inserted it. Sent at once, not with the commit (`UnitOfWork.write`): its
        answer decides what the item does next."""
        sql, args = self.sql.insert(self.to_row(engagement))
        rows = await self.uow.fetch(sql + _IF_ABSENT, *args)
        if rows:
            self._seen(engagement)
        return bool(rows)

    async def existing_visible_ids(
        self, ids: Sequence[str], scope: OrgScope | None, principal: Principal | None
    ) -> set[str]:
        canonical = [i for i in (parse_id(x) for x in ids) if i]
        if not canonical:
            return set()
        p = Params(canonical)
        sql = self.sql.select_ids + _visible_to(scope, principal, p)
        return {row[0] for row in await self.uow.lookup(sql, *p.args)}


def _visible_to(scope: OrgScope | None, principal: Principal | None, p: Params) -> str:
    """The visibility rule as an added condition of a statement whose arguments `p` binds (none
    for the system, without a principal, or a caller who sees every row)."""
    if scope is None or principal is None:
        return ""
    visible = visibility_sql(scope, principal, p.bind)
    return "" if visible is None else f" AND {visible}"
