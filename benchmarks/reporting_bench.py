# ruff: noqa: S311 - a benchmark's randomness is not security
"""Reporting benchmark (not a test).

    eval "$(bash ops/local/stack.sh env)"
    .venv/bin/python benchmarks/reporting_bench.py [--engagements 1000000] [--orgs 10000]
        [--requests 1000] [--concurrency 8] [--rate 200] [--seconds 20] [--only writes]

In a scratch database (created and dropped here) and scratch topics:

1. Loads `--orgs` organizations (ministries of Qatar and Syria, their directorates, the
   coordinating body, international partners) and `--engagements` engagements straight into
   reporting's replicas, with the findings the rules give them (C7 on those without an SDG or
   priority, C2 on the tenth that went direct; a tenth of the findings accepted as exceptions;
   each ministry on its own sector, so no overlap), and fills the scorecard and coverage
   counters from them with one SQL aggregation each — what the consumer
   builds one event at a time, loaded in bulk because a million events would take hours here.
2. Runs the reporting service under uvicorn (one worker) and measures, as a coordinator of
   Qatar's coordinating body, GET /v1/scorecards, a page of /v1/findings?status=open and a page
   of /v1/coverage (`--requests` each at `--concurrency`): p50/p95/p99. Next to each, the same
   answer computed by a plain SQL query over the replicas and findings, timed in the same run,
   and checked equal to what the service answered.
3. Write → finding visible: publishes engagement events (as the engagements service's relay
   would) at `--rate` per second for `--seconds`, each one the service must judge (an
   international partner, no theme: rule C7; with a hundred partners of their own, so each is
   compared under rule C3 with the others of its partner in the million-row replica), and polls
   every 10 ms, by id, for the engagement in the replica (the consumer's part) and for its C7
   finding; latency = first seen minus sent (same host clock; ±10 ms plus a poll's time). The
   broker's acknowledgement (acks=all) is timed too: Kafka's own part of the write. And the CPU
   time the service process spent meanwhile, per event: what the write path costs, whatever
   else the machine runs (latency on a shared machine follows its load).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy.engine import make_url
from tansiq_common.auth.devkeys import SigningKey, jwks_document, token_claims
from tansiq_common.events.topics import delete_topics, ensure_topics
from tansiq_common.testing import databases, processes
from tansiq_reporting import MIGRATIONS_DIR

MINISTRIES = 200  # 150 of Qatar, 50 of Syria
QA_MINISTRIES = 150


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


LOAD_SQL = """
-- Organizations: 0..199 ministries, 200..(units-1) directorates, then partners; the ICD last.
INSERT INTO rm_organizations (id, version, kind, scope, country, parent_id, status, name_en,
                              name_ar, acronym, ministry_id, coordinating)
SELECT o.id, 1, o.kind, o.scope, o.country, o.parent, 'active', o.kind || ' ' || n,
       'جهة ' || n, NULL, o.ministry, false
FROM generate_series(0, $1 - 1) AS n
CROSS JOIN LATERAL (
  SELECT md5('org' || n)::uuid::text AS id,
         CASE WHEN n < 200 THEN 'ministry' WHEN n < $2 THEN 'directorate' ELSE 'un_entity' END
           AS kind,
         CASE WHEN n < $2 THEN 'national' ELSE 'international' END AS scope,
         CASE WHEN n < $2 THEN (CASE WHEN n % 200 < 150 THEN 'QA' ELSE 'SY' END) END AS country,
         CASE WHEN n >= 200 AND n < $2 THEN md5('org' || (n % 200))::uuid::text END AS parent,
         CASE WHEN n < $2 THEN md5('org' || (n % 200))::uuid::text END AS ministry
) AS o;

INSERT INTO rm_organizations (id, version, kind, scope, country, parent_id, status, name_en,
                              designations, ministry_id, coordinating)
VALUES ('00000000-0000-4000-8000-00000000c0de', 1, 'directorate', 'national', 'QA',
        md5('org0')::uuid::text, 'active', 'International Cooperation Department',
        '{coordinating_body}', md5('org0')::uuid::text, true);
"""

ENGAGEMENTS_SQL = """
INSERT INTO rm_engagements (
  id, version, kind, status, title_en, title_ar, start, "end", lead_org_id,
  participant_org_ids, org_ids, attendees_total, nationals, nationals_trained, sectors,
  priorities, channel,
  visibility, source, created_at, updated_at,
  counted_country, counted_ministry_id, counted_month, counted_rules, counted_partners,
  counted_contact, countries, coordinated)
SELECT e.id, 1, 'meeting', e.status, 'Engagement ' || i, 'نشاط ' || i, e.start,
       e.start + interval '3 hours', e.lead, ARRAY[e.lead, e.partner], ARRAY[e.lead, e.partner],
       10, 5, 0, ARRAY['sector-' || e.m], e.priorities, e.channel, e.visibility, 'bench',
       e.start, e.start,
       e.country, e.ministry, to_char(e.start, 'YYYY-MM'), 0,
       ARRAY[e.partner], CASE WHEN e.status = 'held' THEN e.start END,
       ARRAY[e.country], e.channel = 'via_coordinating_body'
FROM generate_series(0::bigint, $1::bigint - 1) AS i
CROSS JOIN LATERAL (
  SELECT md5('eng' || i)::uuid::text AS id,
         md5('org' || ((i * 7919) % $2))::uuid::text AS lead,
         ((i * 7919) % $2) % 200 AS m,
         md5('org' || ((i * 7919) % $2 % 200))::uuid::text AS ministry,
         CASE WHEN ((i * 7919) % $2) % 200 < 150 THEN 'QA' ELSE 'SY' END AS country,
         md5('org' || ($2 + (i * 104729) % ($3 - $2 - 100)))::uuid::text AS partner,
         timestamptz '2019-01-01 06:00+00' + (i % 2800) * interval '1 day'
           + (i % 11) * interval '1 hour' AS start,
         CASE WHEN i % 20 = 0 THEN 'cancelled' WHEN i % 20 = 1 THEN 'planned' ELSE 'held' END
           AS status,
         CASE WHEN i % 10 = 0 THEN 'restricted' ELSE 'interagency' END AS visibility,
         CASE WHEN i % 10 IN (2, 3) THEN '{}'::text[] ELSE ARRAY['NDS-' || (i % 9)] END
           AS priorities,
         CASE WHEN i % 10 = 1 THEN 'direct' ELSE 'via_coordinating_body' END AS channel
) AS e;
"""

# C7 on engagements without an SDG or priority, C2 on a seventh of the held direct ones; a tenth
# of the findings accepted as exceptions; then each record's rule bits from its findings.
FINDINGS_SQL = """
INSERT INTO findings (id, rule, status, ministry_id, country, records, partner_ids, explanation,
  resolution, details, access, opened_at, acceptance, version, created_at, updated_at,
  anchor_type, anchor_id, record_ids, visibility, owner_ministry_id, party_org_ids, countries)
SELECT md5(r.rule || e.id)::uuid::text, r.rule,
       CASE WHEN abs(hashtext(e.id || r.rule)) % 10 = 0 THEN 'accepted' ELSE 'open' END,
       e.counted_ministry_id, e.counted_country,
       jsonb_build_array(jsonb_build_object('type', 'engagement', 'id', e.id)),
       e.counted_partners,
       jsonb_build_object('en', 'The meeting “' || e.title_en || '” ' || r.why,
                          'ar', 'النشاط «' || e.title_ar || '»'),
       jsonb_build_object('en', 'Fix it.', 'ar', 'أصلحه.'), '{}'::jsonb,
       jsonb_build_object('visibility', e.visibility, 'owner_ministry_id', e.counted_ministry_id,
                          'party_org_ids', to_jsonb(e.org_ids), 'countries',
                          to_jsonb(e.countries)),
       e.start + interval '8 days',
       CASE WHEN abs(hashtext(e.id || r.rule)) % 10 = 0 THEN jsonb_build_object(
         'by', 'bench', 'org_id', NULL, 'at', '2026-01-01T00:00:00+00:00',
         'justification', 'bench') END,
       1, e.start + interval '8 days', e.start + interval '8 days',
       'engagement', e.id, ARRAY[e.id], e.visibility, e.counted_ministry_id, e.org_ids,
       e.countries
FROM rm_engagements e
JOIN (VALUES ('C7', 'carries no SDG goal or national priority.'),
             ('C2', 'did not go through the coordinating body.')) AS r(rule, why)
  ON (r.rule = 'C7' AND e.priorities = '{}')
  OR (r.rule = 'C2' AND e.channel = 'direct' AND e.status = 'held')
WHERE e.status <> 'cancelled';

UPDATE rm_engagements e SET counted_rules = f.mask
FROM (SELECT anchor_id, sum(CASE rule WHEN 'C2' THEN 2 ELSE 64 END)::int AS mask
      FROM findings WHERE status = 'open' GROUP BY anchor_id) AS f
WHERE e.id = f.anchor_id;
"""

# The counters, as the consumer keeps them: one row per record counted, moved by difference.
COUNTERS_SQL = """
INSERT INTO scorecard_cells (country, ministry_id, month, records, flagged,
                             c1, c2, c3, c4, c5, c6, c7)
SELECT counted_country, counted_ministry_id, counted_month, count(*),
       count(*) FILTER (WHERE counted_rules <> 0),
       sum(counted_rules & 1), sum((counted_rules >> 1) & 1), sum((counted_rules >> 2) & 1),
       sum((counted_rules >> 3) & 1), sum((counted_rules >> 4) & 1),
       sum((counted_rules >> 5) & 1), sum((counted_rules >> 6) & 1)
FROM rm_engagements WHERE counted_ministry_id IS NOT NULL AND status <> 'cancelled'
GROUP BY 1, 2, 3;

INSERT INTO scorecard_totals (country, ministry_id, records, flagged,
                              c1, c2, c3, c4, c5, c6, c7)
SELECT country, ministry_id, sum(records), sum(flagged), sum(c1), sum(c2), sum(c3), sum(c4),
       sum(c5), sum(c6), sum(c7)
FROM scorecard_cells GROUP BY 1, 2;

INSERT INTO coverage_cells (country, ministry_id, partner_id, engagements, agreements,
                            last_contact)
SELECT counted_country, counted_ministry_id, p, count(*), 0, max(counted_contact)
FROM rm_engagements, unnest(counted_partners) AS p
WHERE counted_ministry_id IS NOT NULL AND status <> 'cancelled'
GROUP BY 1, 2, 3;
"""

# The same answers, straight from the replicas and findings (no counters).
PLAIN_SCORECARDS = """
SELECT e.counted_ministry_id AS ministry_id, count(*) AS records,
       count(*) FILTER (WHERE EXISTS (
         SELECT 1 FROM findings f WHERE f.anchor_id = e.id AND f.anchor_type = 'engagement'
           AND f.status IN ('open', 'acknowledged'))) AS flagged
FROM rm_engagements e
WHERE e.counted_country = 'QA' AND e.status IS DISTINCT FROM 'cancelled'
GROUP BY 1 ORDER BY 1 LIMIT 50
"""
PLAIN_FINDINGS = """
SELECT id FROM findings WHERE country = 'QA' AND status = 'open'
ORDER BY opened_at, id LIMIT 50
"""
PLAIN_COVERAGE = """
SELECT e.counted_ministry_id AS ministry_id, p AS partner_id, count(*) AS engagements,
       max(e.counted_contact) AS last_contact
FROM rm_engagements e, unnest(e.counted_partners) AS p
WHERE e.counted_country = 'QA' AND e.status IS DISTINCT FROM 'cancelled'
GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 50
"""

ICD = "00000000-0000-4000-8000-00000000c0de"


async def load(url: str, orgs: int, engagements: int) -> None:
    units = orgs - max(orgs // 3, 1)  # two thirds national, a third international partners
    conn = await asyncpg.connect(_plain(url))
    try:
        for statement in LOAD_SQL.split(";\n\n"):
            if "generate_series" in statement:
                await conn.execute(statement, orgs, units)
            elif statement.strip():
                await conn.execute(statement)
        await conn.execute(ENGAGEMENTS_SQL, engagements, units, orgs)
        for statement in FINDINGS_SQL.split(";\n\n"):
            if statement.strip():
                await conn.execute(statement)
        for statement in COUNTERS_SQL.split(";\n\n"):
            if statement.strip():
                await conn.execute(statement)
        # The caller's scope: the ICD, a coordinating body of Qatar.
        await conn.execute(
            "INSERT INTO organization_directory (id, parent_id, ministry_id, kind, scope, "
            "country, designations, status, version) VALUES ($1, $2, $2, 'directorate', "
            "'national', 'QA', '{coordinating_body}', 'active', 1)",
            ICD,
            _md5_uuid("org0"),
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def drive(base: str, token: str, path: str, concurrency: int, requests: int) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(requests))
    headers = {"Authorization": f"Bearer {token}"}

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in counter:
            started = time.perf_counter()
            response = await client.get(path, headers=headers)
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        for _ in range(5):
            (await client.get(path, headers=headers)).raise_for_status()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return latencies


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000

    p50 = statistics.median(ordered) * 1000
    return f"p50={p50:6.1f} ms p95={at(0.95):6.1f} ms p99={at(0.99):6.1f} ms"


async def plain(url: str, sql: str, runs: int = 5) -> tuple[list[Any], list[float]]:
    conn = await asyncpg.connect(_plain(url))
    try:
        timings, rows = [], []
        for _ in range(runs):
            started = time.perf_counter()
            rows = await conn.fetch(sql)
            timings.append(time.perf_counter() - started)
        return rows, timings
    finally:
        await conn.close()


async def reads(url: str, base: str, token: str, args: argparse.Namespace) -> None:
    print(
        f"\nreads as a coordinator of Qatar ({args.requests} requests, "
        f"concurrency {args.concurrency}); plain SQL: {5} runs in the same database"
    )
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        cards = (await client.get("/v1/scorecards", headers=headers)).json()["items"]
        page = (await client.get("/v1/findings?status=open", headers=headers)).json()["items"]
        cover = (await client.get("/v1/coverage", headers=headers)).json()["items"]
    checks = []
    rows, plain_cards = await plain(url, PLAIN_SCORECARDS)
    checks.append((
        "scorecards",
        [(c["ministry_id"], c["records"], c["records_with_findings"]) for c in cards],
        [(r["ministry_id"], r["records"], r["flagged"]) for r in rows],
        plain_cards,
        "/v1/scorecards",
    ))  # fmt: skip
    rows, plain_findings = await plain(url, PLAIN_FINDINGS)
    checks.append(("findings", [f["id"] for f in page], [r["id"] for r in rows], plain_findings,
                   "/v1/findings?status=open"))  # fmt: skip
    rows, plain_cover = await plain(url, PLAIN_COVERAGE)
    checks.append((
        "coverage",
        [(c["ministry_id"], c["partner_id"], c["engagements"]) for c in cover],
        [(r["ministry_id"], r["partner_id"], r["engagements"]) for r in rows],
        plain_cover,
        "/v1/coverage",
    ))  # fmt: skip
    for name, served, computed, timings, path in checks:
        one = await drive(base, token, path, 1, args.requests // 2)
        many = await drive(base, token, path, args.concurrency, args.requests)
        same = "same answer" if served == computed else "DIFFERENT ANSWER"
        print(f"  {name:<11} service, 1 client:  {percentiles(one)}")
        print(f"  {'':<11} service, {args.concurrency} clients: {percentiles(many)}")
        print(
            f"  {'':<11} plain SQL:          {percentiles(timings)}  ({same}, {len(served)} rows)"
        )


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux): what the service spent, whatever
    else the machine runs meanwhile."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def writes(url: str, prefix: str, bootstrap: str, args: argparse.Namespace, pid: int) -> None:
    print(f"\nwrite → finding visible: {args.rate} engagement events/s for {args.seconds} s")
    topic = f"{prefix}engagements.engagement.v1"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all",
                                linger_ms=0)  # fmt: skip
    await producer.start()
    conn = await asyncpg.connect(_plain(url))
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}  # the broker has it (acks=all)
    applied: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = asyncio.Event()
    rng = random.Random(3)
    units = args.orgs - max(args.orgs // 3, 1)

    def event(n: int) -> tuple[str, bytes, list[tuple[str, bytes]]]:
        """An engagement the service must judge: an international partner, no theme (C7)."""
        engagement = str(uuid.uuid4())
        lead = _md5_uuid(f"org{rng.randrange(200, units)}")
        partner = _md5_uuid(f"org{rng.randrange(args.orgs - 100, args.orgs)}")
        start = datetime.now(UTC) - timedelta(days=rng.randrange(1, 300))
        state = {
            "id": engagement, "version": 1, "kind": "meeting",
            "title": {"en": f"Bench {n}", "ar": f"نشاط {n}"}, "start": start.isoformat(),
            "end": (start + timedelta(hours=2)).isoformat(), "lead_org_id": lead,
            "participants": [{"org_id": lead, "role": "host"},
                             {"org_id": partner, "role": "participant"}],
            "attendees": {"total": 5, "nationals": 3, "nationals_trained": 0},
            "agreement_ids": [], "related_engagement_ids": [],
            "themes": {"sdgs": [], "sectors": [], "priorities": []},
            "channel": "via_coordinating_body", "coordinating_body_notified_at": None,
            "status": "held", "visibility": "interagency", "report_due_on": None,
            "report": None, "action_items": [], "source": "manual", "external_id": None,
            "created_at": start.isoformat(), "updated_at": start.isoformat(),
        }  # fmt: skip
        headers = [
            ("ce_specversion", b"1.0"), ("ce_id", str(uuid.uuid4()).encode()),
            ("ce_source", b"/tansiq/engagements"),
            ("ce_type", b"tansiq.engagements.engagement.created.v1"),
            ("ce_time", datetime.now(UTC).isoformat().encode()),
            ("ce_subject", engagement.encode()), ("content-type", b"application/json"),
        ]  # fmt: skip
        return engagement, json.dumps(state).encode(), headers

    # The consumer joins its group as the service starts (the broker waits a few seconds for
    # more members): an event sent before that waits for it, which is no part of the write
    # path. One event, and its finding, before the clock starts.
    engagement, value, headers = event(-1)
    await producer.send_and_wait(topic, value, key=engagement.encode(), headers=headers)
    ready = time.perf_counter()
    while not await conn.fetchval(
        "SELECT 1 FROM findings WHERE anchor_id = $1 AND rule = 'C7'", engagement
    ):
        if time.perf_counter() - ready > 180:
            raise RuntimeError("the service never judged the warm-up event")
        await asyncio.sleep(0.05)
    print(f"  consumer ready: the warm-up event judged after {time.perf_counter() - ready:.1f} s")

    async def poll() -> None:
        """Asks, for the events sent and not yet seen, whether the replica holds the
        engagement and whether its C7 finding exists (by id: both indexed, and independent of
        the time the evaluator stamps on a finding)."""
        while True:
            replica = [e for e in sent if e not in applied]
            pending = [e for e in sent if e not in seen]
            if replica:
                rows = await conn.fetch(
                    "SELECT id FROM rm_engagements WHERE id = ANY($1::text[])", replica
                )
                now = time.perf_counter()
                for row in rows:
                    applied[row["id"]] = now
            if pending:
                rows = await conn.fetch(
                    "SELECT anchor_id FROM findings WHERE anchor_id = ANY($1::text[]) "
                    "AND anchor_type = 'engagement' AND rule = 'C7'",
                    pending,
                )  # fmt: skip
                now = time.perf_counter()
                for row in rows:
                    seen.setdefault(row["anchor_id"], now)
            if stop.is_set() and (len(seen) == len(sent) or time.perf_counter() > deadline):
                break
            await asyncio.sleep(0.01)

    deadline = float("inf")
    cpu_before = cpu_seconds(pid)
    poller = asyncio.create_task(poll())
    started = time.perf_counter()
    total = int(args.rate * args.seconds)
    for n in range(total):
        due = started + n / args.rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        engagement, value, headers = event(n)
        sent[engagement] = time.perf_counter()
        delivery = await producer.send(topic, value, key=engagement.encode(), headers=headers)
        delivery.add_done_callback(lambda _, e=engagement: acked.setdefault(e, time.perf_counter()))
    await producer.flush()
    elapsed = time.perf_counter() - started
    deadline = time.perf_counter() + 60
    stop.set()
    await poller
    cpu = cpu_seconds(pid) - cpu_before
    await producer.stop()
    await conn.close()
    latencies = [seen[e] - t for e, t in sent.items() if e in seen]
    in_replica = [applied[e] - t for e, t in sent.items() if e in applied]
    print(
        f"  sent {total} events in {elapsed:.1f} s ({total / elapsed:.0f}/s); "
        f"findings seen for {len(latencies)}"
    )
    print(f"  service CPU: {cpu:.1f} s, {cpu / total * 1000:.2f} ms per event")
    if latencies:
        by_broker = [acked[e] - t for e, t in sent.items() if e in acked]
        print(f"  write → acknowledged:     {percentiles(by_broker)}")
        print(f"  write → in the replica:   {percentiles(in_replica)}")
        print(f"  write → finding visible: {percentiles(latencies)}")


def _md5_uuid(text: str) -> str:
    """What PostgreSQL's md5(text)::uuid gives."""
    return str(uuid.UUID(hex=hashlib.md5(text.encode()).hexdigest()))  # noqa: S324 - ids


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engagements", type=int, default=1_000_000)
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument(
        "--only", choices=["reads", "writes"], help="run one scenario (the load is the same)"
    )
    args = parser.parse_args()
    admin_url = os.environ["TANSIQ_PG_ADMIN_URL"]
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    name = f"bench_reporting_{uuid.uuid4().hex[:6]}"
    prefix = f"bench.{uuid.uuid4().hex[:6]}."
    url = await databases.create_database(admin_url, name, MIGRATIONS_DIR)
    service = None
    try:
        started = time.perf_counter()
        await load(url, args.orgs, args.engagements)
        counts = await plain(url, "SELECT (SELECT count(*) FROM rm_engagements) AS e, "
                                  "(SELECT count(*) FROM rm_organizations) AS o, "
                                  "(SELECT count(*) FROM findings) AS f", runs=1)  # fmt: skip
        row = counts[0][0]
        print(f"loaded {row['o']:,} organizations, {row['e']:,} engagements, {row['f']:,} "
              f"findings in {time.perf_counter() - started:.0f} s")  # fmt: skip
        await ensure_topics(bootstrap, prefix)
        key = SigningKey.generate("RS256")
        folder = Path(tempfile.mkdtemp())
        (folder / "jwks.json").write_text(json.dumps(jwks_document([key])))
        token = key.sign(token_claims(org=ICD, roles=["coordinator"], sub="bench"))
        env = {
            "REPORTING_DATABASE_URL": url,
            "AUTH_JWKS_FILE": str(folder / "jwks.json"),
            "REPORTING_RUN_RELAY": "false",
            "TOPIC_PREFIX": prefix,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        }
        service = processes.start_service("reporting", env, folder, ready_timeout=60)
        if args.only != "writes":
            await reads(url, service.base_url, token, args)
        if args.only != "reads":
            await writes(url, prefix, bootstrap, args, service.process.pid)
    finally:
        if service is not None:
            service.stop()
            if os.environ.get("BENCH_LOG_LEVEL"):
                print(service.log()[-20000:])
        await databases.drop_database(admin_url, name)
        try:
            await delete_topics(bootstrap, prefix)
        except Exception as exc:
            print(f"could not delete the bench topics: {exc!r}")


if __name__ == "__main__":
    asyncio.run(main())
