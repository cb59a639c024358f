"""The one visibility filter (docs/architecture.md): every query that returns records applies it.

Apply it in the query layer, to lists, searches, counts, exports and GET by id alike, so a
restricted record the caller may not see simply is not there: a GET by id answers 404, never 403,
and no count or aggregate betrays it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement

from tansiq_common.auth.principal import Principal
from tansiq_common.auth.scope import OrgScope, reads_country, sees_everything

INTERAGENCY = "interagency"
RESTRICTED = "restricted"
VISIBILITIES = (INTERAGENCY, RESTRICTED)


def visible_to(
    scope: OrgScope,
    principal: Principal,
    *,
    visibility_col: ColumnElement[Any] | Any,
    owner_ministry_col: ColumnElement[Any] | Any,
    party_org_ids_col: ColumnElement[Any] | Any,
    countries_col: ColumnElement[Any] | Any,
) -> ColumnElement[bool]:
    """A WHERE clause: the rows `principal` (whose organization has `scope`) may see.

    - auditors, and coordinators whose organization is a coordinating body
      (`scope.is_coordinating_body`), see every row of their country: `countries_col`, an
      ARRAY(Text) of the countries of the record's owner and parties, contains their country
      (a global auditor, whose token names no organization of the registry, sees every row);
    - everyone else sees a row when any of these holds:
        * `visibility_col = 'interagency'` (any other value, NULL included, counts as restricted:
          fail closed);
        * `owner_ministry_col = scope.ministry_id`, the caller's ministry owns the record
          (skipped when the caller's ministry is unknown, so NULL never matches NULL);
        * the caller's organization id is an element of `party_org_ids_col`, an ARRAY(Text)
          of the record's parties / participants (and, if the service likes, its owner).

    `visibility_col`, `owner_ministry_col` and `party_org_ids_col` are columns (or ORM
    attributes) of the queried table or of a joined replica.
    """
    clauses: list[ColumnElement[bool]] = [visibility_col == INTERAGENCY]
    if sees_everything(principal, scope):
        country = reads_country(principal, scope)
        if country is None:
            return sa.true()
        countries = sa.type_coerce(countries_col, ARRAY(sa.Text))
        clauses.append(countries.contains([country]))
    if scope.ministry_id is not None:
        clauses.append(owner_ministry_col == scope.ministry_id)
    # `@>` rather than `= ANY(...)`, so a GIN index on the party column can serve it.
    parties = sa.type_coerce(party_org_ids_col, ARRAY(sa.Text))
    clauses.append(parties.contains([principal.org]))
    return sa.or_(*clauses)


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
