"""Use cases on indicator definitions: defined, revised and archived by coordinators of a
coordinating body of the indicator's country; each write audited and published."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tansiq_common.auth import OrgScope, Principal, acts_as_coordinator
from tansiq_common.domain import NotAllowed
from tansiq_common.etag import require_if_match
from tansiq_common.uow import UnitOfWork

from tansiq_reporting.indicators.model import Indicator, IndicatorNotFound
from tansiq_reporting.indicators.repository import IndicatorRepository

ENTITY = "indicator"


class NotIndicatorsCoordinator(NotAllowed):
    slug = "not-indicators-coordinator"


def utcnow() -> datetime:
    return datetime.now(UTC)


class IndicatorService:
    """`principal`/`scope` None: the system itself (the demo data)."""

    def __init__(
        self, uow: UnitOfWork, principal: Principal | None = None, scope: OrgScope | None = None
    ) -> None:
        self.uow = uow
        self.principal = principal
        self.scope = scope

    def _check(self, country: str) -> None:
        if self.principal is None or self.scope is None:
            return
        if not acts_as_coordinator(self.principal, self.scope) or (
            (self.scope.country or "") != country.upper()
        ):
            raise NotIndicatorsCoordinator(
                "Only a coordinator of a coordinating body of the indicator's country manages it."
            )

    async def define(
        self, country: str, fields: Mapping[str, Any], source_key: str | None = None
    ) -> Indicator:
        self._check(country)
        async with self.uow:
            indicator = Indicator.define(
                id=str(uuid.uuid4()),
                country=country,
                fields=fields,
                now=utcnow(),
                source_key=source_key,
            )
            await IndicatorRepository(self.uow).add(indicator)
            self.uow.audit(f"{ENTITY}.defined", ENTITY, indicator.id, sorted(fields))
        return indicator

    async def revise(
        self, indicator_id: str, changes: Mapping[str, Any], if_match: str | None
    ) -> Indicator:
        async with self.uow:
            repo = IndicatorRepository(self.uow)
            indicator = await _load(repo, indicator_id)
            self._check(indicator.country)
            require_if_match(if_match, indicator.version)
            changed = indicator.revise(changes, utcnow())
            await repo.save(indicator)
            if changed:
                self.uow.audit(f"{ENTITY}.revised", ENTITY, indicator.id, changed)
        return indicator

    async def archive(self, indicator_id: str, if_match: str | None) -> Indicator:
        async with self.uow:
            repo = IndicatorRepository(self.uow)
            indicator = await _load(repo, indicator_id)
            self._check(indicator.country)
            if if_match is not None:  # optional on actions, honoured when sent
                require_if_match(if_match, indicator.version)
            indicator.archive(utcnow())
            await repo.save(indicator)
            self.uow.audit(f"{ENTITY}.archived", ENTITY, indicator.id, ["status"])
        return indicator


async def _load(repo: IndicatorRepository, indicator_id: str) -> Indicator:
    indicator = await repo.get(indicator_id, for_update=True)
    if indicator is None:
        raise IndicatorNotFound(f"No indicator {indicator_id}.")
    return indicator
