"""Who sees what in reporting's views (docs/architecture.md, access model).

- Findings: the one visibility filter over each finding's columns (a finding counts as
  restricted when any record it names is, and is shown only to a caller who may see every one of
  them), and the country boundary: a finding is a country's coordination record, read by that
  country's national callers only (international partners as the visibility filter allows them,
  a global auditor every country's).
- Scorecards and the coverage matrix count every record, restricted ones too, so they are shown
  whole only to those who read everything of that country (coordinators of a coordinating body,
  auditors); anyone else sees the row of their own ministry, whose restricted records they may
  see anyway.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from tansiq_common.auth import (
    OrgScope,
    Principal,
    reads_country,
    sees_everything,
    visible_to,
)


def records_visible(principal: Principal, scope: OrgScope, table: sa.Table) -> ColumnElement[bool]:
    """The visibility filter over a replica of agreements or engagements."""
    return visible_to(
        scope,
        principal,
        visibility_col=table.c.visibility,
        owner_ministry_col=table.c.counted_ministry_id,
        party_org_ids_col=table.c.org_ids,
        countries_col=table.c.countries,
    )


def findings_visible(principal: Principal, scope: OrgScope, table: sa.Table) -> ColumnElement[bool]:
    clause = visible_to(
        scope,
        principal,
        visibility_col=table.c.visibility,
        owner_ministry_col=table.c.owner_ministry_id,
        party_org_ids_col=table.c.party_org_ids,
        countries_col=table.c.countries,
    )
    country = findings_country(principal, scope)
    if country is not None:
        return sa.and_(clause, table.c.country == country)
    return clause


def findings_country(principal: Principal, scope: OrgScope) -> str | None:
    """Findings are a country's coordination record: a caller of a national organization reads
    their own country's; one of an international organization (a party or participant) those
    the visibility filter allows, whatever their country; a global auditor every country's."""
    if sees_everything(principal, scope):
        return reads_country(principal, scope)
    return scope.country


def counters_visible(principal: Principal, scope: OrgScope, table: sa.Table) -> ColumnElement[bool]:
    """Scorecard and coverage cells: a country's whole for those who read everything of it, the
    caller's own ministry for anyone else (nothing when their ministry is unknown)."""
    if sees_everything(principal, scope):
        country = reads_country(principal, scope)
        return sa.true() if country is None else table.c.country == country
    if scope.ministry_id is None:
        return sa.false()
    return table.c.ministry_id == scope.ministry_id
