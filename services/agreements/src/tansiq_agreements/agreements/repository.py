"""Loading and storing agreements, their history rows, and the visibility rule as SQL (its
SQLAlchemy form, `visible`, and its SQL text for the driver, `visible_text`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from tansiq_common.auth import OrgScope, Principal, visible_sql, visible_to
from tansiq_common.codec import RowMapper
from tansiq_common.context import current_request_id
from tansiq_common.db import Params
from tansiq_common.domain import StateEvent
from tansiq_common.repository import VersionedRepository, parse_id, statements_of
from tansiq_common.search import search_text
from tansiq_common.uow import UnitOfWork

from tansiq_agreements.agreements.model import (
    AGGREGATE_TYPE,
    EXPIRABLE,
    Agreement,
    AlreadyRenewed,
    InvalidAgreement,
)
from tansiq_agreements.agreements.tables import agreement_history, agreements

__all__ = ["AgreementRepository", "by_id", "parse_id", "visible", "visible_text"]

MAPPER = RowMapper(Agreement)
HISTORY = statements_of(agreement_history)
# The expiry schedule's batch: rows another transaction holds are skipped, not waited for.
_DUE_TO_EXPIRE = (
    "SELECT id::text FROM agreements WHERE status = ANY($1) AND expires_on < $2 "
    "ORDER BY expires_on, id LIMIT $3 FOR UPDATE SKIP LOCKED"
)
_EXPIRABLE = [status.value for status in EXPIRABLE]


class DuplicateSourceKey(InvalidAgreement):
    slug = "duplicate-source-key"


def visible(principal: Principal, scope: OrgScope) -> sa.ColumnElement[bool]:
    """The agreements `principal` may see (tansiq_common.auth.visible_to): lists, searches,
    counts and GET by id alike; the owner counts as a party."""
    t = agreements
    return visible_to(
        scope,
        principal,
        visibility_col=t.c.visibility,
        owner_ministry_col=t.c.owner_ministry_id,
        party_org_ids_col=t.c.party_org_ids,
        countries_col=t.c.countries,
    )


def visible_text(principal: Principal, scope: OrgScope, p: Params) -> str | None:
    """`visible` as SQL text, its values bound in `p` (None when the caller sees every
    agreement)."""
    return visible_sql(scope, principal, p.bind, owner_ministry="owner_ministry_id")


def by_id(
    canonical: str,
    columns: str,
    principal: Principal | None,
    scope: OrgScope | None,
    *,
    lock: bool = False,
) -> tuple[str, list[Any]]:
    """The SELECT of `columns` of the agreement `canonical` if the caller may see it (no
    principal: the system itself, which sees every one), locked with `lock`, and its
    arguments."""
    p = Params()
    where = [f"id = {p.bind(canonical)}"]
    if principal is not None and scope is not None:
        seen = visible_text(principal, scope, p)
        if seen is not None:
            where.append(seen)
    # Only column names and $n placeholders are spliced in; every value is bound.
    sql = f"SELECT {columns} FROM agreements WHERE {' AND '.join(where)}"  # noqa: S608
    return (sql + " FOR UPDATE" if lock else sql), p.args


class AgreementRepository(VersionedRepository[Agreement]):
    table: ClassVar[sa.Table] = agreements
    mapper: ClassVar[RowMapper] = MAPPER
    conflicts: ClassVar[dict[str, Any]] = {
        "uq_agreements_source_key": lambda: DuplicateSourceKey("The source key is already used."),
        "uq_agreements_supersedes": lambda: AlreadyRenewed("The agreement was renewed already."),
    }

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        # Events already in the history, by identity (held, so that no identity is reused).
        self._written: dict[int, StateEvent] = {}

    def extra_columns(self, aggregate: Agreement) -> dict[str, Any]:
        a = aggregate
        return {
            "party_org_ids": list(
                dict.fromkeys([a.owner_org_id, *(party.org_id for party in a.parties)])
            ),
            "search_text": search_text(
                a.title.ar, a.title.en, a.summary.ar, a.summary.en, a.source_key
            ),
        }

    async def get_visible(
        self,
        agreement_id: str,
        *,
        principal: Principal | None,
        scope: OrgScope | None,
        for_update: bool = False,
    ) -> Agreement | None:
        """The agreement if it exists and the caller may see it (None: the system itself), in
        one statement; `for_update` locks it and hands it to the unit of work."""
        canonical = parse_id(agreement_id)
        if canonical is None:
            return None
        sql, args = by_id(canonical, self.sql.columns, principal, scope, lock=for_update)
        if for_update:
            row = await self.uow.fetchrow(sql, *args)
        else:
            rows = await self.uow.lookup(sql, *args)
            row = rows[0] if rows else None
        if row is None:
            return None
        aggregate = self.to_model(row)
        if for_update:
            self._seen(aggregate)
        return aggregate

    async def find_by_source_key(self, source_key: str) -> Agreement | None:
        rows = await self.uow.lookup(self.sql.select_by("source_key"), source_key)
        return self.to_model(rows[0]) if rows else None

    async def due_to_expire(self, today: date, batch: int) -> list[str]:
        """Ids of signed or in-force agreements past their expiry, locked for this transaction;
        rows another transaction holds are skipped (another replica is expiring them)."""
        return [row[0] for row in await self.uow.fetch(_DUE_TO_EXPIRE, _EXPIRABLE, today, batch)]

    async def write_history(
        self,
        aggregate: Agreement,
        details: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """One history row and one audit entry per event the aggregate recorded since the last
        call, in the unit of work's transaction. `details`: what each event name was given (the
        conditions of a clearance, the reason of a termination, ...)."""
        actor = self.uow.actor
        rows = []
        for event in aggregate.events:
            if not isinstance(event, StateEvent) or id(event) in self._written:
                continue
            self._written[id(event)] = event
            given = (details or {}).get(event.name)
            rows.append(_history_row(aggregate, event, actor.sub, actor.org, given))
            self.uow.audit(
                f"{AGGREGATE_TYPE}.{event.name}", AGGREGATE_TYPE, aggregate.id, event.changed_fields
            )
        if rows:
            # One statement per row, pipelined: one round trip for all of them.
            statements = [HISTORY.insert(row) for row in rows]
            await self.uow.executemany(statements[0][0], [args for _, args in statements])


def _history_row(
    aggregate: Agreement,
    event: StateEvent,
    actor_sub: str,
    actor_org: str | None,
    details: Mapping[str, Any] | None,
) -> dict[str, Any]:
    state = event.state
    return {
        "agreement_id": aggregate.id,
        "version": int(state["version"]),
        "event": event.name,
        "changed_fields": list(event.changed_fields),
        "details": dict(details or {}),
        "actor_sub": actor_sub,
        "actor_org": actor_org,
        "request_id": current_request_id(),
        "at": datetime.fromisoformat(str(state["updated_at"])),
    }
