# ruff: noqa: S311 - a benchmark's randomness is not security
"""Registry benchmark (not a test): GET by id and `q` search with 100,000 organizations.

    eval "$(bash ops/local/stack.sh env)"
    .venv/bin/python benchmarks/registry_bench.py [--orgs 100000] [--concurrency 32]
        [--requests 4000] [--max-seconds 30]
    .venv/bin/python benchmarks/registry_bench.py --explain [--orgs 100000]

Loads the organizations with COPY into a scratch database (created and dropped here), runs the
registry under uvicorn on loopback (one worker, relay off), and drives it with httpx from
`--concurrency` concurrent clients; each scenario stops at `--requests` requests or
`--max-seconds`, whichever comes first. Prints throughput and p50/p99 latency.

`--explain` loads the same data and, instead of the load test, prints EXPLAIN (ANALYZE, BUFFERS)
key lines for the exact statement the list endpoint issues for `q` (default limit 50, its ORDER BY
and keyset condition), per query shape: the custom plan the service runs (it forces custom plans
for searches) and, for contrast, the generic plan a reused prepared statement could fall back to.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url
from tansiq_common.auth.devkeys import SigningKey, jwks_document, token_claims
from tansiq_common.pagination import DEFAULT_LIMIT, encode_cursor
from tansiq_common.search import search_text
from tansiq_common.testing import databases, processes
from tansiq_registry import MIGRATIONS_DIR
from tansiq_registry.organizations import queries

AR_WORDS = [
    "وزارة",
    "إدارة",
    "مركز",
    "مؤسسة",
    "هيئة",
    "التعاون",
    "الدولي",
    "التنمية",
    "الصحة",
    "التعليم",
    "البيئة",
    "الأسرة",
    "الاجتماعية",
    "الطاقة",
    "النقل",
    "العدل",
    "الثقافة",
]
EN_WORDS = ["Ministry", "Department", "Centre", "Foundation", "Authority", "Cooperation",
            "International", "Development", "Health", "Education", "Environment", "Family",
            "Social", "Energy", "Transport", "Justice", "Culture"]  # fmt: skip
KINDS = ["ministry", "directorate", "agency", "centre", "un_entity", "ngo", "academic"]


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def load(url: str, count: int) -> list[str]:
    rng = random.Random(7)
    now = datetime.now(UTC)
    ids, records = [], []
    for i in range(count):
        words = rng.sample(range(len(AR_WORDS)), 3)
        ar = " ".join(AR_WORDS[w] for w in words) + f" {i}"
        en = " ".join(EN_WORDS[w] for w in words) + f" {i}"
        acronym = "".join(EN_WORDS[w][0] for w in words) + str(i)
        kind = KINDS[i % len(KINDS)]
        national = kind in ("ministry", "directorate", "agency", "centre")
        org_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        ids.append(org_id)
        records.append((
            uuid.UUID(org_id), kind, ar, en, acronym, "QA" if national else None,
            "national" if national else "international", 10 if national else 40, "active",
            f"bench:{i}", search_text(ar, en, acronym, None, f"bench:{i}"), 1,
            now + timedelta(microseconds=i), now + timedelta(microseconds=i),
        ))  # fmt: skip
    conn = await asyncpg.connect(_plain(url))
    try:
        await conn.copy_records_to_table(
            "organizations",
            records=records,
            columns=["id", "kind", "name_ar", "name_en", "acronym", "country", "scope",
                     "iati_org_type", "status", "source_key", "search_text", "version",
                     "created_at", "updated_at"],
        )  # fmt: skip
        await conn.execute("ANALYZE organizations")
    finally:
        await conn.close()
    return ids


# Plan lines worth reading: the nodes, their conditions, what they threw away, and the timings.
_KEY_LINE = re.compile(
    r"(Limit|Sort|Scan|Index Cond|Recheck Cond|Filter|Rows Removed|Heap Blocks|Buffers"
    r"|Planning|Execution Time)"
)
_COST = re.compile(r"\(cost=[^)]*\) ")


def _literal(value: object) -> str:
    if isinstance(value, int):
        return str(value)
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text.replace("'", "''") + "'"


def _print_plan(title: str, rows: list[asyncpg.Record]) -> None:
    print(f"  {title}")
    for row in rows:
        line = row[0]
        if _KEY_LINE.search(line):
            print("    " + _COST.sub("", line).rstrip())


async def explain(url: str) -> None:
    conn = await asyncpg.connect(_plain(url))
    try:
        acronym = await conn.fetchval(
            "SELECT acronym FROM organizations WHERE source_key = 'bench:4242'"
        )
        common = await conn.fetchrow(
            "SELECT created_at, id FROM organizations WHERE search_text LIKE '%وزاره%' "
            "ORDER BY created_at, id OFFSET 49 LIMIT 1"
        )
        page_two = encode_cursor([common["created_at"], str(common["id"])])
        shapes: list[tuple[str, str, str | None]] = [
            ("one Arabic word (common)", "وزارة", None),
            ("two Arabic words", "التعاون الدولي", None),
            ("English acronym (one org)", acronym, None),
            ("rare term (one org)", "98765", None),
            ("no match", "zqxj", None),
            ("common English term", "ministry", None),
            ("common term, page 2 (cursor)", "وزارة", page_two),
        ]
        for label, q, cursor in shapes:
            f = queries.OrganizationFilter(q=q)
            sql, params = queries.list_query(f, limit=DEFAULT_LIMIT, cursor=cursor)
            print(f"\n=== {label}: q={q!r}" + (" with cursor" if cursor else ""))
            await conn.execute("SET plan_cache_mode = force_custom_plan")
            plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *params)
            _print_plan("custom plan (what the service runs):", plan)
            await conn.execute("SET plan_cache_mode = force_generic_plan")
            await conn.execute(f"PREPARE bench_q AS {sql}")
            args = ", ".join(_literal(p) for p in params)
            plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_q({args})")
            _print_plan("generic plan (a reused prepared statement, without the fix):", plan)
            await conn.execute("DEALLOCATE bench_q")
            await conn.execute("RESET plan_cache_mode")
    finally:
        await conn.close()


async def drive(base: str, token: str, paths: list[str], concurrency: int, requests: int,
                max_seconds: float) -> tuple[list[float], int, float]:  # fmt: skip
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + max_seconds
    counter = iter(range(requests))
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient, rng: random.Random) -> None:
        nonlocal errors
        for _ in counter:
            if time.perf_counter() > deadline:
                return
            started = time.perf_counter()
            response = await client.get(rng.choice(paths), headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors += 1

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        for path in paths[:3]:  # warm up
            await client.get(path, headers=headers)
        started = time.perf_counter()
        await asyncio.gather(*(worker(client, random.Random(n)) for n in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def report(name: str, latencies: list[float], errors: int, elapsed: float, c: int) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(
        f"{name:<12} concurrency={c} requests={len(ordered)} errors={errors} "
        f"throughput={len(ordered) / elapsed:,.0f} req/s p50={p50:.1f} ms p99={p99:.1f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--max-seconds", type=float, default=30)
    parser.add_argument("--explain", action="store_true", help="print search plans, no load test")
    args = parser.parse_args()
    admin_url = os.environ["TANSIQ_PG_ADMIN_URL"]
    name = f"bench_registry_{uuid.uuid4().hex[:6]}"
    url = await databases.create_database(admin_url, name, MIGRATIONS_DIR)
    service = None
    try:
        started = time.perf_counter()
        ids = await load(url, args.orgs)
        print(f"loaded {len(ids):,} organizations in {time.perf_counter() - started:.1f} s")
        if args.explain:
            await explain(url)
            return
        key = SigningKey.generate("RS256")
        folder = Path(tempfile.mkdtemp())
        (folder / "jwks.json").write_text(json.dumps(jwks_document([key])))
        token = key.sign(token_claims(org=str(uuid.uuid4()), roles=["viewer"], sub="bench"))
        env = {
            "REGISTRY_DATABASE_URL": url,
            "AUTH_JWKS_FILE": str(folder / "jwks.json"),
            "REGISTRY_RUN_RELAY": "false",
            "REGISTRY_RUN_CONSUMERS": "false",
            "LOG_LEVEL": "WARNING",
        }
        service = processes.start_service("registry", env, folder)
        rng = random.Random(1)
        by_id = [f"/v1/organizations/{rng.choice(ids)}" for _ in range(2000)]
        queries = ["التعاون الدولي", "الاسره", "Health", "cooperation develop", "مركز الصحه",
                   "energy", "وزاره العدل", "culture 123"]  # fmt: skip
        search = [f"/v1/organizations?q={q}&limit=20" for q in queries]
        for label, paths in (("GET by id", by_id), ("q search", search)):
            latencies, errors, elapsed = await drive(
                service.base_url, token, paths, args.concurrency, args.requests, args.max_seconds
            )
            report(label, latencies, errors, elapsed, args.concurrency)
    finally:
        if service is not None:
            service.stop()
        await databases.drop_database(admin_url, name)


if __name__ == "__main__":
    asyncio.run(main())
