"""The agreement aggregate: a formal instrument between organizations, its clearance by the
coordinating body, its lifecycle, funding commitments and milestones.

Pure Python: no FastAPI, no SQL. What the rules need to know of organizations (exists, active,
national, country, ministry) is handed in as `OrgRef`s by the service, which found them in the
organization replica or the registry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, ClassVar

from tansiq_common.codec import state_fields
from tansiq_common.domain import DomainError, NotFoundError, RuleConflict, VersionedAggregate

from tansiq_agreements.agreements.currencies import is_currency

TOPIC = "agreements.agreement.v1"
AGGREGATE_TYPE = "agreement"


class Kind(StrEnum):
    mou = "mou"
    cooperation_agreement = "cooperation_agreement"
    partnership_agreement = "partnership_agreement"
    framework_agreement = "framework_agreement"
    funding_agreement = "funding_agreement"
    technical_assistance = "technical_assistance"
    host_country_agreement = "host_country_agreement"
    letter_of_intent = "letter_of_intent"
    programme_document = "programme_document"


class PartyRole(StrEnum):
    signatory = "signatory"
    funder = "funder"
    implementer = "implementer"
    beneficiary = "beneficiary"
    coordinator = "coordinator"


class Status(StrEnum):
    draft = "draft"
    submitted = "submitted"  # for clearance by the coordinating body
    returned = "returned"  # back to the owner with the coordinating body's comments
    cleared = "cleared"
    signed = "signed"
    in_force = "in_force"
    expired = "expired"
    terminated = "terminated"


class Visibility(StrEnum):
    interagency = "interagency"
    restricted = "restricted"


class Decision(StrEnum):
    cleared = "cleared"
    returned = "returned"


class MilestoneStatus(StrEnum):
    pending = "pending"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"


class Action(StrEnum):
    submit = "submit"
    clear = "clear"
    return_ = "return"
    sign = "sign"
    enter_into_force = "enter-into-force"
    terminate = "terminate"
    expire = "expire"
    renew = "renew"


# The lifecycle (docs/architecture.md): each status → the actions it allows → the status they
# lead to (None: renewal leaves the predecessor's status as it is and creates a successor).
_BEFORE_SIGNATURE: Mapping[Action, Status | None] = {
    Action.submit: Status.submitted,
    Action.sign: Status.signed,
    Action.terminate: Status.terminated,
}
TRANSITIONS: Mapping[Status, Mapping[Action, Status | None]] = {
    Status.draft: _BEFORE_SIGNATURE,
    Status.returned: _BEFORE_SIGNATURE,
    Status.submitted: {
        Action.clear: Status.cleared,
        Action.return_: Status.returned,
        Action.sign: Status.signed,
        Action.terminate: Status.terminated,
    },
    Status.cleared: {Action.sign: Status.signed, Action.terminate: Status.terminated},
    Status.signed: {
        Action.enter_into_force: Status.in_force,
        Action.terminate: Status.terminated,
        Action.expire: Status.expired,
        Action.renew: None,
    },
    Status.in_force: {
        Action.terminate: Status.terminated,
        Action.expire: Status.expired,
        Action.renew: None,
    },
    Status.expired: {Action.renew: None},
    Status.terminated: {},
}

# The event each action records (the CloudEvents type's verb).
EVENT_OF: Mapping[Action, str] = {
    Action.submit: "submitted",
    Action.clear: "cleared",
    Action.return_: "returned",
    Action.sign: "signed",
    Action.enter_into_force: "entered-into-force",
    Action.terminate: "terminated",
    Action.expire: "expired",
    Action.renew: "renewed",
}

# Statuses whose agreement can no longer change (renewal creates another agreement).
CLOSED = frozenset({Status.expired, Status.terminated})
# Statuses in which the substance of the instrument (who, what money, which dates) may change;
# after submission it is what the coordinating body reviews, after signature what was signed.
OPEN_FOR_DRAFTING = frozenset({Status.draft, Status.returned})
# Statuses the scheduled job expires once `expires_on` has passed.
EXPIRABLE = frozenset({Status.signed, Status.in_force})

SUBSTANTIVE_FIELDS = frozenset(
    {"kind", "owner_org_id", "parties", "funding", "effective_from", "expires_on"}
)
DESCRIPTIVE_FIELDS = frozenset({"title", "summary", "themes", "visibility"})
EDITABLE_FIELDS = SUBSTANTIVE_FIELDS | DESCRIPTIVE_FIELDS
# Fields whose changes are bookkeeping, never reported as changed by a revision.
_BOOKKEEPING = frozenset({"version", "updated_at", "created_at"})

MIN_PARTIES = 2
MAX_PARTIES = 50
MAX_FUNDING = 50
MAX_MILESTONES = 200
MAX_THEME_CODES = 20
SDG_RANGE = range(1, 18)
TITLE_MAX = 500
SUMMARY_MAX = 5000
NOTE_MAX = 2000
MILESTONE_TITLE_MAX = 300
# Amounts: positive, at most 4 decimal places (no ISO 4217 currency has more) and below 10^15.
AMOUNT_PLACES = 4
AMOUNT_LIMIT = Decimal(10) ** 15
EARLIEST_YEAR = 1900
# Sector and priority codes, e.g. `education`, `NDS2-IC-1`.
THEME_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")

NATIONAL = "national"
ACTIVE = "active"


# --- errors --------------------------------------------------------------------------------------


class InvalidAgreement(DomainError):
    """A field has a value the agreements service refuses (422, `validation-error`)."""


class UnknownOrganization(InvalidAgreement):
    slug = "unknown-organization"


class ArchivedOrganization(InvalidAgreement):
    slug = "organization-archived"


class DuplicateParty(InvalidAgreement):
    slug = "duplicate-party"


class OwnerNotNational(InvalidAgreement):
    slug = "owner-not-national"


class IllegalTransition(RuleConflict):
    slug = "illegal-transition"


class AgreementLocked(RuleConflict):
    slug = "agreement-locked"


class AgreementClosed(RuleConflict):
    slug = "agreement-closed"


class AlreadyRenewed(RuleConflict):
    slug = "already-renewed"


class NotYetExpired(RuleConflict):
    slug = "not-yet-expired"


class AgreementNotFound(NotFoundError):
    slug = "agreement-not-found"


class MilestoneNotFound(NotFoundError):
    slug = "milestone-not-found"


def _invalid(field_name: str, message: str) -> InvalidAgreement:
    return InvalidAgreement(message, [{"field": field_name, "message": message}])


# --- value objects -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrgRef:
    """What the rules need to know of an organization the registry owns."""

    id: str
    kind: str
    scope: str | None = None
    country: str | None = None
    ministry_id: str | None = None
    status: str = ACTIVE

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    @property
    def national(self) -> bool:
        return self.scope == NATIONAL


@dataclass(frozen=True)
class Text:
    """Bilingual text."""

    ar: str | None = None
    en: str | None = None


@dataclass(frozen=True)
class Party:
    org_id: str
    role: PartyRole


@dataclass(frozen=True)
class Themes:
    sdgs: tuple[int, ...] = ()
    sectors: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Funding:
    funder_org_id: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Milestone:
    id: str
    title: str
    due_on: date
    responsible_org_id: str
    status: MilestoneStatus = MilestoneStatus.pending
    completed_on: date | None = None


@dataclass(frozen=True)
class Clearance:
    """The coordinating body's latest decision on the agreement."""

    decision: Decision
    decided_by: str  # the deciding user (token `sub`)
    decided_by_org_id: str | None  # the coordinating body they decided for
    decided_at: datetime
    conditions: str | None = None
    comments: str | None = None


@dataclass(frozen=True)
class Termination:
    terminated_on: date
    reason: str


def allowed_actions(status: Status) -> list[str]:
    """The actions the lifecycle allows from `status`, in the lifecycle's order."""
    allowed = TRANSITIONS[status]
    return [action.value for action in Action if action in allowed]


# --- the aggregate -------------------------------------------------------------------------------


@dataclass
class Agreement(VersionedAggregate):
    """An agreement; its events carry `snapshot()`, the full state after each change.

    The dataclass fields are the one field list: the codec derives the event/response state and
    the table row from them. Derived fields (`owner_ministry_id`, `owner_country`, `countries`)
    come from the registry at the last change of owner or parties.
    """

    TOPIC: ClassVar[str] = TOPIC
    AGGREGATE_TYPE: ClassVar[str] = AGGREGATE_TYPE

    id: str
    kind: Kind
    title: Text
    owner_org_id: str
    parties: tuple[Party, ...]
    created_at: datetime
    updated_at: datetime
    owner_ministry_id: str | None = None
    owner_country: str | None = None
    summary: Text = Text()
    themes: Themes = Themes()
    signed_on: date | None = None
    effective_from: date | None = None
    expires_on: date | None = None
    funding: tuple[Funding, ...] = ()
    milestones: tuple[Milestone, ...] = ()
    visibility: Visibility = Visibility.interagency
    status: Status = Status.draft
    clearance: Clearance | None = None
    cleared: bool = False
    signed_uncleared: bool = False
    supersedes: str | None = None
    superseded_by: str | None = None
    termination: Termination | None = None
    # Countries of the owner and the parties: the country boundary of the access model.
    countries: frozenset[str] = frozenset()
    source_key: str | None = None
    version: int = 1
    events: list[Any] = field(default_factory=list, compare=False, repr=False)

    # -- creation and revision --

    @classmethod
    def draft(
        cls,
        *,
        id: str,
        fields: Mapping[str, Any],
        orgs: Mapping[str, OrgRef],
        now: datetime,
        source_key: str | None = None,
        supersedes: str | None = None,
    ) -> Agreement:
        """A new agreement in `draft`; `orgs`: the owner and every party, by id."""
        for required in ("kind", "title", "owner_org_id", "parties"):
            if fields.get(required) is None:
                raise _invalid(required, f"{required} is required.")
        agreement = cls(
            id=id,
            kind=Kind.mou,
            title=Text(),
            owner_org_id="",
            parties=(),
            created_at=now,
            updated_at=now,
            source_key=source_key,
            supersedes=supersedes,
        )
        agreement._apply(fields, orgs, partial=False)
        agreement.record("created", sorted(fields), now, bump=False)
        return agreement

    def revise(
        self, changes: Mapping[str, Any], *, orgs: Mapping[str, OrgRef], now: datetime
    ) -> list[str]:
        """Apply a partial change; returns the fields that really changed.

        `orgs` must hold the owner and every party when `owner_org_id` or `parties` change.
        """
        self._require_open()
        before = self.snapshot()
        trial = replace(self, events=[])
        trial._apply(changes, orgs, partial=True)
        after = trial.snapshot()
        changed = sorted(k for k in after if after[k] != before[k] and k not in _BOOKKEEPING)
        if not changed:
            return []
        locked = sorted(set(changed) & SUBSTANTIVE_FIELDS)
        if locked and self.status not in OPEN_FOR_DRAFTING:
            raise AgreementLocked(
                f"{', '.join(locked)} cannot change once the agreement is {self.status.value}: "
                "only a draft (or one returned by the coordinating body) can; "
                "title, summary, themes and visibility can change until it is closed.",
                [{"field": name, "message": "locked"} for name in locked],
                extra={"current_status": self.status.value},
            )
        self._take(trial)
        self.record("updated", changed, now)
        return changed

    # -- the lifecycle --

    def submit(self, now: datetime) -> None:
        self._transition(Action.submit, now)

    def clear(
        self,
        *,
        decided_by: str,
        decided_by_org_id: str | None,
        now: datetime,
        conditions: str | None = None,
        comments: str | None = None,
    ) -> None:
        self._require(Action.clear)
        self.clearance = Clearance(
            decision=Decision.cleared,
            decided_by=decided_by,
            decided_by_org_id=decided_by_org_id,
            decided_at=now,
            conditions=_text(conditions, "conditions", NOTE_MAX),
            comments=_text(comments, "comments", NOTE_MAX),
        )
        self.cleared = True
        self._transition(Action.clear, now, "clearance", "cleared")

    def return_(
        self, *, decided_by: str, decided_by_org_id: str | None, comments: str, now: datetime
    ) -> None:
        self._require(Action.return_)
        text = _text(comments, "comments", NOTE_MAX)
        if text is None:
            raise _invalid("comments", "Say why the agreement is returned (comments).")
        self.clearance = Clearance(
            decision=Decision.returned,
            decided_by=decided_by,
            decided_by_org_id=decided_by_org_id,
            decided_at=now,
            comments=text,
        )
        self._transition(Action.return_, now, "clearance")

    def sign(self, *, signed_on: date, now: datetime) -> None:
        """Signing without clearance is possible (it happens); it is recorded as uncleared,
        which is what the coordinating body's reporting looks for."""
        self._require(Action.sign)
        _check_past_date(signed_on, "signed_on", now)
        if self.expires_on is not None and signed_on > self.expires_on:
            raise _invalid("signed_on", "signed_on is after expires_on.")
        self.signed_on = signed_on
        self.signed_uncleared = self.status is not Status.cleared
        self._transition(Action.sign, now, "signed_on", "signed_uncleared")

    def enter_into_force(self, *, now: datetime, effective_from: date | None = None) -> None:
        self._require(Action.enter_into_force)
        effective = effective_from or self.effective_from or self.signed_on
        if effective is None:  # signed agreements have signed_on; kept for the type checker
            raise _invalid("effective_from", "effective_from is required.")
        if effective.year < EARLIEST_YEAR:
            raise _invalid("effective_from", f"effective_from is before {EARLIEST_YEAR}.")
        if self.expires_on is not None and effective > self.expires_on:
            raise _invalid("effective_from", "effective_from is after expires_on.")
        changed = ["effective_from"] if effective != self.effective_from else []
        self.effective_from = effective
        self._transition(Action.enter_into_force, now, *changed)

    def terminate(self, *, reason: str, now: datetime, terminated_on: date | None = None) -> None:
        self._require(Action.terminate)
        text = _text(reason, "reason", NOTE_MAX)
        if text is None:
            raise _invalid("reason", "Say why the agreement is terminated (reason).")
        on = terminated_on or now.date()
        _check_past_date(on, "terminated_on", now)
        self.termination = Termination(terminated_on=on, reason=text)
        self._transition(Action.terminate, now, "termination")

    def expire(self, now: datetime) -> None:
        """An agreement expires the day after `expires_on` (the last day it is valid)."""
        self._require(Action.expire)
        if self.expires_on is None or self.expires_on >= now.date():
            until = self.expires_on.isoformat() if self.expires_on else "no expiry date"
            raise NotYetExpired(
                f"The agreement is valid until {until}; it cannot expire before.",
                extra={"current_status": self.status.value},
            )
        self._transition(Action.expire, now)

    def renew(
        self,
        *,
        successor_id: str,
        changes: Mapping[str, Any],
        orgs: Mapping[str, OrgRef],
        now: datetime,
        source_key: str | None = None,
    ) -> Agreement:
        """A new draft that supersedes this agreement: the same instrument (kind, title,
        owner, parties, themes, funding, visibility) with `changes` applied (new dates,
        typically). This agreement records `renewed` and keeps its status until it expires."""
        self._require(Action.renew)
        if self.superseded_by is not None:
            raise AlreadyRenewed(
                f"The agreement was renewed already, by {self.superseded_by}.",
                extra={"superseded_by": self.superseded_by},
            )
        fields: dict[str, Any] = {
            "kind": self.kind,
            "title": self.title,
            "summary": self.summary,
            "owner_org_id": self.owner_org_id,
            "parties": self.parties,
            "themes": self.themes,
            "funding": self.funding,
            "visibility": self.visibility,
        }
        unknown = set(changes) - EDITABLE_FIELDS
        if unknown:
            name = sorted(unknown)[0]
            raise _invalid(name, f"{name} cannot be set on a renewal.")
        fields.update(changes)
        successor = Agreement.draft(
            id=successor_id,
            fields=fields,
            orgs=orgs,
            now=now,
            supersedes=self.id,
            source_key=source_key,
        )
        self.superseded_by = successor.id
        self.record(EVENT_OF[Action.renew], ["superseded_by"], now)
        return successor

    # -- milestones --

    def add_milestone(
        self, *, milestone_id: str, fields: Mapping[str, Any], now: datetime
    ) -> Milestone:
        self._require_open()
        if len(self.milestones) >= MAX_MILESTONES:
            raise _invalid("milestones", f"An agreement has at most {MAX_MILESTONES} milestones.")
        for required in ("title", "due_on", "responsible_org_id"):
            if fields.get(required) is None:
                raise _invalid(required, f"{required} is required.")
        milestone = self._milestone(
            Milestone(
                id=milestone_id,
                title="",
                due_on=date.min,
                responsible_org_id="",
            ),
            fields,
            now,
        )
        self.milestones = (*self.milestones, milestone)
        self.record("milestone-added", ["milestones"], now)
        return milestone

    def revise_milestone(
        self, milestone_id: str, changes: Mapping[str, Any], *, now: datetime
    ) -> tuple[Milestone, list[str]]:
        self._require_open()
        current = self.milestone(milestone_id)
        revised = self._milestone(current, changes, now)
        changed = [
            name
            for name, _ in state_fields(Milestone)
            if getattr(revised, name) != getattr(current, name)
        ]
        if changed:
            self.milestones = tuple(revised if m.id == current.id else m for m in self.milestones)
            self.record("milestone-updated", ["milestones"], now)
        return revised, changed

    def milestone(self, milestone_id: str) -> Milestone:
        for milestone in self.milestones:
            if milestone.id == milestone_id:
                return milestone
        raise MilestoneNotFound(f"No milestone {milestone_id} in agreement {self.id}.")

    # -- internals --

    def _require(self, action: Action) -> None:
        if action not in TRANSITIONS[self.status]:
            allowed = allowed_actions(self.status)
            raise IllegalTransition(
                f"An agreement that is {self.status.value} cannot {action.value}; allowed: "
                f"{', '.join(allowed) or 'nothing, it is closed'}.",
                extra={
                    "current_status": self.status.value,
                    "action": action.value,
                    "allowed_actions": allowed,
                },
            )

    def _transition(self, action: Action, now: datetime, *changed: str) -> None:
        self._require(action)
        target = TRANSITIONS[self.status][action]
        if target is not None:
            self.status = target
        self.record(EVENT_OF[action], ["status", *changed], now)

    def _require_open(self) -> None:
        if self.status in CLOSED:
            raise AgreementClosed(
                f"The agreement is {self.status.value}; it can no longer change.",
                extra={"current_status": self.status.value},
            )

    def _take(self, other: Agreement) -> None:
        for name, _ in state_fields(Agreement):
            setattr(self, name, getattr(other, name))

    def _apply(
        self, fields: Mapping[str, Any], orgs: Mapping[str, OrgRef], *, partial: bool
    ) -> None:
        unknown = set(fields) - EDITABLE_FIELDS
        if unknown:
            name = sorted(unknown)[0]
            raise _invalid(name, f"{name} cannot be set by a client.")
        if "kind" in fields:
            self.kind = _enum(Kind, fields["kind"], "kind")
        if "title" in fields:
            self.title = _bilingual(
                fields["title"], "title", TITLE_MAX, self.title if partial else Text()
            )
            if not (self.title.ar or self.title.en):
                raise _invalid("title", "An Arabic or an English title is required.")
        if "summary" in fields:
            self.summary = _bilingual(
                fields["summary"], "summary", SUMMARY_MAX, self.summary if partial else Text()
            )
        if "visibility" in fields:
            if fields["visibility"] is None:
                raise _invalid("visibility", "visibility is required.")
            self.visibility = _enum(Visibility, fields["visibility"], "visibility")
        if "themes" in fields:
            self.themes = _themes(fields["themes"])
        if "effective_from" in fields:
            self.effective_from = _date(fields["effective_from"], "effective_from")
        if "expires_on" in fields:
            self.expires_on = _date(fields["expires_on"], "expires_on")
        if "owner_org_id" in fields or "parties" in fields:
            self._apply_organizations(fields, orgs)
        if "funding" in fields:
            self.funding = _funding(fields["funding"])
        self._check_dates()
        self._check_references()

    def _apply_organizations(self, fields: Mapping[str, Any], orgs: Mapping[str, OrgRef]) -> None:
        if "owner_org_id" in fields:
            owner_id = fields["owner_org_id"]
            if owner_id is None:
                raise _invalid("owner_org_id", "owner_org_id is required.")
            owner = _org(orgs, str(owner_id), "owner_org_id")
            if not owner.active:
                raise ArchivedOrganization(
                    f"The organization {owner.id} is archived; it cannot own an agreement.",
                    [{"field": "owner_org_id", "message": "archived"}],
                )
            if not owner.national:
                raise OwnerNotNational(
                    f"The owner must be a national organization; {owner.id} is not.",
                    [{"field": "owner_org_id", "message": "not a national organization"}],
                )
            self.owner_org_id = owner.id
        if "parties" in fields:
            before = {party.org_id for party in self.parties}
            parties = _parties(fields["parties"])
            for index, party in enumerate(parties):
                org = _org(orgs, party.org_id, f"parties.{index}.org_id")
                if not org.active and party.org_id not in before:
                    raise ArchivedOrganization(
                        f"The organization {org.id} is archived; it cannot be added as a party.",
                        [{"field": f"parties.{index}.org_id", "message": "archived"}],
                    )
            self.parties = parties
        owner = _org(orgs, self.owner_org_id, "owner_org_id")
        self.owner_ministry_id = owner.ministry_id or (owner.id if owner.national else None)
        self.owner_country = owner.country
        members = [owner, *(_org(orgs, p.org_id, "parties") for p in self.parties)]
        self.countries = frozenset(org.country for org in members if org.country)

    def _check_dates(self) -> None:
        if (
            self.effective_from is not None
            and self.expires_on is not None
            and self.expires_on < self.effective_from
        ):
            raise _invalid("expires_on", "expires_on is before effective_from.")
        if (
            self.signed_on is not None
            and self.expires_on is not None
            and self.expires_on < self.signed_on
        ):
            raise _invalid("expires_on", "expires_on is before signed_on.")

    def _check_references(self) -> None:
        members = {self.owner_org_id, *(party.org_id for party in self.parties)}
        for index, commitment in enumerate(self.funding):
            if commitment.funder_org_id not in members:
                raise _invalid(
                    f"funding.{index}.funder_org_id",
                    f"The funder {commitment.funder_org_id} is neither the owner nor a party.",
                )
        for milestone in self.milestones:
            if milestone.responsible_org_id not in members:
                raise _invalid(
                    "parties",
                    f"Milestone {milestone.id} is the responsibility of "
                    f"{milestone.responsible_org_id}, which would no longer be a party.",
                )

    def _milestone(self, current: Milestone, fields: Mapping[str, Any], now: datetime) -> Milestone:
        unknown = set(fields) - {"title", "due_on", "responsible_org_id", "status"}
        if unknown:
            name = sorted(unknown)[0]
            raise _invalid(name, f"{name} cannot be set on a milestone.")
        milestone = current
        if "title" in fields:
            title = _text(fields["title"], "title", MILESTONE_TITLE_MAX)
            if title is None:
                raise _invalid("title", "A milestone needs a title.")
            milestone = replace(milestone, title=title)
        if "due_on" in fields:
            due_on = _date(fields["due_on"], "due_on")
            if due_on is None:
                raise _invalid("due_on", "A milestone needs a due date.")
            milestone = replace(milestone, due_on=due_on)
        if "responsible_org_id" in fields:
            responsible = fields["responsible_org_id"]
            members = {self.owner_org_id, *(party.org_id for party in self.parties)}
            if responsible is None or str(responsible) not in members:
                raise _invalid(
                    "responsible_org_id",
                    "The responsible organization must be the owner or a party.",
                )
            milestone = replace(milestone, responsible_org_id=str(responsible))
        if "status" in fields:
            status = _enum(MilestoneStatus, fields["status"], "status")
            if status is not current.status:
                completed_on = now.date() if status is MilestoneStatus.done else None
                milestone = replace(milestone, status=status, completed_on=completed_on)
        return milestone


# --- field rules ---------------------------------------------------------------------------------


def _org(orgs: Mapping[str, OrgRef], org_id: str, field_name: str) -> OrgRef:
    found = orgs.get(org_id)
    if found is None:
        raise UnknownOrganization(
            f"No organization {org_id} in the registry.",
            [{"field": field_name, "message": f"no organization {org_id}"}],
        )
    return found


def _enum(cls: type[Any], value: Any, field_name: str) -> Any:
    if value is None:
        raise _invalid(field_name, f"{field_name} is required.")
    try:
        return cls(value)
    except ValueError:
        raise _invalid(field_name, f"{value!r} is not a {field_name}.") from None


def _text(value: Any, field_name: str, max_length: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(field_name, f"{field_name} must be text.")
    if "\x00" in value:
        raise _invalid(field_name, f"{field_name} contains a NUL character.")
    value = value.strip()
    if len(value) > max_length:
        raise _invalid(field_name, f"{field_name} is longer than {max_length} characters.")
    return value or None


def _bilingual(value: Any, field_name: str, max_length: int, current: Text) -> Text:
    if value is None:
        return Text()
    if isinstance(value, Text):
        value = {"ar": value.ar, "en": value.en}
    if not isinstance(value, Mapping):
        raise _invalid(field_name, f"{field_name} must be an object with ar and/or en.")
    ar = _text(value["ar"], f"{field_name}.ar", max_length) if "ar" in value else current.ar
    en = _text(value["en"], f"{field_name}.en", max_length) if "en" in value else current.en
    return Text(ar=ar, en=en)


def _date(value: Any, field_name: str) -> date | None:
    if value is None:
        return None
    day: date
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            raise _invalid(field_name, f"{field_name} must be a date (YYYY-MM-DD).") from None
    if day.year < EARLIEST_YEAR:
        raise _invalid(field_name, f"{field_name} is before {EARLIEST_YEAR}.")
    return day


def _check_past_date(value: date, field_name: str, now: datetime) -> None:
    if value.year < EARLIEST_YEAR:
        raise _invalid(field_name, f"{field_name} is before {EARLIEST_YEAR}.")
    if value > now.date():
        raise _invalid(field_name, f"{field_name} is in the future.")


def _parties(value: Any) -> tuple[Party, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise _invalid("parties", "parties must be a list of {org_id, role}.")
    parties: list[Party] = []
    for index, item in enumerate(value):
        if isinstance(item, Party):
            party = item
        else:
            if not isinstance(item, Mapping) or item.get("org_id") is None:
                raise _invalid(f"parties.{index}", "each party needs org_id and role.")
            role = _enum(PartyRole, item.get("role"), f"parties.{index}.role")
            party = Party(org_id=str(item["org_id"]), role=role)
        if any(p.org_id == party.org_id for p in parties):
            raise DuplicateParty(
                f"The organization {party.org_id} is named twice as a party.",
                [{"field": f"parties.{index}.org_id", "message": "duplicate party"}],
            )
        parties.append(party)
    if len(parties) < MIN_PARTIES:
        raise _invalid("parties", f"An agreement has at least {MIN_PARTIES} parties.")
    if len(parties) > MAX_PARTIES:
        raise _invalid("parties", f"An agreement has at most {MAX_PARTIES} parties.")
    return tuple(parties)


def _themes(value: Any) -> Themes:
    if value is None:
        return Themes()
    if isinstance(value, Themes):
        value = {"sdgs": value.sdgs, "sectors": value.sectors, "priorities": value.priorities}
    if not isinstance(value, Mapping):
        raise _invalid("themes", "themes must be an object with sdgs, sectors and priorities.")
    unknown = set(value) - {"sdgs", "sectors", "priorities"}
    if unknown:
        raise _invalid("themes", f"unknown theme list {sorted(unknown)[0]!r}.")
    sdgs: set[int] = set()
    for goal in value.get("sdgs") or ():
        if isinstance(goal, bool) or not isinstance(goal, int) or goal not in SDG_RANGE:
            raise _invalid("themes.sdgs", f"{goal!r} is not an SDG goal (1 to 17).")
        sdgs.add(goal)
    return Themes(
        sdgs=tuple(sorted(sdgs)),
        sectors=_codes(value.get("sectors"), "themes.sectors"),
        priorities=_codes(value.get("priorities"), "themes.priorities"),
    )


def _codes(value: Any, field_name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise _invalid(field_name, f"{field_name} must be a list of codes.")
    codes: list[str] = []
    for code in value:
        if not isinstance(code, str) or not THEME_CODE.match(code):
            raise _invalid(
                field_name, f"{code!r} is not a code (letters, digits, . _ / -; at most 40)."
            )
        if code not in codes:
            codes.append(code)
    if len(codes) > MAX_THEME_CODES:
        raise _invalid(field_name, f"{field_name} has at most {MAX_THEME_CODES} codes.")
    return tuple(sorted(codes))


def _funding(value: Any) -> tuple[Funding, ...]:
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise _invalid("funding", "funding must be a list of commitments.")
    commitments: list[Funding] = []
    for index, item in enumerate(value):
        if isinstance(item, Funding):
            item = {
                "funder_org_id": item.funder_org_id,
                "amount": item.amount,
                "currency": item.currency,
            }
        if not isinstance(item, Mapping) or item.get("funder_org_id") is None:
            raise _invalid(
                f"funding.{index}", "each commitment needs funder_org_id, amount and currency."
            )
        commitments.append(
            Funding(
                funder_org_id=str(item["funder_org_id"]),
                amount=amount(item.get("amount"), f"funding.{index}.amount"),
                currency=currency(item.get("currency"), f"funding.{index}.currency"),
            )
        )
    if len(commitments) > MAX_FUNDING:
        raise _invalid("funding", f"An agreement has at most {MAX_FUNDING} funding commitments.")
    return tuple(commitments)


def amount(value: Any, field_name: str = "amount") -> Decimal:
    """A positive amount of money, never a float: at most 4 decimal places, below 10^15."""
    if isinstance(value, bool | float) or value is None:
        raise _invalid(field_name, f"{field_name} must be a decimal number written as text.")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise _invalid(field_name, f"{value!r} is not a number.") from None
    if not number.is_finite() or number <= 0:
        raise _invalid(field_name, f"{field_name} must be greater than zero.")
    if number >= AMOUNT_LIMIT:
        raise _invalid(field_name, f"{field_name} is too large.")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -AMOUNT_PLACES:
        raise _invalid(field_name, f"{field_name} has more than {AMOUNT_PLACES} decimal places.")
    # Written out in full (1E+3 → 1000), with the places the client gave.
    return Decimal(format(number, "f"))


def currency(value: Any, field_name: str = "currency") -> str:
    if not isinstance(value, str) or not is_currency(value.strip().upper()):
        raise _invalid(field_name, f"{value!r} is not an ISO 4217 currency code.")
    return value.strip().upper()
