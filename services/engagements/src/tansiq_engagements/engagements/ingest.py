"""Ingestion from integration jobs: two doors, one set of rules.

- `POST /v1/ingest/engagements`: a batch of up to 1,000 items in one transaction, each item in
  a savepoint of its own, so one bad item never rejects the others; a result per item.
- `engagements.ingest.v1`: one item per message, applied by the backbone's consumer runner in
  its transaction; an item that breaks a rule is a permanent error (dead-lettered with the
  reason), one that needs a service that does not answer is retried.

Both go through `EngagementService.upsert`: the same validation, the same upsert on
(source, external_id), so a job retrying an item any number of times, through either door or
both at once, leaves exactly one engagement.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from tansiq_common.auth import OrgScope, Principal
from tansiq_common.domain import DomainError, Unavailable
from tansiq_common.events.consumer import ConsumerSpec
from tansiq_common.events.contracts import INGEST_TOPIC, INTEGRATION_SOURCE_PREFIX
from tansiq_common.events.envelope import Envelope, InvalidEvent
from tansiq_common.uow import UnitOfWork

from tansiq_engagements.engagements.schemas import EngagementIngestItem
from tansiq_engagements.engagements.service import EngagementService
from tansiq_engagements.engagements.tables import ingested_messages
from tansiq_engagements.lookups import Lookups

log = logging.getLogger(__name__)

# The ce_type of a message on engagements.ingest.v1: "here is an engagement as my system has it".
INGEST_EVENT_TYPE = "tansiq.integration.engagement.v1"
CONSUMER_NAME = "ingest"
# PostgreSQL's deadlock and serialization failures: the item is tried again, not rejected.
RETRIED_SQLSTATES = frozenset({"40P01", "40001"})
ITEM_ATTEMPTS = 3

_ITEM = pydantic.TypeAdapter(EngagementIngestItem)


class ItemInvalid(Exception):
    """An item that is not an engagement item at all (schema): its errors, field by field."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def parse_item(raw: Any) -> dict[str, Any]:
    """The item as JSON-ready fields, or ItemInvalid naming each bad field."""
    try:
        item = _ITEM.validate_python(raw)
    except pydantic.ValidationError as exc:
        raise ItemInvalid(
            [
                {
                    "field": ".".join(str(part) for part in error["loc"]) or "item",
                    "message": error["msg"],
                    "type": "validation-error",
                }
                for error in exc.errors()
            ]
        ) from None
    return item.model_dump(mode="json")


def _domain_errors(exc: DomainError) -> list[dict[str, Any]]:
    errors = exc.errors or [{"field": None, "message": exc.message}]
    return [{**error, "type": exc.slug} for error in errors]


@dataclass
class ItemResult:
    index: int
    result: str
    source: str | None = None
    external_id: str | None = None
    id: str | None = None
    version: int | None = None
    changed_fields: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    retryable: bool = False


class BatchIngestion:
    """One call of the batch endpoint, for an integration principal."""

    def __init__(
        self,
        uow: UnitOfWork,
        lookups: Lookups,
        *,
        principal: Principal,
        scope: OrgScope,
        bearer: str | None,
        leads: Collection[str],
    ) -> None:
        self.uow = uow
        self.lookups = lookups
        self.principal = principal
        self.scope = scope
        self.bearer = bearer
        self.leads = leads

    async def run(self, raw_items: Sequence[Any]) -> dict[str, Any]:
        results: list[ItemResult | None] = [None] * len(raw_items)
        valid: list[tuple[int, dict[str, Any]]] = []
        for index, raw in enumerate(raw_items):
            key = raw if isinstance(raw, Mapping) else {}
            try:
                valid.append((index, parse_item(raw)))
            except ItemInvalid as exc:
                results[index] = ItemResult(
                    index,
                    "rejected",
                    _text(key.get("source")),
                    _text(key.get("external_id")),
                    errors=exc.errors,
                )
        # Items are applied in key order: two batches lock shared rows in the same order.
        valid.sort(key=lambda pair: (pair[1]["source"], pair[1]["external_id"]))
        async with self.uow:
            for index, item in valid:
                results[index] = await self._apply(index, item)
        return report([r for r in results if r is not None])

    async def _apply(self, index: int, item: dict[str, Any]) -> ItemResult:
        source, external_id = item["source"], item["external_id"]
        for attempt in range(1, ITEM_ATTEMPTS + 1):
            # A service per item: what one item's rolled-back savepoint saw never misleads
            # the next (the versions the repository remembers).
            service = EngagementService(
                self.uow,
                self.lookups,
                principal=self.principal,
                scope=self.scope,
                bearer=self.bearer,
                leads=self.leads,
            )
            try:
                async with self.uow.savepoint():
                    outcome, engagement = await service.upsert(item)
                    changed = engagement.events[-1].changed_fields if engagement.events else ()
            except DomainError as exc:
                return ItemResult(
                    index,
                    "rejected",
                    source,
                    external_id,
                    errors=_domain_errors(exc),
                    retryable=isinstance(exc, Unavailable),
                )
            except sa_exc.DBAPIError as exc:
                if exc.connection_invalidated:
                    raise  # the database is gone: the whole call fails (5xx), nothing written
                if _sqlstate(exc) in RETRIED_SQLSTATES and attempt < ITEM_ATTEMPTS:
                    continue
                log.exception("ingest item %s/%s could not be stored", source, external_id)
                return ItemResult(
                    index,
                    "rejected",
                    source,
                    external_id,
                    errors=[{"field": None, "message": "could not be stored", "type": "storage"}],
                    retryable=True,
                )
            return ItemResult(
                index,
                outcome,
                source,
                external_id,
                id=engagement.id,
                version=engagement.version,
                changed_fields=list(changed) if outcome == "updated" else [],
            )
        raise AssertionError("unreachable")  # every attempt returns or continues


def report(results: Sequence[ItemResult]) -> dict[str, Any]:
    ordered = sorted(results, key=lambda r: r.index)
    counts = dict.fromkeys(("created", "updated", "unchanged", "rejected"), 0)
    for r in ordered:
        counts[r.result] += 1
    return {
        "items": len(ordered),
        **counts,
        "results": [r.__dict__ for r in ordered],
    }


def _sqlstate(exc: sa_exc.DBAPIError) -> str | None:
    seen: BaseException | None = exc.orig
    while seen is not None:
        code = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if code:
            return str(code)
        seen = seen.__cause__
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# --- the Kafka door ----------------------------------------------------------------------------


def ingest_consumer(lookups: Lookups) -> ConsumerSpec:
    """The consumer of engagements.ingest.v1 (`tansiq replay ingest` re-reads it, changing
    nothing: every applied message is remembered in `ingested_messages`)."""

    async def handle(uow: UnitOfWork, envelope: Envelope) -> None:
        await apply_ingest_message(uow, envelope, lookups)

    return ConsumerSpec(
        name=CONSUMER_NAME,
        topics=[INGEST_TOPIC],
        handlers={INGEST_EVENT_TYPE: handle},
        uses_uow=True,
    )


async def apply_ingest_message(uow: UnitOfWork, envelope: Envelope, lookups: Lookups) -> None:
    """One message: the same item rules as the batch endpoint. A broken rule raises
    InvalidEvent (to the DLQ with the reason); a service that does not answer, Unavailable
    (retried)."""
    session = uow.session
    seen = await session.scalar(
        sa.select(sa.literal(1)).where(ingested_messages.c.event_id == envelope.id)
    )
    if seen:
        return
    system = envelope.source.removeprefix(INTEGRATION_SOURCE_PREFIX)
    try:
        item = parse_item(envelope.data)
    except ItemInvalid as exc:
        raise InvalidEvent(f"item rejected: {exc}") from None
    if item["source"] != system:
        raise InvalidEvent(
            f"item rejected: source {item['source']!r} is not the sending system {system!r}"
        )
    try:
        outcome, engagement = await EngagementService(uow, lookups).upsert(item)
    except Unavailable:
        raise
    except DomainError as exc:
        reasons = "; ".join(
            f"{e.get('field')}: {e.get('message')} ({e['type']})" for e in _domain_errors(exc)
        )
        raise InvalidEvent(f"item rejected: {reasons}") from None
    await session.execute(
        sa.insert(ingested_messages).values(
            event_id=envelope.id,
            source=item["source"],
            external_id=item["external_id"],
            engagement_id=engagement.id,
            outcome=outcome,
        )
    )
