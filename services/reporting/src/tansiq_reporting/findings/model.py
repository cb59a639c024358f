"""The finding aggregate: a rule's verdict on a record, and the coordinators' decisions on it.

Pure Python. A finding opens when its rule's condition starts to hold and resolves itself when it
stops; while it holds a coordinator may acknowledge it, or accept it as an exception with a
justification (an accepted finding no longer counts against the ministry's score). Decisions
belong to the finding (its id is its rule and record), so they survive the condition stopping and
holding again, and a rebuild of the read models from the topics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from tansiq_common.domain import (
    DomainError,
    NotAllowed,
    NotFoundError,
    RuleConflict,
    VersionedAggregate,
)

from tansiq_reporting.findings.rules import Access, Candidate, RecordRef, Rule
from tansiq_reporting.readmodels.model import Text

TOPIC = "reporting.finding.v1"
AGGREGATE_TYPE = "finding"
JUSTIFICATION_MAX = 2000


class Status(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    accepted = "accepted"  # as an exception
    resolved = "resolved"


# Findings in these states count against the ministry's score.
COUNTING = frozenset({Status.open, Status.acknowledged})


class FindingNotFound(NotFoundError):
    slug = "finding-not-found"


class FindingStatusConflict(RuleConflict):
    slug = "finding-status-conflict"


class NotFindingsCoordinator(NotAllowed):
    slug = "not-findings-coordinator"


class JustificationRequired(DomainError):
    slug = "justification-required"


@dataclass(frozen=True)
class Decision:
    """Who decided (token subject and organization) and when."""

    by: str
    org_id: str | None
    at: datetime
    justification: str | None = None


@dataclass
class Finding(VersionedAggregate):
    TOPIC: ClassVar[str] = TOPIC
    AGGREGATE_TYPE: ClassVar[str] = AGGREGATE_TYPE

    id: str
    rule: Rule
    status: Status
    ministry_id: str
    country: str | None
    records: tuple[RecordRef, ...]
    partner_ids: tuple[str, ...]
    explanation: Text
    resolution: Text
    details: dict[str, Any]
    access: Access
    opened_at: datetime
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    acknowledgement: Decision | None = None
    acceptance: Decision | None = None
    version: int = 1
    events: list[Any] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def open(cls, candidate: Candidate, now: datetime) -> Finding:
        finding = cls(
            id=candidate.finding_id,
            rule=candidate.rule,
            status=Status.open,
            ministry_id=candidate.ministry_id,
            country=candidate.country,
            records=candidate.records,
            partner_ids=candidate.partner_ids,
            explanation=candidate.explanation,
            resolution=candidate.resolution,
            details=dict(candidate.details),
            access=candidate.access,
            opened_at=now,
            created_at=now,
            updated_at=now,
        )
        finding.record("opened", ("status",), now, bump=False)
        return finding

    @property
    def anchor(self) -> RecordRef:
        return self.records[0]

    @property
    def counts(self) -> bool:
        """Counts against the ministry's score."""
        return self.status in COUNTING

    def observe(self, candidate: Candidate, now: datetime) -> bool:
        """The rule says the condition holds (as `candidate` describes it): reopen a resolved
        finding, or bring an open one's description up to date. True if anything changed."""
        described = self._describe(candidate)
        if self.status is Status.resolved:
            self._take(described)
            self.status = self._held_status()
            self.opened_at, self.resolved_at = now, None
            self.record("opened", ("status", *sorted(described)), now)
            return True
        changed = sorted(k for k, v in described.items() if getattr(self, k) != v)
        if not changed:
            return False
        self._take(described)
        self.record("updated", changed, now)
        return True

    def resolve(self, now: datetime) -> bool:
        """The condition no longer holds."""
        if self.status is Status.resolved:
            return False
        self.status, self.resolved_at = Status.resolved, now
        self.record("resolved", ("status", "resolved_at"), now)
        return True

    def acknowledge(self, by: str, org_id: str | None, now: datetime) -> None:
        if self.status is not Status.open:
            raise FindingStatusConflict(
                f"Only an open finding can be acknowledged; this one is {self.status.value}."
            )
        self.acknowledgement = Decision(by=by, org_id=org_id, at=now)
        self.status = Status.acknowledged
        self.record("acknowledged", ("status", "acknowledgement"), now)

    def accept(self, by: str, org_id: str | None, justification: str, now: datetime) -> None:
        text = (justification or "").strip()
        if not text:
            raise JustificationRequired(
                "An exception needs a justification.",
                [{"field": "justification", "message": "required"}],
            )
        if len(text) > JUSTIFICATION_MAX:
            raise JustificationRequired(
                f"The justification is longer than {JUSTIFICATION_MAX} characters.",
                [{"field": "justification", "message": f"at most {JUSTIFICATION_MAX} characters"}],
            )
        if self.status not in COUNTING:
            raise FindingStatusConflict(
                "Only an open or acknowledged finding can be accepted as an exception; this one "
                f"is {self.status.value}."
            )
        self.acceptance = Decision(by=by, org_id=org_id, at=now, justification=text)
        self.status = Status.accepted
        self.record("accepted", ("status", "acceptance"), now)

    # -- internals --

    def _held_status(self) -> Status:
        if self.acceptance is not None:
            return Status.accepted
        if self.acknowledgement is not None:
            return Status.acknowledged
        return Status.open

    @staticmethod
    def _describe(candidate: Candidate) -> Mapping[str, Any]:
        return {
            "ministry_id": candidate.ministry_id,
            "country": candidate.country,
            "records": candidate.records,
            "partner_ids": candidate.partner_ids,
            "explanation": candidate.explanation,
            "resolution": candidate.resolution,
            "details": dict(candidate.details),
            "access": candidate.access,
        }

    def _take(self, described: Mapping[str, Any]) -> None:
        for name, value in described.items():
            setattr(self, name, value)
