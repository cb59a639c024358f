"""The engagement aggregate: who met whom, when, about what, and what came of it.

Pure Python: no FastAPI, no SQL. The service resolves what the rules need to know of other
records (the organizations named, the agreements and engagements linked) and hands it in as
`References`; the aggregate checks every rule against them and records one event per change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from tansiq_common.codec import state_fields
from tansiq_common.countries import is_country
from tansiq_common.domain import (
    DomainError,
    NotFoundError,
    RuleConflict,
    VersionedAggregate,
)

E = TypeVar("E", bound=StrEnum)

TOPIC = "engagements.engagement.v1"
AGGREGATE_TYPE = "engagement"

MANUAL = "manual"
# An integration system's name, as in its ce_source /tansiq/integration/<system>.
SOURCE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")

TITLE_MAX = 500
CITY_MAX = 200
CODE_MAX = 50
THEME_CODES_MAX = 50
OUTCOME_MAX = 10_000
REPORT_MAX = 50_000
EXTERNAL_ID_MAX = 200
PARTICIPANTS_MAX = 200
LINKS_MAX = 100
ACTION_ITEMS_MAX = 200
ATTACHMENTS_MAX = 20
ATTACHMENT_NAME_MAX = 255
URI_MAX = 2048
PEOPLE_MAX = 1_000_000
ATTACHMENT_BYTES_MAX = 10**12
# Dates outside these years are typing errors (and beyond what every store handles).
EARLIEST_YEAR, LATEST_YEAR = 1950, 2100
MEDIA_TYPE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,62}$"
)
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Kind(StrEnum):
    meeting = "meeting"
    visit = "visit"
    conference = "conference"
    strategic_dialogue = "strategic_dialogue"
    training = "training"
    workshop = "workshop"
    correspondence = "correspondence"
    technical_assistance = "technical_assistance"
    placement = "placement"
    signing = "signing"
    event = "event"


class ParticipantRole(StrEnum):
    host = "host"
    organizer = "organizer"
    participant = "participant"
    observer = "observer"


class Channel(StrEnum):
    via_coordinating_body = "via_coordinating_body"
    direct = "direct"
    unknown = "unknown"


class Status(StrEnum):
    planned = "planned"
    held = "held"
    cancelled = "cancelled"
    reported = "reported"


class Visibility(StrEnum):
    interagency = "interagency"
    restricted = "restricted"


class ActionStatus(StrEnum):
    open = "open"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"


# What a client may set the status to; `reported` comes with a report.
CLIENT_STATUSES = frozenset({Status.planned, Status.held, Status.cancelled})
# (from, to) changes of status a client may make. Held is final but for the report; a cancelled
# engagement may be planned again.
STATUS_CHANGES = frozenset(
    {
        (Status.planned, Status.held),
        (Status.planned, Status.cancelled),
        (Status.cancelled, Status.planned),
    }
)


# --- errors --------------------------------------------------------------------------------------


class InvalidEngagement(DomainError):
    """A field has a value the engagement refuses (422)."""


class InvalidDates(InvalidEngagement):
    slug = "invalid-dates"


class InvalidAttendees(InvalidEngagement):
    slug = "invalid-attendees"


class DuplicateParticipant(InvalidEngagement):
    slug = "duplicate-participant"


class UnknownOrganization(InvalidEngagement):
    slug = "unknown-organization"


class UnknownAgreement(InvalidEngagement):
    slug = "unknown-agreement"


class UnknownEngagement(InvalidEngagement):
    slug = "unknown-engagement"


class InvalidSource(InvalidEngagement):
    slug = "invalid-source"


class StatusConflict(RuleConflict):
    slug = "status-conflict"


class EngagementNotFound(NotFoundError):
    slug = "engagement-not-found"


class ActionItemNotFound(NotFoundError):
    slug = "action-item-not-found"


class ReportNotFound(NotFoundError):
    slug = "report-not-found"


def _fail(error: type[InvalidEngagement], field_name: str, message: str) -> InvalidEngagement:
    return error(message, [{"field": field_name, "message": message}])


def _invalid(field_name: str, message: str) -> InvalidEngagement:
    return _fail(InvalidEngagement, field_name, message)


# --- value objects -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Title:
    ar: str | None = None
    en: str | None = None


@dataclass(frozen=True)
class Location:
    city: str | None = None
    country: str | None = None
    virtual: bool = False


@dataclass(frozen=True)
class Participant:
    org_id: str
    role: ParticipantRole


@dataclass(frozen=True)
class Attendees:
    total: int = 0
    nationals: int = 0
    nationals_trained: int = 0


@dataclass(frozen=True)
class Themes:
    sdgs: tuple[int, ...] = ()
    sectors: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attachment:
    """Metadata of a file kept elsewhere (the document store): never the file itself."""

    name: str
    media_type: str
    size_bytes: int | None = None
    uri: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Report:
    """The participants' report, kept as institutional memory."""

    text: str
    submitted_by: str
    submitted_at: datetime
    submitted_by_org: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class ActionItem:
    id: str
    title: str
    owner_org_id: str
    status: ActionStatus
    created_at: datetime
    updated_at: datetime
    due_on: date | None = None


@dataclass(frozen=True)
class OrgFacts:
    """What the rules need to know of an organization (from the registry's replica)."""

    id: str
    national: bool
    country: str | None = None
    ministry_id: str | None = None
    active: bool = True


@dataclass(frozen=True)
class References:
    """The records a change names that exist (the service looked them up)."""

    organizations: Mapping[str, OrgFacts] = field(default_factory=dict)
    agreement_ids: frozenset[str] = frozenset()
    engagement_ids: frozenset[str] = frozenset()


# --- the aggregate -------------------------------------------------------------------------------

# Fields a client sets on create, on update and through an ingestion item.
EDITABLE_FIELDS = (
    "kind",
    "title",
    "start",
    "end",
    "location",
    "lead_org_id",
    "participants",
    "attendees",
    "agreement_ids",
    "related_engagement_ids",
    "themes",
    "channel",
    "coordinating_body_notified_at",
    "status",
    "visibility",
    "report_due_on",
    "outcome",
)
_EDITABLE = frozenset(EDITABLE_FIELDS)
_BOOKKEEPING = frozenset({"version", "updated_at", "created_at"})


@dataclass
class Engagement(VersionedAggregate):
    """An engagement; its events carry `snapshot()`: everything reporting needs, no personal
    data (a report names who submitted it by token subject only)."""

    TOPIC: ClassVar[str] = TOPIC
    AGGREGATE_TYPE: ClassVar[str] = AGGREGATE_TYPE

    id: str
    kind: Kind
    title: Title
    start: datetime
    lead_org_id: str
    created_at: datetime
    updated_at: datetime
    end: datetime | None = None
    location: Location = Location()
    # Derived from the lead organization: its ministry and country (what reporting groups by).
    lead_ministry_id: str | None = None
    lead_country: str | None = None
    participants: tuple[Participant, ...] = ()
    attendees: Attendees = Attendees()
    agreement_ids: tuple[str, ...] = ()
    related_engagement_ids: tuple[str, ...] = ()
    themes: Themes = Themes()
    channel: Channel = Channel.unknown
    coordinating_body_notified_at: datetime | None = None
    status: Status = Status.planned
    visibility: Visibility = Visibility.interagency
    report_due_on: date | None = None
    outcome: str | None = None
    report: Report | None = None
    action_items: tuple[ActionItem, ...] = ()
    # Derived: the countries of the lead and the participants (the country boundary).
    countries: frozenset[str] = frozenset()
    source: str = MANUAL
    external_id: str | None = None
    version: int = 1
    events: list[Any] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def create(
        cls,
        *,
        id: str,
        fields: Mapping[str, Any],
        refs: References,
        now: datetime,
        source: str = MANUAL,
        external_id: str | None = None,
    ) -> Engagement:
        source, external_id = check_source(source, external_id)
        missing = [
            name for name in ("kind", "title", "start", "lead_org_id") if not fields.get(name)
        ]
        if missing:
            raise _invalid(missing[0], f"{missing[0]} is required.")
        engagement = cls(
            id=id,
            kind=Kind.meeting,
            title=Title(),
            start=now,
            lead_org_id="",
            created_at=now,
            updated_at=now,
            source=source,
            external_id=external_id,
        )
        engagement._apply(fields, refs, before=None)
        engagement.record("created", sorted(fields), now, bump=False)
        return engagement

    def revise(self, changes: Mapping[str, Any], *, refs: References, now: datetime) -> list[str]:
        """Apply a partial change (merge patch, or a whole ingestion item); returns the fields
        that really changed. Nothing changed: no new version, no event."""
        trial = replace(self, events=[])
        trial._apply(changes, refs, before=self)
        before, after = self.snapshot(), trial.snapshot()
        changed = sorted(k for k in after if after[k] != before[k] and k not in _BOOKKEEPING)
        if not changed:
            return []
        for name, _ in state_fields(Engagement):
            setattr(self, name, getattr(trial, name))
        self.record(_event_for(changed, self.status), changed, now)
        return changed

    def submit_report(
        self,
        *,
        text: str,
        attachments: Sequence[Any],
        by: str,
        by_org: str | None,
        now: datetime,
        submitted_at: datetime | None = None,
    ) -> bool:
        """File (or replace) the report; the engagement becomes `reported`. False: the same
        report again, nothing changed. (`submitted_at`: when it was filed, if not now: a
        report recorded after the fact.)"""
        if self.status not in (Status.held, Status.reported):
            raise StatusConflict(
                f"Only a held engagement is reported on; this one is {self.status.value}.",
                extra={"status": self.status.value},
            )
        text = _required_text(text, "text", REPORT_MAX)
        files = _attachments(attachments)
        if (
            self.report is not None
            and self.report.text == text
            and self.report.attachments == files
        ):
            return False
        first = self.report is None
        self.report = Report(
            text=text,
            attachments=files,
            submitted_by=by,
            submitted_by_org=by_org,
            submitted_at=submitted_at or now,
        )
        self.status = Status.reported
        changed = ["report", "status"] if first else ["report"]
        self.record("reported" if first else "report_revised", changed, now)
        return True

    def add_action_item(
        self, *, item_id: str, fields: Mapping[str, Any], refs: References, now: datetime
    ) -> ActionItem:
        if len(self.action_items) >= ACTION_ITEMS_MAX:
            raise _invalid("action_items", f"An engagement has at most {ACTION_ITEMS_MAX} items.")
        item = ActionItem(
            id=item_id,
            title=_required_text(fields.get("title"), "title", TITLE_MAX),
            owner_org_id=_known_org(fields.get("owner_org_id"), "owner_org_id", refs),
            due_on=_date(fields.get("due_on"), "due_on"),
            status=_enum(ActionStatus, fields.get("status") or ActionStatus.open, "status"),
            created_at=now,
            updated_at=now,
        )
        self.action_items = (*self.action_items, item)
        self.record("action_item_added", ["action_items"], now)
        return item

    def action_item(self, item_id: str) -> ActionItem:
        for item in self.action_items:
            if item.id == item_id:
                return item
        raise ActionItemNotFound(f"No action item {item_id} on engagement {self.id}.")

    def revise_action_item(
        self, item_id: str, changes: Mapping[str, Any], *, refs: References, now: datetime
    ) -> list[str]:
        current = self.action_item(item_id)
        revised = current
        if "title" in changes:
            revised = replace(revised, title=_required_text(changes["title"], "title", TITLE_MAX))
        if "owner_org_id" in changes:
            revised = replace(
                revised, owner_org_id=_known_org(changes["owner_org_id"], "owner_org_id", refs)
            )
        if "due_on" in changes:
            revised = replace(revised, due_on=_date(changes["due_on"], "due_on"))
        if "status" in changes:
            if changes["status"] is None:
                raise _invalid("status", "status is required.")
            revised = replace(revised, status=_enum(ActionStatus, changes["status"], "status"))
        changed = [
            name
            for name in ("title", "owner_org_id", "due_on", "status")
            if getattr(revised, name) != getattr(current, name)
        ]
        if not changed:
            return []
        revised = replace(revised, updated_at=now)
        self.action_items = tuple(revised if i.id == item_id else i for i in self.action_items)
        self.record("action_item_updated", ["action_items"], now)
        return changed

    @property
    def party_org_ids(self) -> list[str]:
        """The lead and every participant: who may see it when it is restricted."""
        return list(dict.fromkeys([self.lead_org_id, *(p.org_id for p in self.participants)]))

    # -- internals --

    def _apply(
        self, fields: Mapping[str, Any], refs: References, before: Engagement | None
    ) -> None:
        unknown = fields.keys() - _EDITABLE
        if unknown:
            name = sorted(unknown)[0]
            raise _invalid(name, f"{name} cannot be set by a client.")
        if "kind" in fields:
            self.kind = _enum(Kind, fields["kind"], "kind")
        if "title" in fields:
            self.title = _title(fields["title"], self.title if before is not None else Title())
        if not (self.title.ar or self.title.en):
            raise _invalid("title", "An Arabic or an English title is required.")
        if "start" in fields:
            if fields["start"] is None:
                raise _invalid("start", "start is required.")
            self.start = _moment(fields["start"], "start")
        if "end" in fields:
            self.end = None if fields["end"] is None else _moment(fields["end"], "end")
        if "location" in fields:
            self.location = _location(fields["location"])
        if "attendees" in fields:
            self.attendees = _attendees(fields["attendees"])
        if "themes" in fields:
            self.themes = _themes(fields["themes"])
        if "channel" in fields:
            self.channel = _enum(Channel, fields["channel"] or Channel.unknown, "channel")
        if "coordinating_body_notified_at" in fields:
            value = fields["coordinating_body_notified_at"]
            self.coordinating_body_notified_at = (
                None if value is None else _moment(value, "coordinating_body_notified_at")
            )
        if "visibility" in fields:
            self.visibility = _enum(
                Visibility, fields["visibility"] or Visibility.interagency, "visibility"
            )
        if "report_due_on" in fields:
            self.report_due_on = _date(fields["report_due_on"], "report_due_on")
        if "outcome" in fields:
            self.outcome = _text(fields["outcome"], "outcome", OUTCOME_MAX)
        if "status" in fields:
            self.status = _next_status(
                before.status if before is not None else None, fields["status"]
            )
        _check_dates(self)

        previous = before.participants if before is not None else ()
        previous_ids = {p.org_id for p in previous}
        if before is not None:
            previous_ids.add(before.lead_org_id)
        if "lead_org_id" in fields:
            self.lead_org_id = _lead(fields["lead_org_id"], refs, previous_ids)
        if "participants" in fields:
            self.participants = _participants(fields["participants"] or (), refs, previous_ids)
        if "agreement_ids" in fields:
            self.agreement_ids = _links(
                fields["agreement_ids"] or (),
                "agreement_ids",
                refs.agreement_ids,
                UnknownAgreement,
                "agreement",
                kept=before.agreement_ids if before is not None else (),
            )
        if "related_engagement_ids" in fields:
            links = _links(
                fields["related_engagement_ids"] or (),
                "related_engagement_ids",
                refs.engagement_ids,
                UnknownEngagement,
                "engagement",
                kept=before.related_engagement_ids if before is not None else (),
            )
            if self.id in links:
                raise _invalid("related_engagement_ids", "An engagement is not related to itself.")
            self.related_engagement_ids = links
        self._derive(refs)

    def _derive(self, refs: References) -> None:
        """The lead's ministry and country, and every country involved (the service looks up
        every organization the engagement names on each change)."""
        lead = refs.organizations.get(self.lead_org_id)
        if lead is not None:
            self.lead_ministry_id = lead.ministry_id
            self.lead_country = lead.country
        countries = {self.lead_country} if self.lead_country else set()
        for participant in self.participants:
            facts = refs.organizations.get(participant.org_id)
            if facts is not None and facts.country:
                countries.add(facts.country)
        self.countries = frozenset(countries)


def _event_for(changed: Sequence[str], status: Status) -> str:
    if "status" in changed:
        return {
            Status.held: "held",
            Status.cancelled: "cancelled",
            Status.planned: "replanned",
            Status.reported: "updated",
        }[status]
    return "updated"


def check_source(source: Any, external_id: Any) -> tuple[str, str | None]:
    """`manual` records may carry an external id; every other source must (it is the key an
    integration job upserts by)."""
    if source is None:
        source = MANUAL
    if not isinstance(source, str) or not SOURCE_PATTERN.fullmatch(source):
        raise _fail(
            InvalidSource,
            "source",
            "source is `manual` or a system name: letters, digits, `.`, `_` or `-`.",
        )
    if external_id is not None:
        if not isinstance(external_id, str) or not external_id.strip():
            raise _fail(InvalidSource, "external_id", "external_id must be non-empty text.")
        external_id = external_id.strip()
        if len(external_id) > EXTERNAL_ID_MAX:
            raise _fail(
                InvalidSource,
                "external_id",
                f"external_id is longer than {EXTERNAL_ID_MAX} characters.",
            )
        if "\x00" in external_id:
            raise _fail(InvalidSource, "external_id", "external_id contains a NUL character.")
    elif source != MANUAL:
        raise _fail(InvalidSource, "external_id", f"A record from {source} needs its external_id.")
    return source, external_id


def _next_status(current: Status | None, value: Any) -> Status:
    wanted = _enum(Status, value if value is not None else Status.planned, "status")
    if current is None:
        if wanted not in CLIENT_STATUSES:
            raise _invalid("status", "An engagement becomes reported when its report is filed.")
        return wanted
    if wanted == current:
        return current
    if current is Status.reported and wanted is Status.held:
        return current  # a reported engagement was held: nothing to change
    if (current, wanted) in STATUS_CHANGES:
        return wanted
    raise StatusConflict(
        f"A {current.value} engagement cannot become {wanted.value}.",
        [{"field": "status", "message": f"{current.value} → {wanted.value} is not allowed"}],
        extra={"status": current.value},
    )


def _check_dates(e: Engagement) -> None:
    if e.end is not None and e.end < e.start:
        raise _fail(InvalidDates, "end", "end is before start.")
    if e.report_due_on is not None and e.report_due_on < e.start.date():
        raise _fail(InvalidDates, "report_due_on", "report_due_on is before the start.")


def _lead(value: Any, refs: References, previous: set[str]) -> str:
    org_id = _known_org(value, "lead_org_id", refs)
    facts = refs.organizations[org_id]
    if not facts.national:
        raise _fail(
            UnknownOrganization,
            "lead_org_id",
            "The lead organization must be a national one (a ministry or a body under one).",
        )
    if not facts.active and org_id not in previous:
        raise _fail(UnknownOrganization, "lead_org_id", "The lead organization is archived.")
    return org_id


def _known_org(value: Any, field_name: str, refs: References) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid(field_name, f"{field_name} is required.")
    if value not in refs.organizations:
        raise _fail(UnknownOrganization, field_name, f"No organization {value}.")
    return value


def _participants(
    value: Iterable[Any], refs: References, previous: set[str]
) -> tuple[Participant, ...]:
    found: list[Participant] = []
    seen: set[str] = set()
    for item in value:
        raw_id: Any
        role: Any
        if _is_mapping(item):
            raw_id, role = item.get("org_id"), item.get("role", ParticipantRole.participant)
        elif isinstance(item, Participant):
            raw_id, role = item.org_id, item.role
        else:
            raise _invalid("participants", "each participant needs org_id and role.")
        org_id = _known_org(raw_id, "participants", refs)
        if org_id in seen:
            raise _fail(
                DuplicateParticipant, "participants", f"Organization {org_id} is listed twice."
            )
        if not refs.organizations[org_id].active and org_id not in previous:
            raise _fail(
                UnknownOrganization,
                "participants",
                f"Organization {org_id} is archived and cannot be added.",
            )
        seen.add(org_id)
        found.append(Participant(org_id, _enum(ParticipantRole, role, "participants.role")))
    if len(found) > PARTICIPANTS_MAX:
        raise _invalid("participants", f"At most {PARTICIPANTS_MAX} participants.")
    return tuple(found)


def _links(
    value: Iterable[Any],
    field_name: str,
    known: frozenset[str],
    error: type[InvalidEngagement],
    noun: str,
    *,
    kept: Sequence[str],
) -> tuple[str, ...]:
    ids = list(dict.fromkeys(str(v) for v in value))
    if len(ids) > LINKS_MAX:
        raise _invalid(field_name, f"At most {LINKS_MAX} links.")
    for each in ids:
        if each not in known and each not in kept:
            raise _fail(error, field_name, f"No {noun} {each}.")
    return tuple(ids)


def _title(value: Any, current: Title) -> Title:
    if value is None:
        return Title()
    if isinstance(value, Title):
        return value
    if not _is_mapping(value):
        raise _invalid("title", "title must be an object with ar and/or en.")
    ar = _text(value["ar"], "title.ar", TITLE_MAX) if "ar" in value else current.ar
    en = _text(value["en"], "title.en", TITLE_MAX) if "en" in value else current.en
    return Title(ar=ar, en=en)


def _location(value: Any) -> Location:
    if value is None:
        return Location()
    if isinstance(value, Location):
        return value
    if not _is_mapping(value):
        raise _invalid("location", "location must be an object.")
    country = value.get("country")
    if country is not None:
        if not isinstance(country, str) or not is_country(country.strip().upper()):
            raise _invalid("location.country", f"{country!r} is not an ISO 3166-1 country code.")
        country = country.strip().upper()
    virtual = value.get("virtual", False)
    if not isinstance(virtual, bool):
        raise _invalid("location.virtual", "virtual is true or false.")
    return Location(
        city=_text(value.get("city"), "location.city", CITY_MAX), country=country, virtual=virtual
    )


def _attendees(value: Any) -> Attendees:
    if value is None:
        return Attendees()
    if isinstance(value, Attendees):
        counts = value
    elif _is_mapping(value):
        numbers = {}
        for name in ("total", "nationals", "nationals_trained"):
            number = value.get(name, 0)
            if number is None:
                number = 0
            if isinstance(number, bool) or not isinstance(number, int):
                raise _fail(InvalidAttendees, f"attendees.{name}", f"{name} is a whole number.")
            numbers[name] = number
        counts = Attendees(**numbers)
    else:
        raise _invalid("attendees", "attendees must be an object.")
    for name in ("total", "nationals", "nationals_trained"):
        number = getattr(counts, name)
        if not 0 <= number <= PEOPLE_MAX:
            raise _fail(
                InvalidAttendees, f"attendees.{name}", f"{name} is between 0 and {PEOPLE_MAX}."
            )
    if counts.nationals > counts.total:
        raise _fail(
            InvalidAttendees, "attendees.nationals", "More nationals than attendees in total."
        )
    if counts.nationals_trained > counts.nationals:
        raise _fail(
            InvalidAttendees,
            "attendees.nationals_trained",
            "More nationals trained than nationals attending.",
        )
    return counts


def _themes(value: Any) -> Themes:
    if value is None:
        return Themes()
    if isinstance(value, Themes):
        return value
    if not _is_mapping(value):
        raise _invalid("themes", "themes must be an object with sdgs, sectors and priorities.")
    sdgs = []
    for goal in value.get("sdgs") or ():
        if isinstance(goal, bool) or not isinstance(goal, int) or not 1 <= goal <= 17:
            raise _invalid("themes.sdgs", f"{goal!r} is not an SDG goal (1-17).")
        sdgs.append(goal)
    return Themes(
        sdgs=tuple(sorted(set(sdgs))),
        sectors=_codes(value.get("sectors") or (), "themes.sectors"),
        priorities=_codes(value.get("priorities") or (), "themes.priorities"),
    )


def _codes(value: Iterable[Any], field_name: str) -> tuple[str, ...]:
    codes: list[str] = []
    for code in value:
        text = _text(code, field_name, CODE_MAX)
        if text is None:
            raise _invalid(field_name, "an empty code.")
        if text not in codes:
            codes.append(text)
    if len(codes) > THEME_CODES_MAX:
        raise _invalid(field_name, f"At most {THEME_CODES_MAX} codes.")
    return tuple(codes)


def _attachments(value: Iterable[Any]) -> tuple[Attachment, ...]:
    files: list[Attachment] = []
    for item in value:
        if isinstance(item, Attachment):
            files.append(item)
            continue
        if not _is_mapping(item):
            raise _invalid("attachments", "each attachment is an object.")
        media_type = item.get("media_type")
        if not isinstance(media_type, str) or not MEDIA_TYPE.match(media_type):
            raise _invalid("attachments.media_type", "a media type such as application/pdf.")
        size = item.get("size_bytes")
        if size is not None and (
            isinstance(size, bool)
            or not isinstance(size, int)
            or not 0 <= size <= ATTACHMENT_BYTES_MAX
        ):
            raise _invalid("attachments.size_bytes", "size_bytes is a number of bytes.")
        digest = item.get("sha256")
        if digest is not None and (not isinstance(digest, str) or not SHA256.match(digest)):
            raise _invalid("attachments.sha256", "sha256 is 64 lower-case hex digits.")
        files.append(
            Attachment(
                name=_required_text(item.get("name"), "attachments.name", ATTACHMENT_NAME_MAX),
                media_type=media_type.lower(),
                size_bytes=size,
                uri=_text(item.get("uri"), "attachments.uri", URI_MAX),
                sha256=digest,
            )
        )
    if len(files) > ATTACHMENTS_MAX:
        raise _invalid("attachments", f"At most {ATTACHMENTS_MAX} attachments.")
    return tuple(files)


def _is_mapping(value: Any) -> bool:
    # Items arrive as plain dicts: spared the abstract class's slower check.
    return type(value) is dict or isinstance(value, Mapping)


def _enum(cls: type[E], value: Any, field_name: str) -> E:
    try:  # a value as clients send it (or a member): a dict look-up, not the enum's call
        return cls._value2member_map_[value]  # type: ignore[return-value]
    except (KeyError, TypeError):
        pass
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(member.value for member in cls)
        raise _invalid(field_name, f"{value!r} is not one of {choices}.") from None


def _moment(value: Any, field_name: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise _invalid(field_name, f"{field_name} is not an ISO 8601 date-time.") from None
    if not isinstance(value, datetime):
        raise _invalid(field_name, f"{field_name} is a date-time.")
    if value.tzinfo is None:
        raise _invalid(field_name, f"{field_name} needs a time zone offset.")
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise _fail(
            InvalidDates,
            field_name,
            f"{field_name} is not between {EARLIEST_YEAR} and {LATEST_YEAR}.",
        )
    return value.astimezone(UTC)


def _date(value: Any, field_name: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            raise _invalid(field_name, f"{field_name} is not an ISO 8601 date.") from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise _invalid(field_name, f"{field_name} is a date.")
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise _fail(
            InvalidDates,
            field_name,
            f"{field_name} is not between {EARLIEST_YEAR} and {LATEST_YEAR}.",
        )
    return value


def _text(value: Any, field_name: str, max_length: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(field_name, f"{field_name} must be text.")
    value = value.strip()
    if "\x00" in value:
        raise _invalid(field_name, f"{field_name} contains a NUL character.")
    if len(value) > max_length:
        raise _invalid(field_name, f"{field_name} is longer than {max_length} characters.")
    return value or None


def _required_text(value: Any, field_name: str, max_length: int) -> str:
    text = _text(value, field_name, max_length)
    if text is None:
        raise _invalid(field_name, f"{field_name} is required.")
    return text
