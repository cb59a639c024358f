"""What reporting knows of the other domains' records: pure Python, read from their events.

Each event carries its aggregate's full state (docs/api.md, Events). Reporting keeps only what
its rules, views and indicators use, and reads it tolerantly: an optional field that is missing,
null or of an unexpected shape is taken as absent, so a producer adding or dropping an optional
field never stops the consumer. Only `id` and an integer `version` are required
(`InvalidRecord`: the event goes to the dead-letter topic).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

NATIONAL = "national"
INTERNATIONAL = "international"
INTERAGENCY = "interagency"
RESTRICTED = "restricted"
COORDINATING_BODY = "coordinating_body"

# Statuses the other domains use (docs/architecture.md, Domain).
AGREEMENT_REACHED_SIGNATURE = frozenset({"signed", "in_force", "expired"})
AGREEMENT_IN_PROGRESS = frozenset(
    {"draft", "submitted", "cleared", "returned", "signed", "in_force"}
)
ENGAGEMENT_HELD = frozenset({"held", "reported"})
CANCELLED = "cancelled"
# An action item in one of these states needs nothing more.
ACTION_ITEM_FINISHED = frozenset({"done", "completed", "closed", "cancelled"})


class InvalidRecord(ValueError):
    """An event without the identity and version every state-transfer event carries."""


@dataclass(frozen=True)
class Text:
    """A bilingual text; either language may be missing."""

    ar: str | None = None
    en: str | None = None

    def in_(self, lang: str) -> str:
        first, second = (self.ar, self.en) if lang == "ar" else (self.en, self.ar)
        return first or second or ""


@dataclass(frozen=True)
class Themes:
    sdgs: tuple[int, ...] = ()
    sectors: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()

    def shared_with(self, other: Themes) -> tuple[tuple[int, ...], tuple[str, ...]]:
        """The SDG goals and sectors both carry (what makes two engagements the same theme)."""
        return (
            tuple(sorted(set(self.sdgs) & set(other.sdgs))),
            tuple(sorted(set(self.sectors) & set(other.sectors))),
        )

    @property
    def aligned(self) -> bool:
        """Carries an SDG goal or a national priority (rule C7)."""
        return bool(self.sdgs or self.priorities)


@dataclass(frozen=True)
class Org:
    """An organization as reporting sees it; `ministry_id` and `coordinating` are derived from
    the hierarchy in reporting's own replica (recomputed for a subtree when it moves)."""

    id: str
    names: Text = field(default_factory=Text)
    acronym: str | None = None
    kind: str = "other"
    scope: str | None = None
    country: str | None = None
    parent_id: str | None = None
    status: str = "active"
    designations: tuple[str, ...] = ()
    ministry_id: str | None = None
    coordinating: bool = False

    @property
    def international(self) -> bool:
        return self.scope == INTERNATIONAL

    @property
    def national(self) -> bool:
        return self.scope == NATIONAL

    def label(self, lang: str) -> str:
        name = self.names.in_(lang)
        if self.acronym and name and self.acronym not in name:
            return f"{name} ({self.acronym})"
        return name or self.acronym or self.id


@dataclass(frozen=True)
class ActionItem:
    title: str
    due_on: date | None
    status: str | None
    owner_org_id: str | None = None

    @property
    def finished(self) -> bool:
        return (self.status or "").lower() in ACTION_ITEM_FINISHED


@dataclass(frozen=True)
class Agreement:
    id: str
    version: int
    title: Text = field(default_factory=Text)
    kind: str | None = None
    status: str | None = None
    owner_org_id: str | None = None
    party_org_ids: tuple[str, ...] = ()
    themes: Themes = field(default_factory=Themes)
    signed_on: date | None = None
    effective_from: date | None = None
    expires_on: date | None = None
    cleared: bool = False
    supersedes: str | None = None
    visibility: str = RESTRICTED
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def org_ids(self) -> tuple[str, ...]:
        """The owner and every party."""
        return _unique(
            ([self.owner_org_id] if self.owner_org_id else []) + list(self.party_org_ids)
        )

    @property
    def reached_signature(self) -> bool:
        return self.status in AGREEMENT_REACHED_SIGNATURE or (
            self.status == "terminated" and self.signed_on is not None
        )

    @property
    def record_date(self) -> date | None:
        """The date the record counts under in monthly trends and yearly series."""
        if self.signed_on or self.effective_from:
            return self.signed_on or self.effective_from
        return self.created_at.date() if self.created_at else None


@dataclass(frozen=True)
class Engagement:
    id: str
    version: int
    title: Text = field(default_factory=Text)
    kind: str | None = None
    status: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    lead_org_id: str | None = None
    participant_org_ids: tuple[str, ...] = ()
    attendees_total: int = 0
    nationals: int = 0
    nationals_trained: int = 0
    agreement_ids: tuple[str, ...] = ()
    related_engagement_ids: tuple[str, ...] = ()
    themes: Themes = field(default_factory=Themes)
    channel: str | None = None
    coordinating_body_notified_at: datetime | None = None
    report_due_on: date | None = None
    report_submitted_at: datetime | None = None
    action_items: tuple[ActionItem, ...] = ()
    visibility: str = RESTRICTED
    source: str | None = None
    external_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def org_ids(self) -> tuple[str, ...]:
        """The lead and every participant."""
        return _unique(
            ([self.lead_org_id] if self.lead_org_id else []) + list(self.participant_org_ids)
        )

    @property
    def held(self) -> bool:
        return self.status in ENGAGEMENT_HELD

    @property
    def cancelled(self) -> bool:
        return self.status == CANCELLED

    @property
    def report_submitted(self) -> bool:
        return self.report_submitted_at is not None or self.status == "reported"

    @property
    def when(self) -> datetime | None:
        """When it ended (or started, if no end is known): the clock of rule C2."""
        return self.end or self.start

    @property
    def record_date(self) -> date | None:
        if self.start is not None:
            return self.start.date()
        return self.created_at.date() if self.created_at else None

    def linked_to(self, other: Engagement) -> bool:
        """Coordination recorded in either direction through related_engagement_ids."""
        return other.id in self.related_engagement_ids or self.id in other.related_engagement_ids


# --- reading event payloads --------------------------------------------------------------------


def _unique(ids: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    try:
        return max(int(str(value)), 0)
    except (TypeError, ValueError):
        return 0


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    # A time without an offset is taken as UTC rather than refused.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _bilingual(value: Any) -> Text:
    if isinstance(value, Mapping):
        return Text(ar=_text(value.get("ar")), en=_text(value.get("en")))
    if isinstance(value, str):
        return Text(en=_text(value))
    return Text()


def _themes(value: Any) -> Themes:
    if not isinstance(value, Mapping):
        return Themes()
    sdgs = sorted(
        {
            int(v)
            for v in _list(value.get("sdgs"))
            if isinstance(v, int | str) and str(v).isdigit() and 1 <= int(v) <= 17
        }
    )
    return Themes(
        sdgs=tuple(sdgs),
        sectors=tuple(sorted({s for s in (_text(v) for v in _list(value.get("sectors"))) if s})),
        priorities=tuple(
            sorted({p for p in (_text(v) for v in _list(value.get("priorities"))) if p})
        ),
    )


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _org_ids(value: Any) -> tuple[str, ...]:
    """Org ids from `[{org_id, role}]` (or plain ids)."""
    found = []
    for item in _list(value):
        org_id = _text(item.get("org_id")) if isinstance(item, Mapping) else _text(item)
        if org_id:
            found.append(org_id)
    return _unique(found)


def _ids(value: Any) -> tuple[str, ...]:
    return _unique(i for i in (_text(v) for v in _list(value)) if i)


def _identity(data: Mapping[str, Any]) -> tuple[str, int]:
    record_id, version = _text(data.get("id")), data.get("version")
    if record_id is None or not isinstance(version, int) or isinstance(version, bool):
        raise InvalidRecord("a state event carries an `id` and an integer `version`")
    return record_id, version


def _visibility(value: Any) -> str:
    # Anything but an explicit "interagency" is treated as restricted: fail closed.
    return INTERAGENCY if value == INTERAGENCY else RESTRICTED


def organization_from_event(data: Mapping[str, Any]) -> Org:
    org_id, _ = _identity(data)
    return Org(
        id=org_id,
        names=_bilingual(data.get("names")),
        acronym=_text(data.get("acronym")),
        kind=_text(data.get("kind")) or "other",
        scope=_text(data.get("scope")),
        country=(_text(data.get("country")) or "").upper() or None,
        parent_id=_text(data.get("parent_id")),
        status=_text(data.get("status")) or "active",
        designations=tuple(
            sorted({d for d in (_text(v) for v in _list(data.get("designations"))) if d})
        ),
    )


def _cleared(clearance: Any) -> bool:
    """Cleared by a coordinating body: the agreements service records the decision; only a
    coordinating body's user can make it."""
    if not isinstance(clearance, Mapping):
        return False
    decision = (_text(clearance.get("decision")) or "").lower()
    return decision in {"cleared", "clear", "approved"}


def agreement_from_event(data: Mapping[str, Any]) -> Agreement:
    agreement_id, version = _identity(data)
    return Agreement(
        id=agreement_id,
        version=version,
        title=_bilingual(data.get("title")),
        kind=_text(data.get("kind")),
        status=_text(data.get("status")),
        owner_org_id=_text(data.get("owner_org_id")),
        party_org_ids=_org_ids(data.get("parties")),
        themes=_themes(data.get("themes")),
        signed_on=_date(data.get("signed_on")),
        effective_from=_date(data.get("effective_from")),
        expires_on=_date(data.get("expires_on")),
        cleared=(
            data["cleared"]
            if isinstance(data.get("cleared"), bool)
            else _cleared(data.get("clearance"))
        ),
        supersedes=_text(data.get("supersedes")),
        visibility=_visibility(data.get("visibility", INTERAGENCY)),
        created_at=_datetime(data.get("created_at")),
        updated_at=_datetime(data.get("updated_at")),
    )


def _action_items(value: Any) -> tuple[ActionItem, ...]:
    items = []
    for item in _list(value):
        if not isinstance(item, Mapping):
            continue
        items.append(
            ActionItem(
                title=_text(item.get("title")) or "",
                due_on=_date(item.get("due_on")),
                status=_text(item.get("status")),
                owner_org_id=_text(item.get("owner_org_id")),
            )
        )
    return tuple(items)


def engagement_from_event(data: Mapping[str, Any]) -> Engagement:
    engagement_id, version = _identity(data)
    given = data.get("attendees")
    attendees: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    report = data.get("report")
    submitted = None
    if isinstance(report, Mapping):
        submitted = _datetime(report.get("submitted_at")) or _datetime(report.get("created_at"))
    return Engagement(
        id=engagement_id,
        version=version,
        title=_bilingual(data.get("title")),
        kind=_text(data.get("kind")),
        status=_text(data.get("status")),
        start=_datetime(data.get("start")),
        end=_datetime(data.get("end")),
        lead_org_id=_text(data.get("lead_org_id")),
        participant_org_ids=_org_ids(data.get("participants")),
        attendees_total=_int(attendees.get("total")),
        nationals=_int(attendees.get("nationals")),
        nationals_trained=_int(attendees.get("nationals_trained")),
        agreement_ids=_ids(data.get("agreement_ids")),
        related_engagement_ids=_ids(data.get("related_engagement_ids")),
        themes=_themes(data.get("themes")),
        channel=_text(data.get("channel")),
        coordinating_body_notified_at=_datetime(data.get("coordinating_body_notified_at")),
        report_due_on=_date(data.get("report_due_on")),
        report_submitted_at=submitted,
        action_items=_action_items(data.get("action_items")),
        visibility=_visibility(data.get("visibility", INTERAGENCY)),
        source=_text(data.get("source")),
        external_id=_text(data.get("external_id")),
        created_at=_datetime(data.get("created_at")),
        updated_at=_datetime(data.get("updated_at")),
    )


def ministry_of(chain: Sequence[Org]) -> str | None:
    """The ministry of `chain[0]`: the topmost national organization of the unbroken national
    chain from it up (`chain`: the organization, then its ancestors nearest first, as far as
    they are known).

    The same rule as the registry's: a ministry is its own ministry, an international body has
    none. A missing link (a parent not replicated yet) ends the chain; when the parent arrives,
    its subtree is recomputed.
    """
    top = None
    for org in chain:
        if not org.national:
            break
        top = org.id
    return top


def is_coordinating(chain: Sequence[Org]) -> bool:
    """Staff of `chain[0]` are a coordinating body's staff: it is active and it or an ancestor
    carries the designation and is active (an archived organization confers nothing)."""
    if not chain or chain[0].status != "active":
        return False
    return any(o.status == "active" and COORDINATING_BODY in o.designations for o in chain)
