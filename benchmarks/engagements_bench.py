# ruff: noqa: S311, S603, S608 - a benchmark's randomness; our own processes; our own SQL
"""Engagements benchmark (not a test): GET by id, a filtered list page and a create against a
raw Starlette + asyncpg app doing the same SQL work (wrk, as benchmarks/bench.py does for the
registry); then sustained ingestion through each door against raw asyncpg inserts of the same
rows, in the same run.

    eval "$(bash ops/local/stack.sh env)"
    .venv/bin/python benchmarks/engagements_bench.py [--engagements 20000] [--seconds 8]
        [--connections 32] [--batch 500] [--batches 20] [--messages 5000]
        [--only-ingestion] [--updates] [--py-spy PREFIX]   # PY_SPY=path/to/py-spy if not on PATH

- Scratch database (dropped at the end): the organization replica (a ministry, the foundation
  under it that leads the engagements, partners, another ministry), the agreements replica, and
  `--engagements` held engagements (a quarter restricted to the other ministry, so the
  visibility rule has something to hide), copies of one made through the service's own code.
- The raw app (`raw` in this module) runs the same statements: the visibility rule in the WHERE
  clause of reads; for a create, the replica lookup of the organizations and the engagement,
  outbox and audit rows in one transaction. No authentication, no validation beyond that.
- Ingestion, batch door: `--batches` POSTs of `--batch` new items each (bodies encoded
  beforehand; one small batch through each path first, untimed), taking turns with the raw
  inserts of as many items, batch for batch, so a load that changes during the run weighs on
  both alike (items/s over each one's own time, p50/p99 of a batch); raw: the rows the
  service wrote for those items (engagement, outbox event, audit entry), built beforehand,
  inserted with asyncpg `executemany` in one transaction per batch of the same size.
- Ingestion, Kafka door: `--messages` items published on engagements.ingest.v1 (a prefix of
  this run's own) while no consumer runs, then the service started again works through them
  (the job's publishing is no part of the rate, as the batch door's bodies are encoded
  beforehand): items/s over the fetched batches after the first (each one transaction), p50/p99
  of a batch; service CPU per item applied after it was ready; compared with the raw inserts
  run again right after it.
- `--updates`: each door's items pushed again with a changed outcome (an update of each held
  engagement, its event and audit entry): the batch door's right after its new items, the Kafka
  door's as a second backlog once the first is applied; rates as for the new items (no raw
  baseline for these).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HERE = Path(__file__).resolve().parent

# --- the raw baseline (run by uvicorn as `engagements_bench:raw`) -----------------------------

COLUMNS = (
    'id, kind, title, start, "end", location, lead_org_id, lead_ministry_id, lead_country, '
    "participants, attendees, agreement_ids, related_engagement_ids, themes, channel, "
    "coordinating_body_notified_at, status, visibility, report_due_on, outcome, report, "
    "action_items, countries, source, external_id, version, created_at, updated_at"
)
JSON_COLUMNS = frozenset(
    {"title", "location", "participants", "attendees", "themes", "report", "action_items"}
)
# The visibility rule for a caller of ministry $2 and organization $3 (tansiq_common.auth).
VISIBLE = "(visibility = 'interagency' OR lead_ministry_id = $2 OR party_org_ids @> ARRAY[$3])"
pool: asyncpg.Pool | None = None


def _state(row: asyncpg.Record) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in JSON_COLUMNS:
            out[key] = None if value is None else json.loads(value)
        elif isinstance(value, datetime | date):
            out[key] = value.isoformat()
        elif isinstance(value, uuid.UUID):
            out[key] = str(value)
        else:
            out[key] = value
    return out


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, media_type="application/json")


def _caller() -> tuple[str, str]:
    return os.environ["RAW_MINISTRY"], os.environ["RAW_ORG"]


async def raw_get(request: Request) -> Response:
    assert pool is not None
    try:
        engagement_id = uuid.UUID(request.path_params["engagement_id"])
    except ValueError:
        return _json({"detail": "not found"}, 404)
    row = await pool.fetchrow(
        f"SELECT {COLUMNS} FROM engagements WHERE id = $1 AND {VISIBLE}",
        engagement_id,
        *_caller(),
    )
    return _json(_state(row)) if row else _json({"detail": "not found"}, 404)


async def raw_list(request: Request) -> Response:
    assert pool is not None
    limit = int(request.query_params.get("limit", "50"))
    rows = await pool.fetch(
        f"SELECT {COLUMNS} FROM engagements WHERE kind = $1 AND {VISIBLE} "
        "ORDER BY created_at, id LIMIT $4",
        request.query_params.get("kind", "meeting"),
        *_caller(),
        limit + 1,
    )
    return _json({"items": [_state(r) for r in rows[:limit]], "next_cursor": None})


async def raw_create(request: Request) -> Response:
    assert pool is not None
    body = await request.json()
    participant_ids = [p["org_id"] for p in body["participants"]]
    async with pool.acquire() as conn, conn.transaction():
        orgs = await conn.fetch(
            "SELECT id, scope, country, ministry_id, status FROM organization_directory "
            "WHERE id = ANY($1)",
            [body["lead_org_id"], *participant_ids],
        )
        by_id = {r["id"]: r for r in orgs}
        lead = by_id.get(body["lead_org_id"])
        if lead is None or any(p not in by_id for p in participant_ids):
            return _json({"detail": "unknown organization"}, 422)
        now = datetime.now(UTC)
        row = await conn.fetchrow(
            'INSERT INTO engagements (id, kind, title, start, "end", location, lead_org_id, '
            "lead_ministry_id, lead_country, participants, attendees, agreement_ids, "
            "related_engagement_ids, themes, channel, status, visibility, report_due_on, "
            "outcome, action_items, countries, source, party_org_ids, search_text, version, "
            "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
            "'{}', $13, $14, $15, $16, $17, $18, '[]', $19, 'manual', $20, $21, 1, $22, $22) "
            f"RETURNING {COLUMNS}",
            uuid.uuid4(),
            body["kind"],
            json.dumps(body["title"]),
            datetime.fromisoformat(body["start"]),
            datetime.fromisoformat(body["end"]),
            json.dumps(body["location"]),
            lead["id"],
            lead["ministry_id"],
            lead["country"],
            json.dumps(body["participants"]),
            json.dumps(body["attendees"]),
            body["agreement_ids"],
            json.dumps(body["themes"]),
            body["channel"],
            body["status"],
            body["visibility"],
            date.fromisoformat(body["report_due_on"]),
            body["outcome"],
            sorted({r["country"] for r in orgs if r["country"]}),
            [lead["id"], *participant_ids],
            " ".join(filter(None, [*body["title"].values(), body["outcome"]])).casefold(),
            now,
        )
        state = _state(row)
        await conn.execute(
            "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, headers) "
            "VALUES ($1, 'engagement', $2, 'tansiq.engagements.engagement.created.v1', $3, "
            "'engagements.engagement.v1', '{}')",
            uuid.uuid4(),
            state["id"],
            json.dumps(state),
        )
        await conn.execute(
            "INSERT INTO audit_log (actor_sub, actor_org, actor_roles, action, entity_type, "
            "entity_id, request_id, changed_fields) VALUES ('bench', NULL, '{editor}', "
            "'engagement.created', 'engagement', $1, NULL, '[]')",
            state["id"],
        )
        await conn.execute("NOTIFY tansiq_outbox")
    return _json(state, 201)


@asynccontextmanager
async def _lifespan(_: Starlette) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(os.environ["RAW_DATABASE_URL"], min_size=4, max_size=10)
    yield
    await pool.close()


raw = Starlette(
    routes=[
        Route("/v1/engagements/{engagement_id}", raw_get, methods=["GET"]),
        Route("/v1/engagements", raw_list, methods=["GET"]),
        Route("/v1/engagements", raw_create, methods=["POST"]),
    ],
    lifespan=_lifespan,
)


# --- the data -----------------------------------------------------------------------------------


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def body(lead: str, partner: str, n: int = 0, **overrides: Any) -> dict[str, Any]:
    start = datetime(2024, 1, 1, 9, tzinfo=UTC) + timedelta(hours=n)
    fields = {
        "kind": "meeting",
        "title": {
            "ar": "اجتماع تشاوري حول برنامج السفر",
            "en": "Consultation on the travel programme",
        },
        "start": start.isoformat(),
        "end": (start + timedelta(hours=3)).isoformat(),
        "location": {"city": "Doha", "country": "QA", "virtual": False},
        "lead_org_id": lead,
        "participants": [
            {"org_id": lead, "role": "host"},
            {"org_id": partner, "role": "participant"},
        ],
        "attendees": {"total": 12, "nationals": 8, "nationals_trained": 0},
        "agreement_ids": [],
        "themes": {"sdgs": [16], "sectors": ["counter-terrorism"], "priorities": []},
        "report_due_on": (start + timedelta(days=14)).date().isoformat(),
        "channel": "direct",
        "status": "held",
        "visibility": "interagency",
        "outcome": "Agreed to follow up on the travel programme.",
    }
    fields.update(overrides)
    return fields


async def load(url: str, engagements: int) -> dict[str, Any]:
    """The replicas, a template engagement made through the service's own code, and its copies."""
    from tansiq_common.db import Database
    from tansiq_common.uow import SystemActor, UnitOfWork
    from tansiq_engagements.engagements.service import EngagementService
    from tansiq_engagements.lookups import replica_lookups

    ministry, lead, other = (str(uuid.uuid4()) for _ in range(3))
    partners = [str(uuid.uuid4()) for _ in range(300)]
    conn = await asyncpg.connect(_plain(url))
    try:
        await conn.executemany(
            "INSERT INTO organization_directory (id, parent_id, ministry_id, kind, scope, "
            "country, designations, status, version) VALUES ($1, $2, $3, $4, $5, $6, '{}', "
            "'active', 1)",
            [
                (ministry, None, ministry, "ministry", "national", "QA"),
                (lead, ministry, ministry, "public_foundation", "national", "QA"),
                (other, None, other, "ministry", "national", "QA"),
                *[(p, None, None, "un_entity", "international", None) for p in partners],
            ],
        )
    finally:
        await conn.close()
    db = Database(url, pool_size=2, max_overflow=0)
    try:
        service = EngagementService(
            UnitOfWork(db.sessionmaker, actor=SystemActor(sub="bench-loader")), replica_lookups()
        )
        template = await service.create(body(lead, partners[0]))
    finally:
        await db.dispose()
    conn = await asyncpg.connect(_plain(url))
    try:
        await conn.execute(
            """
            INSERT INTO engagements
            SELECT (jsonb_populate_record(e, jsonb_build_object(
                'id', gen_random_uuid(),
                'created_at', now() - make_interval(secs => n),
                'kind', CASE WHEN n % 2 = 0 THEN 'meeting' ELSE 'workshop' END,
                'participants', jsonb_build_array(
                    jsonb_build_object('org_id', $4::text, 'role', 'host'),
                    jsonb_build_object('org_id', ($3::text[])[1 + n % 300], 'role', 'participant')),
                'party_org_ids', ARRAY[
                    CASE WHEN n % 4 = 0 THEN $5::text ELSE $4::text END, ($3::text[])[1 + n % 300]],
                'visibility', CASE WHEN n % 4 = 0 THEN 'restricted' ELSE 'interagency' END,
                'lead_org_id', CASE WHEN n % 4 = 0 THEN $5::text ELSE $4::text END,
                'lead_ministry_id', CASE WHEN n % 4 = 0 THEN $5::text ELSE $6::text END))).*
            FROM engagements e, generate_series(1, $2) AS n WHERE e.id = $1
            """,
            uuid.UUID(template.id),
            engagements,
            partners,
            lead,
            other,
            ministry,
        )
        await conn.execute("ANALYZE")
        visible = await conn.fetch(
            "SELECT id::text FROM engagements WHERE visibility = 'interagency' LIMIT 2000"
        )
    finally:
        await conn.close()
    return {
        "ministry": ministry,
        "lead": lead,
        "partners": partners,
        "visible": [r["id"] for r in visible],
    }


# --- ingestion: the batch door, the raw inserts, the Kafka door -------------------------------


def items(prefix: str, lead: str, partners: list[str], count: int) -> list[dict[str, Any]]:
    return [
        body(lead, partners[i % len(partners)], i, source="calendar", external_id=f"{prefix}-{i}")
        for i in range(count)
    ]


def revised(items_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same items with a changed outcome: each an update of the engagement it made."""
    return [{**item, "outcome": f"{item['outcome']} (revised)"} for item in items_]


class BatchDoor:
    """POST /v1/ingest/engagements, a batch at a time (bodies encoded beforehand, as the raw
    inserts' rows are built beforehand: the client's work is no part of either rate)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        batches: list[list[dict[str, Any]]],
        outcome: str = "created",
    ) -> None:
        import httpx

        self.outcome = outcome  # what every item of a batch must be
        self.sizes = [len(batch) for batch in batches]
        self.bodies = [json.dumps({"items": batch}).encode() for batch in batches]
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.client = httpx.AsyncClient(base_url=base_url, timeout=120)

    async def batch(self, n: int) -> float:
        t = time.perf_counter()
        response = await self.client.post(
            "/v1/ingest/engagements", content=self.bodies[n], headers=self.headers
        )
        elapsed = time.perf_counter() - t
        if response.status_code != 200 or response.json()[self.outcome] != self.sizes[n]:
            raise RuntimeError(f"batch refused: {response.status_code} {response.text[:500]}")
        return elapsed

    async def close(self) -> None:
        await self.client.aclose()


class RawInserts:
    """The rows the service writes for these items (engagement, outbox event, audit entry),
    built beforehand with its own code, then inserted with asyncpg executemany, one
    transaction per batch."""

    def __init__(self, lead: str, batches: list[list[dict[str, Any]]]) -> None:
        from tansiq_common.codec import to_json
        from tansiq_engagements.engagements.model import Engagement, OrgFacts, References
        from tansiq_engagements.engagements.repository import EngagementRepository
        from tansiq_engagements.engagements.service import engagement_id_for, ingest_fields

        now = datetime.now(UTC)
        orgs: dict[str, OrgFacts] = {}
        repository = EngagementRepository(None)  # type: ignore[arg-type]  # rows only
        self.prepared = []
        for batch in batches:
            rows, events, audits = [], [], []
            for item in batch:
                fields, (source, external_id) = ingest_fields(item)
                named = [fields["lead_org_id"], *(p["org_id"] for p in fields["participants"])]
                for org_id in named:
                    national = org_id == lead
                    orgs.setdefault(org_id, OrgFacts(org_id, national, "QA" if national else None))
                engagement = Engagement.create(
                    id=engagement_id_for(source, external_id),
                    fields=fields,
                    refs=References(organizations=orgs),
                    now=now,
                    source=source,
                    external_id=external_id,
                )
                rows.append(repository.to_row(engagement))
                events.append((uuid.uuid4(), engagement.id, json.dumps(to_json(engagement))))
                audits.append((engagement.id, json.dumps(sorted(fields))))
            self.prepared.append((rows, events, audits))
        self.columns = list(self.prepared[0][0][0])
        quoted = ", ".join(f'"{c}"' for c in self.columns)
        values = ", ".join(f"${i + 1}" for i in range(len(self.columns)))
        self.insert = f"INSERT INTO engagements ({quoted}) VALUES ({values}) ON CONFLICT DO NOTHING"
        self.sizes = [len(batch) for batch in batches]
        self.conn: asyncpg.Connection | None = None

    async def batch(self, n: int) -> float:
        jsonb = {"title", "location", "participants", "attendees", "themes", "report",
                 "action_items"}  # fmt: skip
        rows, events, audits = self.prepared[n]
        assert self.conn is not None
        t = time.perf_counter()
        async with self.conn.transaction():
            await self.conn.executemany(
                self.insert, [[_column(r[c], c in jsonb) for c in self.columns] for r in rows]
            )
            await self.conn.executemany(
                "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, "
                "headers) VALUES ($1, 'engagement', $2, "
                "'tansiq.engagements.engagement.created.v1', $3, "
                "'engagements.engagement.v1', '{}')",
                events,
            )
            await self.conn.executemany(
                "INSERT INTO audit_log (actor_sub, actor_org, actor_roles, action, "
                "entity_type, entity_id, request_id, changed_fields) VALUES ('bench', NULL, "
                "'{integration}', 'engagement.created', 'engagement', $1, NULL, $2)",
                audits,
            )
        return time.perf_counter() - t


async def interleaved(paths: list[Any], batches: int) -> list[dict]:
    """Each path's batches in turn (batch 1 of each, then batch 2, ...), so a machine whose
    load changes during the run weighs on every path alike; items/s over each path's own
    time."""
    durations: list[list[float]] = [[] for _ in paths]
    for n in range(batches):
        for path, spent in zip(paths, durations, strict=True):
            spent.append(await path.batch(n))
    return [
        _rates(sum(path.sizes), sum(spent), spent)
        for path, spent in zip(paths, durations, strict=True)
    ]


async def raw_only(url: str, lead: str, batches: list[list[dict[str, Any]]]) -> dict:
    raw = RawInserts(lead, batches)
    raw.conn = await asyncpg.connect(_plain(url))
    try:
        [result] = await interleaved([raw], len(batches))
    finally:
        await raw.conn.close()
    return result


async def publish(bootstrap: str, topic: str, items_: list[dict[str, Any]]) -> float:
    """The items as a job publishes them, one message each; the seconds it took."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    started = time.perf_counter()
    try:
        for item in items_:
            headers = {
                "ce_specversion": "1.0",
                "ce_id": str(uuid.uuid4()),
                "ce_source": "/tansiq/integration/calendar",
                "ce_type": "tansiq.integration.engagement.v1",
                "ce_time": datetime.now(UTC).isoformat(),
                "content-type": "application/json",
            }
            await producer.send(
                topic,
                value=json.dumps(item).encode(),
                key=f"calendar:{item['external_id']}".encode(),
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
        await producer.flush()
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def applied_count(url: str) -> int:
    conn = await asyncpg.connect(_plain(url))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM ingested_messages"))
    finally:
        await conn.close()


async def kafka_door(url: str, count: int, timeout_s: float, before: int = 0) -> dict:
    """Wait for the consumer to apply `count` messages (after the `before` applied earlier);
    its rate over the fetched batches after the first (each applied in one transaction, ended
    when its messages are remembered), and the time each of them took (from the previous one's
    end)."""
    conn = await asyncpg.connect(_plain(url))
    try:
        deadline = time.perf_counter() + timeout_s
        while await conn.fetchval("SELECT count(*) FROM ingested_messages") < before + count:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"not every one of {count} messages applied in time")
            await asyncio.sleep(0.2)
        batches = await conn.fetch(
            "SELECT count(*) AS size, max(received_at) AS ended FROM ("
            "SELECT xmin::text AS tx, received_at FROM ingested_messages "
            "ORDER BY received_at OFFSET $1) AS t GROUP BY tx ORDER BY ended",
            before,
        )
    finally:
        await conn.close()
    ends = [b["ended"].timestamp() for b in batches]
    spent = [later - earlier for earlier, later in itertools.pairwise(ends)]
    if not spent:
        raise RuntimeError("one batch only: publish more messages (--messages)")
    return {
        **_rates(count - batches[0]["size"], ends[-1] - ends[0], spent),
        "transactions": len(batches),
    }


def _column(value: Any, is_json: bool) -> Any:
    return json.dumps(value) if is_json and value is not None else value


def _rates(count: int, seconds: float, durations: list[float]) -> dict:
    ordered = sorted(durations)
    return {
        "items_per_s": count / seconds if seconds else 0.0,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


@contextmanager
def profiled(pid: int, prefix: str | None, door: str) -> Iterator[None]:
    """py-spy recording the service while the block runs (nothing without a prefix)."""
    if prefix is None:
        yield
        return
    spy = os.environ.get("PY_SPY") or shutil.which("py-spy") or "py-spy"
    recorder = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--rate", "250", "--format", "speedscope",
         "--nonblocking", "--output", f"{prefix}-{door}.json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(30)


def start_raw(url: str, folder: Path, ministry: str, lead: str) -> subprocess.Popen[bytes]:
    import httpx
    from tansiq_common.testing import processes

    port = processes.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "engagements_bench:raw", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--log-level", "warning"],
        cwd=HERE,
        env={**os.environ, "RAW_DATABASE_URL": _plain(url), "RAW_MINISTRY": ministry,
             "RAW_ORG": lead},
        stdout=(folder / "raw.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    process.port = port  # type: ignore[attr-defined]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/engagements?limit=1", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the raw app did not start")


async def main() -> None:
    sys.path.insert(0, str(HERE))
    from bench import cpu_seconds, load_average, lua, row, wrk
    from tansiq_common.auth.devkeys import SigningKey, jwks_document, token_claims
    from tansiq_common.events.topics import delete_topics, ensure_topics
    from tansiq_common.testing import databases, processes
    from tansiq_engagements import MIGRATIONS_DIR

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engagements", type=int, default=20_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument(
        "--only-ingestion", action="store_true", help="skip the wrk scenarios (GET, list, create)"
    )
    parser.add_argument(
        "--updates",
        action="store_true",
        help="each door's items again with a changed outcome (updates of what they made)",
    )
    parser.add_argument(
        "--py-spy",
        metavar="PREFIX",
        help="record the service with py-spy during each ingestion door: PREFIX-batch.json, "
        "PREFIX-kafka.json (speedscope)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing (apt-get install wrk)")
    admin_url = os.environ["TANSIQ_PG_ADMIN_URL"]
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    run = uuid.uuid4().hex[:6]
    name, prefix = f"bench_engagements_{run}", f"bench.{run}."
    url = await databases.create_database(admin_url, name, MIGRATIONS_DIR)
    await ensure_topics(bootstrap, prefix)
    folder = Path(tempfile.mkdtemp(prefix="tansiq-engagements-bench-"))
    service = raw_process = None
    try:
        started = time.perf_counter()
        data = await load(url, args.engagements)
        print(f"loaded {args.engagements:,} engagements in {time.perf_counter() - started:.1f} s")
        key = SigningKey.generate("RS256")
        (folder / "jwks.json").write_text(json.dumps(jwks_document([key])))
        lead = data["lead"]
        token = key.sign(token_claims(org=lead, roles=["editor", "viewer"], sub="bench"))
        job = key.sign(token_claims(org=lead, roles=["integration"], sub="bench-job"))
        environment = {
            "ENGAGEMENTS_DATABASE_URL": url,
            "AUTH_JWKS_FILE": str(folder / "jwks.json"),
            "ENGAGEMENTS_RUN_RELAY": "false",
            "TOPIC_PREFIX": prefix,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "REGISTRY_BASE_URL": "http://127.0.0.1:9",  # the replica has every organization
            "AGREEMENTS_BASE_URL": "http://127.0.0.1:9",
            "LOG_LEVEL": "WARNING",
        }
        # A loaded two-core machine imports slowly.
        service = processes.start_service("engagements", environment, folder, ready_timeout=120)
        raw_process = start_raw(url, folder, data["ministry"], lead)
        raw_base = f"http://127.0.0.1:{raw_process.port}"  # type: ignore[attr-defined]
        rng = random.Random(1)
        sample = [rng.choice(data["visible"]) for _ in range(2000)]
        scenarios = [
            ("GET by id", "GET", [f"/v1/engagements/{i}" for i in sample], ""),
            ("list page of 50, filtered", "GET", ["/v1/engagements?kind=meeting&limit=50"], ""),
            ("create", "POST", ["/v1/engagements"], json.dumps(body(lead, data["partners"][7]))),
        ]
        print(
            f"\nwrk -t1 -c{args.connections} -d{args.seconds}s, loopback, one uvicorn worker "
            f"each, {args.engagements:,} engagements; CPU: user + system time of the server "
            "process per request (ratio raw/Tansiq)\n"
        )
        print("| scenario                   | Tansiq/s |    raw/s | ratio | Tansiq p50 / p99 ms "
              "| raw p50 / p99 ms | Tansiq CPU us | raw CPU us | CPU ratio |")  # fmt: skip
        print("| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |")
        for label, method, paths, payload in [] if args.only_ingestion else scenarios:
            script = lua(folder, label.split()[0], token, method, paths, payload)
            try:
                ours = wrk(
                    service.base_url, script, args.seconds, args.connections, service.process.pid
                )
                theirs = wrk(raw_base, script, args.seconds, args.connections, raw_process.pid)
            except (AttributeError, subprocess.SubprocessError) as exc:
                # wrk prints no latency when nothing completed (an overloaded machine).
                print(f"| {label} | no result: {exc!r} |", flush=True)
                continue
            print(row(label, ours, theirs), flush=True)

        partners = data["partners"]
        size = args.batch

        def batches(tag: str) -> list[list[dict[str, Any]]]:
            flat = items(tag, lead, partners, size * args.batches)
            return [flat[i : i + size] for i in range(0, len(flat), size)]

        pid = service.process.pid
        door_path = BatchDoor(service.base_url, job, batches("door"))
        raw_path = RawInserts(lead, batches("raw"))
        raw_path.conn = await asyncpg.connect(_plain(url))
        try:
            # One small batch each first, untimed: what a process does once (lazy imports, the
            # first statements prepared) is no part of a sustained rate.
            warm_door = BatchDoor(service.base_url, job, [items("warm-door", lead, partners, 20)])
            await warm_door.batch(0)
            await warm_door.close()
            warm_raw = RawInserts(lead, [items("warm-raw", lead, partners, 20)])
            warm_raw.conn = raw_path.conn
            await warm_raw.batch(0)
            cpu = cpu_seconds(pid)
            with profiled(pid, args.py_spy, "batch"):
                door, baseline = await interleaved([door_path, raw_path], args.batches)
            door["cpu_ms"] = (cpu_seconds(pid) - cpu) * 1000 / (size * args.batches) * 1000
            if args.updates:
                again = [revised(batch) for batch in batches("door")]
                door_updates = BatchDoor(service.base_url, job, again, outcome="updated")
                cpu = cpu_seconds(pid)
                try:
                    [door_updated] = await interleaved([door_updates], args.batches)
                finally:
                    await door_updates.close()
                door_updated["cpu_ms"] = (
                    (cpu_seconds(pid) - cpu) * 1000 / (size * args.batches) * 1000
                )
        finally:
            await door_path.close()
            await raw_path.conn.close()
        # The Kafka door: a backlog published while no consumer runs (the job's publishing is
        # no part of the rate, as the batch door's bodies are encoded beforehand), then the
        # service started again works through it.
        service.stop()
        topic = prefix + "engagements.ingest.v1"
        published = await publish(bootstrap, topic, items("kafka", lead, partners, args.messages))
        service = processes.start_service("engagements", environment, folder, ready_timeout=120)
        pid = service.process.pid
        cpu, before = cpu_seconds(pid), await applied_count(url)
        with profiled(pid, args.py_spy, "kafka"):
            kafka = await kafka_door(url, args.messages, timeout_s=300)
        kafka["cpu_ms"] = (cpu_seconds(pid) - cpu) * 1000 / (args.messages - before) * 1000
        # The Kafka door's baseline: the same raw inserts right after it.
        after_kafka = await raw_only(url, lead, batches("raw-after-kafka"))
        if args.updates:
            # The same messages' items again, changed: a second backlog, applied as updates.
            service.stop()
            before = await applied_count(url)
            await publish(bootstrap, topic, revised(items("kafka", lead, partners, args.messages)))
            service = processes.start_service("engagements", environment, folder, ready_timeout=120)
            pid = service.process.pid
            cpu, ready = cpu_seconds(pid), await applied_count(url)
            kafka_updated = await kafka_door(url, args.messages, timeout_s=300, before=before)
            applied = before + args.messages - ready
            kafka_updated["cpu_ms"] = (cpu_seconds(pid) - cpu) * 1000 / applied * 1000
        print(
            f"\nsustained ingestion: {args.batches} batches of {size} new items, the batch "
            "door's and the raw inserts' in turn; then Kafka: "
            f"{args.messages:,} messages, and the raw inserts again\n"
        )
        print(
            f"Kafka door: {args.messages:,} messages published in {published:.2f} s, then "
            f"applied in {kafka['transactions']} transactions (fetched batches); items/s over "
            "the batches after the first\n"
        )
        print(f"load average {load_average()}; service CPU: user + system time of the service "
              "process per 1,000 items\n")  # fmt: skip
        print("| path | items/s | ratio to raw | p50 / p99 ms | service CPU ms / 1,000 items |")
        print("| --- | ---: | ---: | --- | ---: |")
        for label, result, unit, raw_rate in (
            ("raw asyncpg inserts (same rows)", baseline, "per batch", baseline),
            ("POST /v1/ingest/engagements", door, "per batch", baseline),
            ("raw asyncpg inserts, after Kafka", after_kafka, "per batch", after_kafka),
            ("engagements.ingest.v1", kafka, "per fetched batch", after_kafka),
        ):
            ratio = result["items_per_s"] / raw_rate["items_per_s"]
            print(
                f"| {label} | {result['items_per_s']:,.0f} | {ratio:.2f} | "
                f"{result['p50_ms']:,.0f} / {result['p99_ms']:,.0f} ({unit}) | "
                + (f"{result['cpu_ms']:,.0f} |" if "cpu_ms" in result else "– |"),
                flush=True,
            )
        if args.updates:
            for label, result, unit in (
                ("POST /v1/ingest/engagements, updates", door_updated, "per batch"),
                ("engagements.ingest.v1, updates", kafka_updated, "per fetched batch"),
            ):
                print(
                    f"| {label} | {result['items_per_s']:,.0f} | – | {result['p50_ms']:,.0f} / "
                    f"{result['p99_ms']:,.0f} ({unit}) | {result['cpu_ms']:,.0f} |",
                    flush=True,
                )
    finally:
        if service is not None:
            service.stop()
        if raw_process is not None:
            raw_process.terminate()
            raw_process.wait(10)
        await databases.drop_database(admin_url, name)
        await delete_topics(bootstrap, prefix)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
