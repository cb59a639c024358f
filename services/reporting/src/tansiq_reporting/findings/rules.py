"""The coordination-consistency rules C1–C7 (docs/architecture.md, Reporting): pure functions.

Each rule looks at one record (its *anchor*) and what the evaluator loaded around it, at a given
`now`, and answers with a `Candidate` (the finding that should be open, explained in English and
Arabic) or nothing. Rules that time alone can change (C2, C4, C5, C6) also say when the answer
could next change (`recheck_at`), so the scheduled pass re-evaluates exactly the records whose
clock has run, and nothing is recomputed from scratch.

A finding's id is derived from its rule and anchor (uuid5), so replaying the topics gives every
finding the id it had, and one record has at most one finding per rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from tansiq_reporting.readmodels.model import (
    INTERAGENCY,
    RESTRICTED,
    Agreement,
    Engagement,
    Org,
    Text,
)

FINDING_NAMESPACE = uuid.UUID("6f1d3c64-2a55-5b8e-9a53-7a6e0c1f4b21")


class Rule(StrEnum):
    C1 = "C1"
    C2 = "C2"
    C3 = "C3"
    C4 = "C4"
    C5 = "C5"
    C6 = "C6"
    C7 = "C7"


RULE_NAMES: Mapping[Rule, Text] = {
    Rule.C1: Text(en="clearance", ar="الإجازة"),
    Rule.C2: Text(en="routing", ar="المرور بجهة التنسيق"),
    Rule.C3: Text(en="overlap", ar="التداخل"),
    Rule.C4: Text(en="dormant agreement", ar="اتفاقية خاملة"),
    Rule.C5: Text(en="follow-up", ar="المتابعة"),
    Rule.C6: Text(en="expiry", ar="انتهاء الصلاحية"),
    Rule.C7: Text(en="alignment", ar="المواءمة"),
}

# Rules whose outcome can change with nothing but the passing of time.
TIME_TRIGGERED = frozenset({Rule.C2, Rule.C4, Rule.C5, Rule.C6})

AGREEMENT = "agreement"
ENGAGEMENT = "engagement"


@dataclass(frozen=True)
class RuleParameters:
    c2_notice_days: int = 7
    c3_window_days: int = 30
    c4_dormant_days: int = 180
    c6_expiry_days: int = 90
    timezone: str = "Asia/Qatar"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()

    def day_start(self, day: date) -> datetime:
        """The first instant of `day` in the rules' calendar."""
        return datetime.combine(day, time.min, tzinfo=self.zone)


@dataclass(frozen=True)
class RecordRef:
    type: str  # "agreement" | "engagement"
    id: str


@dataclass(frozen=True)
class Access:
    """Who may see a finding: the columns of the one visibility filter (docs/architecture.md).

    A finding names records and explains them, so it is shown only to a caller who may see
    every one of them. `combine` makes one set of columns that never shows more than that: a
    caller passes if every record is interagency, or if the caller's ministry owns every
    restricted record, or the caller's organization is a party to every one of them, or the
    caller reads everything in a country every one of them touches. (A caller who reaches
    different restricted records by different paths is refused: fail closed.)
    """

    visibility: str = RESTRICTED
    owner_ministry_id: str | None = None
    party_org_ids: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()

    @classmethod
    def combine(cls, accesses: Sequence[Access]) -> Access:
        if not accesses:
            return cls()
        restricted = [a for a in accesses if a.visibility != INTERAGENCY]
        if not restricted:
            anchor = accesses[0]
            return cls(
                INTERAGENCY, anchor.owner_ministry_id, anchor.party_org_ids, anchor.countries
            )
        ministries = {a.owner_ministry_id for a in restricted}
        parties = set(restricted[0].party_org_ids)
        countries = set(restricted[0].countries)
        for a in restricted[1:]:
            parties &= set(a.party_org_ids)
            countries &= set(a.countries)
        return cls(
            RESTRICTED,
            ministries.pop() if len(ministries) == 1 else None,
            tuple(sorted(parties)),
            tuple(sorted(countries)),
        )


@dataclass(frozen=True)
class Candidate:
    """A finding that should be open, as the rule sees it now."""

    rule: Rule
    records: tuple[RecordRef, ...]  # the anchor first
    ministry_id: str
    country: str | None
    partner_ids: tuple[str, ...]
    explanation: Text
    resolution: Text
    access: Access
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def anchor(self) -> RecordRef:
        return self.records[0]

    @property
    def finding_id(self) -> str:
        return finding_id(self.rule, self.anchor)


def finding_id(rule: Rule | str, anchor: RecordRef) -> str:
    return str(uuid.uuid5(FINDING_NAMESPACE, f"{rule}:{anchor.type}:{anchor.id}"))


@dataclass(frozen=True)
class Attribution:
    """Where a record counts: its owner's (or lead's) ministry, that ministry's country, and the
    international partners it names. None when its owner is not known to be national yet."""

    ministry_id: str
    country: str | None
    partner_ids: tuple[str, ...]


@dataclass(frozen=True)
class Evaluation:
    record: RecordRef
    attribution: Attribution | None
    candidates: tuple[Candidate, ...] = ()
    recheck_at: datetime | None = None  # when time alone could change the outcome next


@dataclass(frozen=True)
class Outcome:
    candidate: Candidate | None = None
    recheck_at: datetime | None = None


NOTHING = Outcome()


# --- where a record counts, and who may see it ---------------------------------------------------


def attribute(
    owner_id: str | None, org_ids: Sequence[str], orgs: Mapping[str, Org]
) -> Attribution | None:
    owner = orgs.get(owner_id) if owner_id else None
    if owner is None or owner.ministry_id is None:
        return None
    ministry = orgs.get(owner.ministry_id)
    country = ministry.country if ministry is not None and ministry.country else owner.country
    partners = tuple(i for i in org_ids if i != owner_id and (o := orgs.get(i)) and o.international)
    return Attribution(owner.ministry_id, country, partners)


def attribute_agreement(a: Agreement, orgs: Mapping[str, Org]) -> Attribution | None:
    return attribute(a.owner_org_id, a.org_ids, orgs)


def attribute_engagement(e: Engagement, orgs: Mapping[str, Org]) -> Attribution | None:
    return attribute(e.lead_org_id, e.org_ids, orgs)


def _access(
    visibility: str, owner_id: str | None, org_ids: Sequence[str], orgs: Mapping[str, Org]
) -> Access:
    owner = orgs.get(owner_id) if owner_id else None
    countries = sorted({o.country for i in org_ids if (o := orgs.get(i)) and o.country})
    return Access(
        visibility=visibility,
        owner_ministry_id=owner.ministry_id if owner else None,
        party_org_ids=tuple(sorted(set(org_ids))),
        countries=tuple(countries),
    )


def agreement_access(a: Agreement, orgs: Mapping[str, Org]) -> Access:
    return _access(a.visibility, a.owner_org_id, a.org_ids, orgs)


def engagement_access(e: Engagement, orgs: Mapping[str, Org]) -> Access:
    return _access(e.visibility, e.lead_org_id, e.org_ids, orgs)


VIA_COORDINATING_BODY = "via_coordinating_body"


def coordinating_body_took_part(e: Engagement, orgs: Mapping[str, Org], where: Attribution) -> bool:
    """A coordinating body of the engagement's country is its lead or one of its participants."""
    return any(
        (o := orgs.get(i)) is not None and o.coordinating and o.country == where.country
        for i in e.org_ids
    )


def went_through_coordinating_body(
    e: Engagement, orgs: Mapping[str, Org], where: Attribution
) -> bool:
    """For the coordinated-engagement share: routed through the coordinating body, notified to
    it (at any time) or attended by it."""
    return (
        e.channel == VIA_COORDINATING_BODY
        or e.coordinating_body_notified_at is not None
        or coordinating_body_took_part(e, orgs, where)
    )


# --- wording -----------------------------------------------------------------------------------

_AR_STATUS = {
    "signed": "موقّعة",
    "in_force": "سارية",
    "expired": "منتهية",
    "terminated": "مُنهاة",
}
_AR_KIND = {
    "meeting": "الاجتماع",
    "visit": "الزيارة",
    "conference": "المؤتمر",
    "strategic_dialogue": "الحوار الاستراتيجي",
    "training": "التدريب",
    "workshop": "ورشة العمل",
    "correspondence": "المراسلة",
    "technical_assistance": "المساعدة الفنية",
    "placement": "الإعارة",
    "signing": "التوقيع",
    "event": "الفعالية",
}


def _names(ids: Sequence[str], orgs: Mapping[str, Org], lang: str) -> str:
    labels = [orgs[i].label(lang) if i in orgs else i for i in ids]
    return ("، " if lang == "ar" else ", ").join(labels)


def _quoted(title: Text, lang: str, fallback: str) -> str:
    text = title.in_(lang) or fallback
    return f"«{text}»" if lang == "ar" else f"“{text}”"


def _kind(kind: str | None, lang: str) -> str:
    if lang == "ar":
        return _AR_KIND.get(kind or "", "النشاط")
    return (kind or "engagement").replace("_", " ")


def _day(moment: datetime | date | None) -> str:
    if moment is None:
        return "?"
    return (moment.date() if isinstance(moment, datetime) else moment).isoformat()


def _themes_words(sdgs: Sequence[int], sectors: Sequence[str], lang: str) -> str:
    if lang == "ar":
        parts = [f"الهدف {g}" for g in sdgs] + list(sectors)
        return "، ".join(parts)
    return ", ".join([f"SDG {g}" for g in sdgs] + list(sectors))


# --- the rules ---------------------------------------------------------------------------------


def c1_clearance(a: Agreement, orgs: Mapping[str, Org]) -> Outcome:
    """C1: an agreement with an international party reached signed or in force (or later)
    without being cleared by a coordinating body."""
    where = attribute_agreement(a, orgs)
    if where is None or not where.partner_ids or not a.reached_signature or a.cleared:
        return NOTHING
    status = a.status or "signed"
    partners = where.partner_ids
    return Outcome(
        Candidate(
            rule=Rule.C1,
            records=(RecordRef(AGREEMENT, a.id),),
            ministry_id=where.ministry_id,
            country=where.country,
            partner_ids=partners,
            explanation=Text(
                en=(
                    f"The agreement {_quoted(a.title, 'en', a.id)} with "
                    f"{_names(partners, orgs, 'en')} reached “{status}” without clearance by a "
                    "coordinating body."
                ),
                ar=(
                    f"بلغت الاتفاقية {_quoted(a.title, 'ar', a.id)} مع "
                    f"{_names(partners, orgs, 'ar')} "
                    f"حالة «{_AR_STATUS.get(status, status)}» دون إجازة من جهة التنسيق."
                ),
            ),
            resolution=Text(
                en=(
                    "Have the coordinating body clear the agreement, or have a coordinator accept "
                    "it as an exception with a justification."
                ),
                ar="إجازة الاتفاقية من جهة التنسيق، أو قبولها استثناءً من المنسّق مع بيان المسوّغ.",
            ),
            access=agreement_access(a, orgs),
            details={"status": status, "signed_on": _iso(a.signed_on)},
        )
    )


def c2_routing(e: Engagement, orgs: Mapping[str, Org], p: RuleParameters, now: datetime) -> Outcome:
    """C2: a held engagement between a national organization and an international one where the
    coordinating body neither took part nor was notified within `c2_notice_days` of it."""
    where = attribute_engagement(e, orgs)
    if where is None or not where.partner_ids or not e.held or e.when is None:
        return NOTHING
    if e.channel == VIA_COORDINATING_BODY or coordinating_body_took_part(e, orgs, where):
        return NOTHING
    deadline = e.when + timedelta(days=p.c2_notice_days)
    notified = e.coordinating_body_notified_at
    if notified is not None and notified <= deadline:
        return NOTHING
    if now < deadline:
        return Outcome(None, deadline)  # there is still time to notify it
    partners = where.partner_ids
    days = p.c2_notice_days
    return Outcome(
        Candidate(
            rule=Rule.C2,
            records=(RecordRef(ENGAGEMENT, e.id),),
            ministry_id=where.ministry_id,
            country=where.country,
            partner_ids=partners,
            explanation=Text(
                en=(
                    f"The {_kind(e.kind, 'en')} {_quoted(e.title, 'en', e.id)} with "
                    f"{_names(partners, orgs, 'en')}, held on {_day(e.when)}, did not go through "
                    f"the coordinating body, which was not notified within {days} days."
                ),
                ar=(
                    f"عُقد {_kind(e.kind, 'ar')} {_quoted(e.title, 'ar', e.id)} مع "
                    f"{_names(partners, orgs, 'ar')} بتاريخ {_day(e.when)} دون المرور بجهة "
                    f"التنسيق ودون إخطارها خلال {days} أيام."
                ),
            ),
            resolution=Text(
                en=(
                    "Record the coordinating body's participation or its notification within "
                    f"{days} days, or have a coordinator accept it as an exception."
                ),
                ar=(
                    f"تسجيل مشاركة جهة التنسيق أو إخطارها خلال {days} أيام، أو قبول الحالة "
                    "استثناءً من المنسّق."
                ),
            ),
            access=engagement_access(e, orgs),
            details={
                "held_on": _day(e.when),
                "notify_by": deadline.isoformat(),
                "notified_at": notified.isoformat() if notified else None,
                "channel": e.channel,
            },
        )
    )


@dataclass(frozen=True)
class Overlap:
    other: Engagement
    ministry_id: str
    partner_ids: tuple[str, ...]
    sdgs: tuple[int, ...]
    sectors: tuple[str, ...]


def overlaps(
    e: Engagement, neighbours: Sequence[Engagement], orgs: Mapping[str, Org], p: RuleParameters
) -> list[Overlap]:
    """The engagements of other ministries that engaged one of `e`'s international partners on
    one of its themes (SDG goal or sector) within `c3_window_days`, not linked to `e`.

    Symmetric: `x` overlaps `e` exactly when `e` overlaps `x`."""
    where = attribute_engagement(e, orgs)
    if where is None or e.cancelled or e.start is None or not where.partner_ids:
        return []
    window = timedelta(days=p.c3_window_days)
    found = []
    for n in neighbours:
        if n.id == e.id or n.cancelled or n.start is None or abs(n.start - e.start) > window:
            continue
        theirs = attribute_engagement(n, orgs)
        if theirs is None or theirs.ministry_id == where.ministry_id or e.linked_to(n):
            continue
        shared_partners = tuple(sorted(set(where.partner_ids) & set(theirs.partner_ids)))
        sdgs, sectors = e.themes.shared_with(n.themes)
        if shared_partners and (sdgs or sectors):
            found.append(Overlap(n, theirs.ministry_id, shared_partners, sdgs, sectors))
    return sorted(found, key=lambda o: o.other.id)


def c3_overlap(
    e: Engagement, neighbours: Sequence[Engagement], orgs: Mapping[str, Org], p: RuleParameters
) -> Outcome:
    """C3: two or more ministries engaged the same international partner on the same theme
    within `c3_window_days`, and their engagements are not linked (missed coordination). Each
    engagement involved carries its own finding, for its own ministry."""
    found = overlaps(e, neighbours, orgs, p)
    where = attribute_engagement(e, orgs)
    if not found or where is None:
        return NOTHING
    partners = tuple(sorted({pid for o in found for pid in o.partner_ids}))
    sdgs = tuple(sorted({g for o in found for g in o.sdgs}))
    sectors = tuple(sorted({s for o in found for s in o.sectors}))
    days = p.c3_window_days

    def others(lang: str) -> str:
        return ("، " if lang == "ar" else ", ").join(
            f"{_quoted(o.other.title, lang, o.other.id)} ({_day(o.other.start)})" for o in found
        )

    return Outcome(
        Candidate(
            rule=Rule.C3,
            records=(
                RecordRef(ENGAGEMENT, e.id),
                *(RecordRef(ENGAGEMENT, o.other.id) for o in found),
            ),
            ministry_id=where.ministry_id,
            country=where.country,
            partner_ids=partners,
            explanation=Text(
                en=(
                    f"The {_kind(e.kind, 'en')} {_quoted(e.title, 'en', e.id)} "
                    f"({_day(e.start)}) with {_names(partners, orgs, 'en')} on "
                    f"{_themes_words(sdgs, sectors, 'en')} overlaps, within {days} days, with "
                    f"engagements of other ministries not linked to it: {others('en')}."
                ),
                ar=(
                    f"يتداخل {_kind(e.kind, 'ar')} {_quoted(e.title, 'ar', e.id)} "
                    f"({_day(e.start)}) مع {_names(partners, orgs, 'ar')} في "
                    f"{_themes_words(sdgs, sectors, 'ar')} خلال {days} يوماً مع أنشطة لوزارات "
                    f"أخرى غير مرتبطة به: {others('ar')}."
                ),
            ),
            resolution=Text(
                en=(
                    "Link the engagements through related_engagement_ids to record the "
                    "coordination, or have a coordinator accept the overlap as an exception."
                ),
                ar=(
                    "ربط الأنشطة عبر related_engagement_ids لتوثيق التنسيق، أو قبول التداخل "
                    "استثناءً من المنسّق."
                ),
            ),
            access=Access.combine(
                [engagement_access(e, orgs), *(engagement_access(o.other, orgs) for o in found)]
            ),
            details={
                "overlaps": [
                    {
                        "engagement_id": o.other.id,
                        "ministry_id": o.ministry_id,
                        "start": o.other.start.isoformat() if o.other.start else None,
                        "partner_ids": list(o.partner_ids),
                        "sdgs": list(o.sdgs),
                        "sectors": list(o.sectors),
                    }
                    for o in found
                ]
            },
        )
    )


def c4_dormant(
    a: Agreement,
    orgs: Mapping[str, Org],
    p: RuleParameters,
    now: datetime,
    *,
    last_contact: datetime | None,
    next_contact: datetime | None,
) -> Outcome:
    """C4: an agreement in force with no engagement linked to it in `c4_dormant_days`.

    `last_contact`: the latest start, not after `now`, of an engagement linked to it (not
    cancelled); `next_contact`: the earliest one after `now`. An agreement is not dormant before
    `c4_dormant_days` have passed since it took effect (or was signed)."""
    where = attribute_agreement(a, orgs)
    if where is None or a.status != "in_force":
        return NOTHING
    starts = [p.day_start(d) for d in (a.effective_from, a.signed_on) if d is not None]
    if last_contact is not None:
        starts.append(last_contact)
    if not starts:
        return NOTHING  # in force since an unknown date: nothing to count from
    since = max(starts)
    dormant_from = since + timedelta(days=p.c4_dormant_days)
    if now < dormant_from:
        return Outcome(None, _earliest(dormant_from, next_contact))
    days = p.c4_dormant_days
    return Outcome(
        Candidate(
            rule=Rule.C4,
            records=(RecordRef(AGREEMENT, a.id),),
            ministry_id=where.ministry_id,
            country=where.country,
            partner_ids=where.partner_ids,
            explanation=Text(
                en=(
                    f"The agreement {_quoted(a.title, 'en', a.id)} is in force, but no engagement "
                    f"has been linked to it since {_day(since)} ({days} days or more)."
                ),
                ar=(
                    f"الاتفاقية {_quoted(a.title, 'ar', a.id)} سارية، ولم يُربط بها أي نشاط منذ "
                    f"{_day(since)} ({days} يوماً أو أكثر)."
                ),
            ),
            resolution=Text(
                en=(
                    "Link the engagements carried out under the agreement, plan activity under "
                    "it, or terminate it."
                ),
                ar=(
                    "ربط الأنشطة المنفذة في إطار الاتفاقية، أو التخطيط لأنشطة في إطارها، "
                    "أو إنهاؤها."
                ),
            ),
            access=agreement_access(a, orgs),
            details={
                "last_contact": last_contact.isoformat() if last_contact else None,
                "dormant_since": dormant_from.isoformat(),
            },
        ),
        next_contact,  # a planned engagement starting resolves it
    )


def c5_follow_up(
    e: Engagement, orgs: Mapping[str, Org], p: RuleParameters, now: datetime
) -> Outcome:
    """C5: an engagement report past due, or an action item past due and not done."""
    where = attribute_engagement(e, orgs)
    if where is None or e.cancelled:
        return NOTHING
    today = p.today(now)
    late: list[tuple[str, date, str | None]] = []  # (what, due, title)
    upcoming: list[date] = []
    if e.report_due_on is not None and not e.report_submitted:
        if today > e.report_due_on:
            late.append(("report", e.report_due_on, None))
        else:
            upcoming.append(e.report_due_on)
    for item in e.action_items:
        if item.due_on is None or item.finished:
            continue
        if today > item.due_on:
            late.append(("action_item", item.due_on, item.title))
        else:
            upcoming.append(item.due_on)
    # The day after a due date, the item is late.
    recheck = p.day_start(min(upcoming) + timedelta(days=1)) if upcoming else None
    if not late:
        return Outcome(None, recheck)

    def items(lang: str) -> str:
        words = []
        for what, due, title in late:
            if what == "report":
                words.append(
                    f"التقرير كان مستحقاً في {due}"
                    if lang == "ar"
                    else f"the report was due on {due}"
                )
            elif lang == "ar":
                words.append(f"بند العمل «{title}» كان مستحقاً في {due}")
            else:
                words.append(f"action item “{title}” was due on {due}")
        return ("؛ " if lang == "ar" else "; ").join(words)

    return Outcome(
        Candidate(
            rule=Rule.C5,
            records=(RecordRef(ENGAGEMENT, e.id),),
            ministry_id=where.ministry_id,
            country=where.country,
            partner_ids=where.partner_ids,
            explanation=Text(
                en=f"Follow-up of {_quoted(e.title, 'en', e.id)} is overdue: {items('en')}.",
                ar=f"متابعة {_quoted(e.title, 'ar', e.id)} متأخرة: {items('ar')}.",
            ),
            resolution=Text(
                en="Submit the report, and complete or close the overdue action items.",
                ar="تقديم التقرير، وإنجاز بنود العمل المتأخرة أو إغلاقها.",
            ),
            access=engagement_access(e, orgs),
            details={
                "overdue": [
                    {"what": what, "due_on": due.isoformat(), "title": title}
                    for what, due, title in late
                ]
            },
        ),
        recheck,
    )


def c6_expiry(
    a: Agreement, orgs: Mapping[str, Org], p: RuleParameters, now: datetime, *, has_successor: bool
) -> Outcome:
    """C6: an agreement in force expiring within `c6_expiry_days` with no successor in progress
    (an agreement that supersedes it and is neither expired nor terminated)."""
    where = attribute_agreement(a, orgs)
    if where is None or a.status != "in_force" or a.expires_on is None or has_successor:
        return NOTHING
    warn_from = a.expires_on - timedelta(days=p.c6_expiry_days)
    if p.today(now) < warn_from:
        return Outcome(None, p.day_start(warn_from))
    return Outcome(
        Candidate(
            rule=Rule.C6,
            records=(RecordRef(AGREEMENT, a.id),),
            ministry_id=where.ministry_id,
            country=where.country,
            partner_ids=where.partner_ids,
            explanation=Text(
                en=(
                    f"The agreement {_quoted(a.title, 'en', a.id)} expires on {a.expires_on} and "
                    "no successor agreement is in progress."
                ),
                ar=(
                    f"تنتهي الاتفاقية {_quoted(a.title, 'ar', a.id)} في {a.expires_on} ولا توجد "
                    "اتفاقية تخلفها قيد الإعداد."
                ),
            ),
            resolution=Text(
                en=(
                    "Start its renewal (a new agreement that supersedes it), or let it expire "
                    "deliberately and have a coordinator accept the finding as an exception."
                ),
                ar=(
                    "البدء في تجديدها (اتفاقية جديدة تحل محلها)، أو تركها تنتهي عن قصد وقبول "
                    "الملاحظة استثناءً من المنسّق."
                ),
            ),
            access=agreement_access(a, orgs),
            details={"expires_on": a.expires_on.isoformat()},
        )
    )


def _c7(
    rule_record: RecordRef,
    title: Text,
    noun: Text,
    themes_aligned: bool,
    where: Attribution | None,
    access: Access,
    orgs: Mapping[str, Org],
) -> Outcome:
    if where is None or not where.partner_ids or themes_aligned:
        return NOTHING
    partners = where.partner_ids
    return Outcome(
        Candidate(
            rule=Rule.C7,
            records=(rule_record,),
            ministry_id=where.ministry_id,
            country=where.country,
            partner_ids=partners,
            explanation=Text(
                en=(
                    f"The {noun.en} {_quoted(title, 'en', rule_record.id)} with "
                    f"{_names(partners, orgs, 'en')} carries no SDG goal or national priority."
                ),
                ar=(
                    f"{noun.ar} {_quoted(title, 'ar', rule_record.id)} مع "
                    f"{_names(partners, orgs, 'ar')} لا يحمل أي هدف من أهداف التنمية المستدامة "
                    "ولا أولوية وطنية."
                ),
            ),
            resolution=Text(
                en="Tag it with the SDG goals or national priorities it serves.",
                ar="تصنيفه بأهداف التنمية المستدامة أو الأولويات الوطنية التي يخدمها.",
            ),
            access=access,
        )
    )


def c7_agreement(a: Agreement, orgs: Mapping[str, Org]) -> Outcome:
    """C7: an agreement with an international partner carrying no SDG or national-priority
    theme (a terminated one no longer counts)."""
    if a.status == "terminated":
        return NOTHING
    return _c7(
        RecordRef(AGREEMENT, a.id),
        a.title,
        Text(en="agreement", ar="الاتفاقية"),
        a.themes.aligned,
        attribute_agreement(a, orgs),
        agreement_access(a, orgs),
        orgs,
    )


def c7_engagement(e: Engagement, orgs: Mapping[str, Org]) -> Outcome:
    """C7: an engagement with an international partner carrying no SDG or national-priority
    theme (a cancelled one no longer counts)."""
    if e.cancelled:
        return NOTHING
    return _c7(
        RecordRef(ENGAGEMENT, e.id),
        e.title,
        Text(en=_kind(e.kind, "en"), ar=_kind(e.kind, "ar")),
        e.themes.aligned,
        attribute_engagement(e, orgs),
        engagement_access(e, orgs),
        orgs,
    )


# --- every rule of a record --------------------------------------------------------------------


def evaluate_agreement(
    a: Agreement,
    orgs: Mapping[str, Org],
    p: RuleParameters,
    now: datetime,
    *,
    last_contact: datetime | None = None,
    next_contact: datetime | None = None,
    has_successor: bool = False,
) -> Evaluation:
    outcomes = [
        c1_clearance(a, orgs),
        c4_dormant(a, orgs, p, now, last_contact=last_contact, next_contact=next_contact),
        c6_expiry(a, orgs, p, now, has_successor=has_successor),
        c7_agreement(a, orgs),
    ]
    return _evaluation(RecordRef(AGREEMENT, a.id), attribute_agreement(a, orgs), outcomes)


def evaluate_engagement(
    e: Engagement,
    orgs: Mapping[str, Org],
    neighbours: Sequence[Engagement],
    p: RuleParameters,
    now: datetime,
) -> Evaluation:
    outcomes = [
        c2_routing(e, orgs, p, now),
        c3_overlap(e, neighbours, orgs, p),
        c5_follow_up(e, orgs, p, now),
        c7_engagement(e, orgs),
    ]
    return _evaluation(RecordRef(ENGAGEMENT, e.id), attribute_engagement(e, orgs), outcomes)


def _evaluation(
    record: RecordRef, where: Attribution | None, outcomes: Sequence[Outcome]
) -> Evaluation:
    return Evaluation(
        record=record,
        attribution=where,
        candidates=tuple(o.candidate for o in outcomes if o.candidate is not None),
        recheck_at=_earliest(*(o.recheck_at for o in outcomes)),
    )


def _earliest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
