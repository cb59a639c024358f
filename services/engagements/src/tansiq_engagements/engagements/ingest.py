"""Ingestion from integration jobs: two doors, one set of rules.

- `POST /v1/ingest/engagements`: a batch of up to 1,000 items in one transaction, each item in
  a savepoint of its own, so one bad item never rejects the others; a result per item.
- `engagements.ingest.v1`: one item per message, applied by the backbone's consumer runner a
  fetched batch at a time in one transaction; an item that breaks a rule is refused
  (dead-lettered with the reason) and the others applied; should the batch fail as a whole, its
  messages are applied one at a time, an item needing a service that does not answer retried.

A batch is applied in bulk through either door (`Bulk`): its engagements locked and what they
name looked up in a few statements, every item's rules checked in memory, then the rows, their
events and audit entries written in one statement each.

Both go through `EngagementService.upsert`: the same validation, the same upsert on
(source, external_id), so a job retrying an item any number of times, through either door or
both at once, leaves exactly one engagement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import asyncpg
import pydantic
from tansiq_common.auth import OrgScope, Principal
from tansiq_common.auth.scope import OrganizationDirectory
from tansiq_common.codec import json_text
from tansiq_common.context import current_request_id, current_traceparent
from tansiq_common.db import numbered
from tansiq_common.domain import DomainError, NotAllowed, StateEvent, Unavailable
from tansiq_common.events.consumer import ConsumerSpec
from tansiq_common.events.contracts import INGEST_TOPIC, INTEGRATION_SOURCE_PREFIX
from tansiq_common.events.envelope import Envelope, InvalidEvent
from tansiq_common.events.outbox import NOTIFY, insert_from_json
from tansiq_common.repository import parse_id
from tansiq_common.uow import UnitOfWork, audit_row, insert_audit_from_json

from tansiq_engagements.engagements.model import Engagement, References
from tansiq_engagements.engagements.repository import (
    DOCS,
    INSERT_ROWS,
    ROW_STATES,
    UPDATE_ROWS,
)
from tansiq_engagements.engagements.schemas import MAX_BATCH, EngagementIngestItem
from tansiq_engagements.engagements.service import (
    ENTITY,
    EngagementService,
    OutsideOrganization,
    audit_entry,
    ingest_fields,
)
from tansiq_engagements.lookups import Lookups

log = logging.getLogger(__name__)

# The ce_type of a message on engagements.ingest.v1: "here is an engagement as my system has it".
INGEST_EVENT_TYPE = "tansiq.integration.engagement.v1"
CONSUMER_NAME = "ingest"
# PostgreSQL's deadlock and serialization failures: the item is tried again, not rejected.
RETRIED_SQLSTATES = frozenset({"40P01", "40001"})
ITEM_ATTEMPTS = 3

_ITEM = pydantic.TypeAdapter(EngagementIngestItem)

# The most organizations one integration token may be for (its `orgs` claim).
MAX_CLAIMED_ORGS = 100


class InvalidOrgsClaim(NotAllowed):
    slug = "invalid-orgs-claim"


async def integration_leads(
    claimed: Any, own: OrgScope, directory: OrganizationDirectory
) -> frozenset[str]:
    """The organizations an integration job pushes engagements for: those its token's `orgs`
    claim lists (`claimed`, each with the organizations below it) or, without the claim (None),
    its own organization (`own`) and those below it. A malformed claim is refused."""
    if claimed is None:
        return own.descendants
    if (
        not isinstance(claimed, list)
        or len(claimed) > MAX_CLAIMED_ORGS
        or not all(isinstance(org, str) for org in claimed)
    ):
        raise InvalidOrgsClaim(
            f"The token's `orgs` claim must list at most {MAX_CLAIMED_ORGS} organization ids."
        )
    leads: set[str] = set()
    for org in dict.fromkeys(c for c in map(parse_id, claimed) if c is not None):
        leads |= (await directory.scope_of(org)).descendants
    return frozenset(leads)


class ItemInvalid(Exception):
    """An item that is not an engagement item at all (schema): its errors, field by field."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def parse_item(raw: Any) -> dict[str, Any]:
    """The item's fields as validated (times, dates and choices as Python values, which the
    aggregate takes as they are: nothing turned back into text to be parsed again), or
    ItemInvalid naming each bad field."""
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
    return item.model_dump()


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


class Origin(NamedTuple):
    """What an item's changes carry: the request (or message) that brought it, and its trace."""

    request_id: str | None
    traceparent: str | None


class Item(NamedTuple):
    position: int  # in the batch
    fields: dict[str, Any]
    key: tuple[str, str]
    origin: Origin


@dataclass
class Plan:
    """A batch's changes, checked and not yet written."""

    results: dict[int, ItemResult] = field(default_factory=dict)
    created: list[Engagement] = field(default_factory=list)
    changed: list[tuple[Engagement, int]] = field(default_factory=list)  # with its locked version
    # In the order the items made them: (engagement id, event, origin), (id, action, fields, origin)
    events: list[tuple[str, StateEvent, Origin]] = field(default_factory=list)
    audits: list[tuple[str, str, list[str], Origin]] = field(default_factory=list)


@dataclass
class Looked:
    """What a batch found before its items are checked: the engagements of its keys (locked,
    with the versions they had), the records they refer to, and what is planned so far."""

    locked: dict[tuple[str, str], Engagement]
    loaded: dict[tuple[str, str], int]
    refs: References
    planned: dict[tuple[str, str], Engagement]
    relates: bool  # some item relates engagements (maybe one an earlier item creates)


# Items checked and written together; a slice's rows go to the database while the next slice
# is checked. A batch larger than a slice starts and ends with a small one: the database starts
# early, and little is left to write once the last item is checked.
SLICE = 125
EDGE = SLICE // 4


def _slices(items: Sequence[Item], size: int = SLICE, edge: int = EDGE) -> list[list[Item]]:
    """`items` (sorted by key) in slices of about `size`, the first and the last of about
    `edge` when there are more than `size`; a key's items are never split."""
    slices: list[list[Item]] = []
    start, count = 0, len(items)
    while start < count:
        left = count - start
        if count <= size or left <= 2 * edge:
            target = left
        elif start == 0:
            target = edge
        elif left <= size + edge:
            target = left - edge
        else:
            target = size
        end = start + target
        while end < count and items[end].key == items[end - 1].key:
            end += 1
        slices.append(list(items[start:end]))
        start = end
    return slices


class Bulk:
    """A batch of items applied at once, with the rules of `EngagementService.plan_upsert`."""

    def __init__(self, service: EngagementService) -> None:
        self.service = service

    async def look_up(self, items: Sequence[Item]) -> Looked:
        """Lock the engagements the items name and look up what they refer to: a few
        statements for the whole batch. Raises Unavailable when an owner of a referenced
        record cannot answer."""
        service = self.service
        keys = list(dict.fromkeys(item.key for item in items))
        locked = await service.repo.lock_keys(keys)
        refs = await service.references_for([i.fields for i in items], list(locked.values()))
        loaded = {key: e.version for key, e in locked.items()}
        relates = any(i.fields.get("related_engagement_ids") for i in items)
        return Looked(locked, loaded, refs, dict(locked), relates)

    def check(self, items: Sequence[Item], looked: Looked) -> Plan:
        """Every item's rules, in memory and in order; what they change, planned on what
        earlier items planned (`looked` keeps it). Nothing is written."""
        service, plan, planned = self.service, Plan(), looked.planned
        keys = []
        for index, fields, key, origin in items:
            current = planned.get(key)
            before = len(current.events) if current is not None else 0
            try:
                outcome, engagement = service.plan_upsert(fields, key, current, looked.refs)
            except DomainError as exc:
                plan.results[index] = _rejected(index, key, exc)
                continue
            planned[key] = engagement
            keys.append(key)
            plan.results[index] = _done(index, key, outcome, engagement)
            if outcome == "unchanged":
                continue
            plan.events += [(engagement.id, e, origin) for e in engagement.events[before:]]
            if outcome == "created" and looked.relates:
                # Later items may relate to it, as they could one written before them.
                looked.refs = _with_engagement(looked.refs, engagement.id)
            action, _, _, changed_fields = audit_entry(outcome, engagement, fields)
            plan.audits.append((engagement.id, action, changed_fields, origin))
        for key in dict.fromkeys(keys):
            engagement = planned[key]
            if key not in looked.locked:
                plan.created.append(engagement)
            elif engagement.version != looked.loaded[key]:
                plan.changed.append((engagement, looked.loaded[key]))
        return plan

    async def apply(
        self, items: Sequence[Item], looked: Looked
    ) -> tuple[dict[int, ItemResult], set[tuple[str, str]]]:
        """Check and write the items (sorted by key) a slice at a time, each slice's rows
        written while the next is checked: the database works while Python does. A key's
        items are in one slice. Returns every item's result and the keys another writer
        inserted meanwhile (`write`)."""
        results: dict[int, ItemResult] = {}
        raced: set[tuple[str, str]] = set()
        writing: asyncio.Future[set[tuple[str, str]]] | None = None
        events = False
        try:
            for part in _slices(items):
                plan = self.check(part, looked)
                results |= plan.results
                if not plan.created and not plan.changed:
                    continue  # every item unchanged or rejected: nothing to write
                events = events or bool(plan.events)
                if writing is not None:
                    raced |= await writing
                writing = asyncio.ensure_future(self.write(plan))
                # Let the write encode its rows and send them before the next slice is checked:
                # a task only starts when this one yields, and checking never does.
                await asyncio.sleep(0)
            if writing is not None:
                raced |= await writing
            if events:
                await self.service.uow.execute(NOTIFY)  # the relay, on commit
        finally:
            if writing is not None and not writing.done():
                writing.cancel()
                with contextlib.suppress(BaseException):
                    await writing
        return results, raced

    async def write(self, plan: Plan) -> set[tuple[str, str]]:
        """The rows, their events and audit entries in one statement (one round trip: the
        database works on it while the next slice is checked). Returns the keys of the
        engagements another writer inserted meanwhile (nothing of theirs is written)."""
        rows = await self.service.uow.fetch(_WRITE, *self.parameters(plan))
        inserted = {row[0] for row in rows}
        for engagement in [*plan.created, *(e for e, _ in plan.changed)]:
            engagement.events.clear()  # written (or not ours to write): never twice
        return {(e.source, e.external_id or "") for e in plan.created if e.id not in inserted}

    def parameters(self, plan: Plan) -> list[Any]:
        """The arguments of `_WRITE` for a slice's plan (in `WRITE_PARAMETERS` order). Each
        state is encoded once: an event carrying the state its row holds leaves it to the
        database to take from the row."""
        repo, uow = self.service.repo, self.service.uow
        states = {e.id: repo.state_of(e) for e in plan.created}
        states |= {e.id: repo.state_of(e) for e, _ in plan.changed}
        events = []
        headers: dict[Origin, dict[str, str]] = {}  # a batch's items share their origin
        for engagement_id, event, origin in plan.events:
            if origin not in headers:
                headers[origin] = _headers(origin)
            message = {
                "aggregateid": engagement_id,
                "aggregatetype": event.aggregate_type,
                "type": event.event_type,
                "topic": event.topic,
                "headers": headers[origin],
            }
            if event.state is not states.get(engagement_id):
                message["payload"] = event.state  # an earlier state than its row's
            events.append(message)
        audits = [
            audit_row(uow.actor, action, ENTITY, engagement_id, origin.request_id, changed_fields)
            for engagement_id, action, changed_fields, origin in plan.audits
        ]
        rows = repo.rows(plan.created, plan.changed, states)
        return [rows["created"], rows["changed"], json_text(events), json_text(audits)]


# A slice's writes in one statement: the rows, then the events and audit entries of the rows
# written (an engagement another writer inserted meanwhile is not, and nor are they). An
# event's outbox id is drawn by the database; its state is its row's unless it carries one.
_WRITTEN = "IN (SELECT id FROM written)"
_EVENTS = insert_from_json("events", f"(m->>'aggregateid')::uuid {_WRITTEN}", states="states")
_AUDITS = insert_audit_from_json("audits", f"(a->>'entity_id')::uuid {_WRITTEN}")
# Written once with named parameters (the parts' own), sent with $n in this order.
WRITE_PARAMETERS = ("created", "changed", "events", "audits")
_WRITE = numbered(
    " ".join(
        [
            f"WITH docs AS ({DOCS}), inserted AS ({INSERT_ROWS}), updated AS ({UPDATE_ROWS}),",
            "written AS (SELECT id FROM inserted UNION ALL SELECT id FROM updated),",
            f"states AS ({ROW_STATES}),",
            f"events AS ({_EVENTS} RETURNING 1), audits AS ({_AUDITS} RETURNING 1)",
            "SELECT id::text FROM inserted",
        ]
    ),
    *WRITE_PARAMETERS,
)


def _headers(origin: Origin) -> dict[str, str]:
    headers = {"request_id": origin.request_id, "traceparent": origin.traceparent}
    return {name: value for name, value in headers.items() if value is not None}


def _with_engagement(refs: References, engagement_id: str) -> References:
    return replace(refs, engagement_ids=refs.engagement_ids | {engagement_id})


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
        if not self.leads:
            raise OutsideOrganization(
                "This integration token is for no organization the registry knows."
            )
        results: list[ItemResult | None] = [None] * len(raw_items)
        valid: list[Item] = []
        origin = Origin(current_request_id(), current_traceparent())
        for index, raw in enumerate(raw_items):
            given = raw if isinstance(raw, Mapping) else {}
            try:
                fields, key = ingest_fields(parse_item(raw))
            except ItemInvalid as exc:
                errors = exc.errors
            except DomainError as exc:
                errors = _domain_errors(exc)
            else:
                valid.append(Item(index, fields, key, origin))
                continue
            source, external_id = _text(given.get("source")), _text(given.get("external_id"))
            results[index] = ItemResult(index, "rejected", source, external_id, errors=errors)
        # Items are applied in key order: two batches lock shared rows in the same order.
        valid.sort(key=lambda item: item.key)
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

    async def _apply_all(self, valid: Sequence[Item]) -> dict[int, ItemResult]:
        """The whole batch at once (`Bulk`), in one savepoint. Should the write fail, the items
        are applied one by one, each in a savepoint of its own; an item another writer
        inserted meanwhile is applied on its own too (as an update of what that writer
        inserted)."""
        bulk = Bulk(self._service())
        try:
            looked = await bulk.look_up(valid)
        except Unavailable:
            # Some item names a record its owner cannot confirm now: those items, and only
            # those, are rejected (retryable) when each is looked up on its own.
            return {i.position: await self._apply(i.position, i.fields, i.key) for i in valid}
        try:
            async with self.uow.savepoint():
                results, raced = await bulk.apply(valid, looked)
        except asyncpg.PostgresError as exc:
            # A lost connection is no PostgresError (it is answered 503): the whole call fails.
            log.warning("ingest batch applied item by item after %r", exc)
            return {i.position: await self._apply(i.position, i.fields, i.key) for i in valid}
        for index, fields, key, _ in valid:
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
            except asyncpg.PostgresError as exc:
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


def _sqlstate(exc: asyncpg.PostgresError) -> str | None:
    code = exc.sqlstate
    return str(code) if code else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# --- the Kafka door ----------------------------------------------------------------------------


def ingest_consumer(lookups: Lookups) -> ConsumerSpec:
    """The consumer of engagements.ingest.v1 (`tansiq replay ingest` re-reads it, changing
    nothing: every applied message is remembered in `ingested_messages`). A fetched batch is
    applied at once (`apply_ingest_batch`); should that fail, message by message
    (`apply_ingest_message`)."""

    async def handle(uow: UnitOfWork, envelope: Envelope) -> None:
        await apply_ingest_message(uow, envelope, lookups)

    async def handle_batch(uow: UnitOfWork, envelopes: Sequence[Envelope]) -> dict[str, Any]:
        return await apply_ingest_batch(uow, envelopes, lookups)

    return ConsumerSpec(
        name=CONSUMER_NAME,
        topics=[INGEST_TOPIC],
        handlers={INGEST_EVENT_TYPE: handle},
        batch_handler=handle_batch,
        uses_uow=True,
        # As many as one call of the batch door takes: a fetch is one transaction.
        max_records=MAX_BATCH,
    )


# A batch's messages applied before, and those applied now: one statement each.
# A message applied before, and one applied now (the consumer's message by message).
_SEEN = "SELECT event_id FROM ingested_messages WHERE event_id = ANY($1::text[])"
_REMEMBER = (
    "INSERT INTO ingested_messages (event_id, source, external_id, engagement_id, outcome) "
    "SELECT event_id, source, external_id, engagement_id, outcome "
    "FROM ROWS FROM (jsonb_to_recordset(CAST($1 AS jsonb)) AS (event_id text, source text, "
    "external_id text, engagement_id uuid, outcome text)) WITH ORDINALITY "
    "AS t(event_id, source, external_id, engagement_id, outcome, n) ORDER BY n"
)
_SEEN_ONE = "SELECT 1 FROM ingested_messages WHERE event_id = $1"
_REMEMBER_ONE = (
    "INSERT INTO ingested_messages (event_id, source, external_id, engagement_id, outcome) "
    "VALUES ($1, $2, $3, $4, $5)"
)


class RacedWithAnotherWriter(Exception):
    """An item of the batch was inserted by another writer meanwhile (or needs a service that
    did not answer): the batch goes message by message instead, where each such item is an
    update of what the other writer inserted (or is retried)."""


def item_of(envelope: Envelope) -> tuple[dict[str, Any], tuple[str, str]]:
    """A message's item (fields, key), or InvalidEvent with the reason."""
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
        return ingest_fields(item)
    except DomainError as exc:
        raise _refusal(exc) from None


def _refusal(exc: DomainError) -> InvalidEvent:
    return _dead_letter_reason(_domain_errors(exc))


def _dead_letter_reason(errors: Iterable[Mapping[str, Any]]) -> InvalidEvent:
    """What goes to the DLQ for an item that broke rules: each one's field, message and type."""
    reasons = "; ".join(f"{e.get('field')}: {e.get('message')} ({e['type']})" for e in errors)
    return InvalidEvent(f"item rejected: {reasons}")


async def apply_ingest_batch(
    uow: UnitOfWork, envelopes: Sequence[Envelope], lookups: Lookups
) -> dict[str, InvalidEvent]:
    """The messages of a fetched batch at once, with the rules of `apply_ingest_message`: a
    message applied before (a replay) changes nothing, an item that breaks a rule is refused
    with the reason (nothing of it written) and the others applied. The changes of each item
    carry its message as their request."""
    ids = [e.id for e in envelopes]
    seen = {row[0] for row in await uow.lookup(_SEEN, ids)}
    refused: dict[str, InvalidEvent] = {}
    items: list[Item] = []
    applying: list[Envelope] = []  # by the position of their items
    for envelope in envelopes:
        if envelope.id in seen:
            continue
        try:
            fields, key = item_of(envelope)
        except InvalidEvent as exc:
            refused[envelope.id] = exc
            continue
        origin = Origin(envelope.id, envelope.headers.get("traceparent"))
        items.append(Item(len(applying), fields, key, origin))
        applying.append(envelope)
    # Applied in key order (two writers lock shared rows in the same order); the sort is
    # stable, so a key's messages keep their partition order.
    items.sort(key=lambda item: item.key)
    bulk = Bulk(EngagementService(uow, lookups))
    looked = await bulk.look_up(items)  # Unavailable: message by message, retried
    results, raced = await bulk.apply(items, looked)
    if raced:
        raise RacedWithAnotherWriter("an item was inserted through the other door meanwhile")
    applied = []
    for result in results.values():
        envelope = applying[result.index]
        if result.retryable:  # not the item's fault: message by message, retried
            raise RacedWithAnotherWriter(f"{envelope.id} needs a service that did not answer")
        if result.result == "rejected":
            refused[envelope.id] = _dead_letter_reason(result.errors)
        else:
            applied.append(
                {
                    "event_id": envelope.id,
                    "source": result.source,
                    "external_id": result.external_id,
                    "engagement_id": result.id,
                    "outcome": result.result,
                }
            )
    if applied:
        # In partition order: received_at (clock_timestamp) keeps the order they came in.
        position = {event_id: n for n, event_id in enumerate(ids)}
        applied.sort(key=lambda row: position[str(row["event_id"])])
        await uow.write(_REMEMBER, [json_text(applied)])
    return refused


async def apply_ingest_message(uow: UnitOfWork, envelope: Envelope, lookups: Lookups) -> None:
    """One message: the same item rules as the batch endpoint. A broken rule raises
    InvalidEvent (to the DLQ with the reason); a service that does not answer, Unavailable
    (retried)."""
    if await uow.lookup(_SEEN_ONE, envelope.id):
        return
    fields, key = item_of(envelope)
    item = {**fields, "source": key[0], "external_id": key[1]}
    try:
        outcome, engagement = await EngagementService(uow, lookups).upsert(item)
    except Unavailable:
        raise
    except DomainError as exc:
        raise _refusal(exc) from None
    await uow.write(_REMEMBER_ONE, [envelope.id, key[0], key[1], engagement.id, outcome])
