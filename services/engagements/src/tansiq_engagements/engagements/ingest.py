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
from dataclasses import dataclass, field, replace
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

from tansiq_engagements.engagements.model import Engagement
from tansiq_engagements.engagements.schemas import EngagementIngestItem
from tansiq_engagements.engagements.service import EngagementService, Outcome, ingest_fields
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
        valid: list[tuple[int, dict[str, Any], tuple[str, str]]] = []
        for index, raw in enumerate(raw_items):
            given = raw if isinstance(raw, Mapping) else {}
            try:
                fields, key = ingest_fields(parse_item(raw))
            except ItemInvalid as exc:
                errors = exc.errors
            except DomainError as exc:
                errors = _domain_errors(exc)
            else:
                valid.append((index, fields, key))
                continue
            source, external_id = _text(given.get("source")), _text(given.get("external_id"))
            results[index] = ItemResult(index, "rejected", source, external_id, errors=errors)
        # Items are applied in key order: two batches lock shared rows in the same order.
        valid.sort(key=lambda each: each[2])
        async with self.uow:
            for index, result in (await self._apply_all(valid)).items():
                results[index] = result
        return report([r for r in results if r is not None])

    def _service(self) -> EngagementService:
        return EngagementService(
            self.uow,
            self.lookups,
            principal=self.principal,
            scope=self.scope,
            bearer=self.bearer,
            leads=self.leads,
        )

    async def _apply_all(
        self, valid: Sequence[tuple[int, dict[str, Any], tuple[str, str]]]
    ) -> dict[int, ItemResult]:
        """The whole batch at once: the engagements it names locked and looked up in a few
        statements, every item's rules checked in memory, then the changes written in bulk in
        one savepoint. Should that write fail, the items are applied one by one, each in a
        savepoint of its own; an item another writer inserted meanwhile is applied on its own
        too (as an update of what that writer inserted)."""
        service = self._service()
        keys = list(dict.fromkeys(key for _, _, key in valid))
        locked = await service.repo.lock_keys(keys)
        loaded = {key: e.version for key, e in locked.items()}
        try:
            refs = await service.references_for([f for _, f, _ in valid], list(locked.values()))
        except Unavailable:
            # Some item names a record its owner cannot confirm now: those items, and only
            # those, are rejected (retryable) when each is looked up on its own.
            return {index: await self._apply(index, fields, key) for index, fields, key in valid}
        planned: dict[tuple[str, str], Engagement] = dict(locked)
        audits: list[tuple[Outcome, Engagement, Any]] = []
        results: dict[int, ItemResult] = {}
        for index, fields, key in valid:
            try:
                outcome, engagement = service.plan_upsert(fields, key, planned.get(key), refs)
            except DomainError as exc:
                results[index] = _rejected(index, key, exc)
                continue
            planned[key] = engagement
            audits.append((outcome, engagement, fields))
            results[index] = _done(index, key, outcome, engagement)
            if outcome == "created":
                # Later items may relate to it, as they could one written before them.
                refs = replace(refs, engagement_ids=refs.engagement_ids | {engagement.id})
        created = [e for key, e in planned.items() if key not in locked]
        changed = [(e, loaded[key]) for key, e in planned.items() if key in locked]
        changed = [(e, version) for e, version in changed if e.version != version]
        try:
            async with self.uow.savepoint():
                inserted = await service.repo.write_many(created, changed)
                written = inserted | {e.id for e, _ in changed}
                for outcome, engagement, fields in audits:
                    if engagement.id in written:
                        service.audit_outcome(outcome, engagement, fields)
        except sa_exc.DBAPIError as exc:
            if exc.connection_invalidated:
                raise  # the database is gone: the whole call fails (5xx), nothing written
            log.warning("ingest batch applied item by item after %r", exc)
            return {index: await self._apply(index, fields, key) for index, fields, key in valid}
        raced = {(e.source, e.external_id) for e in created if e.id not in inserted}
        for index, fields, key in valid:
            if key in raced:
                results[index] = await self._apply(index, fields, key)
        return results

    async def _apply(self, index: int, fields: dict[str, Any], key: tuple[str, str]) -> ItemResult:
        """One item in a savepoint of its own."""
        item = {**fields, "source": key[0], "external_id": key[1]}
        for attempt in range(1, ITEM_ATTEMPTS + 1):
            # A service per item: what one item's rolled-back savepoint saw never misleads
            # the next (the versions the repository remembers).
            service = self._service()
            try:
                async with self.uow.savepoint():
                    outcome, engagement = await service.upsert(item)
            except DomainError as exc:
                return _rejected(index, key, exc)
            except sa_exc.DBAPIError as exc:
                if exc.connection_invalidated:
                    raise
                if _sqlstate(exc) in RETRIED_SQLSTATES and attempt < ITEM_ATTEMPTS:
                    continue
                log.exception("ingest item %s/%s could not be stored", *key)
                return ItemResult(
                    index,
                    "rejected",
                    *key,
                    errors=[{"field": None, "message": "could not be stored", "type": "storage"}],
                    retryable=True,
                )
            return _done(index, key, outcome, engagement)
        raise AssertionError("unreachable")  # every attempt returns or continues


def _rejected(index: int, key: tuple[str, str], exc: DomainError) -> ItemResult:
    return ItemResult(
        index,
        "rejected",
        *key,
        errors=_domain_errors(exc),
        retryable=isinstance(exc, Unavailable),
    )


def _done(index: int, key: tuple[str, str], outcome: str, engagement: Engagement) -> ItemResult:
    changed = engagement.events[-1].changed_fields if outcome == "updated" else ()
    return ItemResult(
        index,
        outcome,
        *key,
        id=engagement.id,
        version=engagement.version,
        changed_fields=list(changed),
    )


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
