"""Loading and storing indicator definitions."""

from __future__ import annotations

from typing import Any, ClassVar

import sqlalchemy as sa
from tansiq_common.codec import RowMapper
from tansiq_common.domain import RuleConflict
from tansiq_common.repository import VersionedRepository

from tansiq_reporting.indicators.model import Indicator
from tansiq_reporting.indicators.tables import indicators

MAPPER = RowMapper(Indicator)


class DuplicateSourceKey(RuleConflict):
    slug = "duplicate-source-key"


class IndicatorRepository(VersionedRepository[Indicator]):
    table: ClassVar[sa.Table] = indicators
    mapper: ClassVar[RowMapper] = MAPPER
    conflicts: ClassVar[dict[str, Any]] = {
        "uq_indicators_source_key": lambda: DuplicateSourceKey("The source key is already used.")
    }

    async def by_source_key(self, key: str) -> Indicator | None:
        row = (
            await self.session.execute(sa.select(indicators).where(indicators.c.source_key == key))
        ).first()
        return self.to_model(row) if row else None
