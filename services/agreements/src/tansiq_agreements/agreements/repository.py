"""Loading and storing agreements, their history rows, and the visibility rule as SQL."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from tansiq_common.auth import OrgScope, Principal, visible_to
from tansiq_common.codec import RowMapper
from tansiq_common.context import current_request_id
from tansiq_common.domain import StateEvent
from tansiq_common.repository import VersionedRepository, parse_id
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

__all__ = ["AgreementRepository", "parse_id", "visible"]

MAPPER = RowMapper(Agreement)


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
        stmt = sa.select(agreements).where(agreements.c.id == canonical)
        if principal is not None and scope is not None:
            stmt = stmt.where(visible(principal, scope))
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self.session.execute(stmt)).first()
        if row is None:
            return None
        aggregate = self.to_model(row)
        if for_update:
            self._seen(aggregate)
        return aggregate

    async def find_by_source_key(self, source_key: str) -> Agreement | None:
        row = (
            await self.session.execute(
                sa.select(agreements).where(agreements.c.source_key == source_key)
            )
        ).first()
        return self.to_model(row) if row else None

    async def due_to_expire(self, today: date, batch: int) -> list[str]:
        """Ids of signed or in-force agreements past their expiry, locked for this transaction;
        rows another transaction holds are skipped (another replica is expiring them)."""
        rows = await self.session.execute(
            sa.select(agreements.c.id)
            .where(
                agreements.c.status.in_([status.value for status in EXPIRABLE]),
                agreements.c.expires_on < today,
            )
            .order_by(agreements.c.expires_on, agreements.c.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        return [str(r.id) for r in rows]

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
            await self.session.execute(sa.insert(agreement_history), rows)


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
