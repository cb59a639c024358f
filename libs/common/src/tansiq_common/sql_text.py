"""Helpers for reads written as SQL text on the driver's connection (tansiq_common.db
.DriverReads): bound $n parameters, and the visibility rule as SQL.

Only column names and $n placeholders are ever spliced into the text; every value is bound, so
the text depends only on which filters are given and asyncpg prepares each shape once per
connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tansiq_common.auth import INTERAGENCY, OrgScope, Principal, reads_country, sees_everything


class Params:
    """A statement's arguments: `bind(value)` adds one and answers its placeholder."""

    __slots__ = ("args",)

    def __init__(self, *args: Any) -> None:
        self.args: list[Any] = list(args)

    def bind(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"


def visible_sql(
    scope: OrgScope,
    principal: Principal,
    bind: Callable[[Any], str],
    *,
    owner_ministry: str,
) -> str | None:
    """`tansiq_common.auth.visible_to` as SQL text, clause for clause, over a table's
    `visibility`, `countries` and `party_org_ids` columns and its owning ministry's column
    (`owner_ministry`): the rows the caller may see, or None when they see every row (a global
    auditor). `bind` is `Params.bind`."""
    clauses = [f"visibility = '{INTERAGENCY}'"]
    if sees_everything(principal, scope):
        country = reads_country(principal, scope)
        if country is None:
            return None
        # `@>`, as visible_to: the GIN indexes on the arrays serve it.
        clauses.append(f"countries @> {bind([country])}")
    if scope.ministry_id is not None:
        clauses.append(f"{owner_ministry} = {bind(scope.ministry_id)}")
    clauses.append(f"party_org_ids @> {bind([principal.org])}")
    return "(" + " OR ".join(clauses) + ")"
