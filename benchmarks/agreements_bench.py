# ruff: noqa: S311, S603, S608 - a benchmark's randomness; our own processes; our own SQL
"""Agreements benchmark (not a test): GET by id, a filtered list page, create and a transition
(sign), each against the agreements service and against a raw Starlette + asyncpg app doing the
same SQL work, in the same run, with wrk as the load generator (as benchmarks/bench.py does for
the registry).

    eval "$(bash ops/local/stack.sh env)"
    .venv/bin/python benchmarks/agreements_bench.py [--agreements 20000] [--seconds 8]
        [--connections 32]

Builds a scratch agreements database (dropped at the end): the organization replica (a ministry,
the directorate that owns the agreements, partners, another ministry), `--agreements` in-force
agreements (a quarter of them restricted to the other ministry, so the visibility rule has
something to hide) and pools of drafts for the transition scenario, one per side, consumed in
order. The raw app (`raw` in this module) runs the same statements: the visibility rule in the
WHERE clause of reads; for a create, the replica lookup of owner and parties and the agreement,
history, outbox and audit rows in one transaction; for a sign, the row locked, the status
checked, the same four rows written. It does no authentication and no validation beyond that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

HERE = Path(__file__).resolve().parent

# --- the raw baseline (run by uvicorn as `agreements_bench:raw`) -----------------------------

COLUMNS = (
    "id, kind, title, summary, owner_org_id, owner_ministry_id, owner_country, parties, themes, "
    "signed_on, effective_from, expires_on, funding, milestones, visibility, status, clearance, "
    "cleared, signed_uncleared, supersedes, superseded_by, termination, countries, source_key, "
    "version, created_at, updated_at"
)
JSON_COLUMNS = frozenset(
    {"title", "summary", "parties", "themes", "funding", "milestones", "clearance", "termination"}
)
# The visibility rule for a caller of ministry $2 and organization $3 (tansiq_common.auth).
VISIBLE = "(visibility = 'interagency' OR owner_ministry_id = $2 OR party_org_ids @> ARRAY[$3])"
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
        agreement_id = uuid.UUID(request.path_params["agreement_id"])
    except ValueError:
        return _json({"detail": "not found"}, 404)
    row = await pool.fetchrow(
        f"SELECT {COLUMNS} FROM agreements WHERE id = $1 AND {VISIBLE}", agreement_id, *_caller()
    )
    return _json(_state(row)) if row else _json({"detail": "not found"}, 404)


async def raw_list(request: Request) -> Response:
    assert pool is not None
    limit = int(request.query_params.get("limit", "50"))
    rows = await pool.fetch(
        f"SELECT {COLUMNS} FROM agreements WHERE status = $1 AND {VISIBLE} "
        "ORDER BY created_at, id LIMIT $4",
        request.query_params.get("status", "in_force"),
        *_caller(),
        limit + 1,
    )
    return _json({"items": [_state(r) for r in rows[:limit]], "next_cursor": None})


async def _side_effects(conn: asyncpg.Connection, state: dict[str, Any], event: str) -> None:
    await conn.execute(
        "INSERT INTO agreement_history (agreement_id, version, event, changed_fields, details, "
        "actor_sub, actor_org, request_id, at) "
        "VALUES ($1, $2, $3, '{status}', '{}', 'bench', NULL, NULL, $4)",
        uuid.UUID(state["id"]),
        state["version"],
        event,
        datetime.now(UTC),
    )
    await conn.execute(
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, topic, headers) "
        "VALUES ($1, 'agreement', $2, $3, $4, 'agreements.agreement.v1', '{}')",
        uuid.uuid4(),
        state["id"],
        f"tansiq.agreements.agreement.{event}.v1",
        json.dumps(state),
    )
    await conn.execute(
        "INSERT INTO audit_log (actor_sub, actor_org, actor_roles, action, entity_type, "
        "entity_id, request_id, changed_fields) "
        "VALUES ('bench', NULL, '{editor}', $1, 'agreement', $2, NULL, '[\"status\"]')",
        f"agreement.{event}",
        state["id"],
    )
    await conn.execute("NOTIFY tansiq_outbox")


async def raw_create(request: Request) -> Response:
    assert pool is not None
    body = await request.json()
    party_ids = [p["org_id"] for p in body["parties"]]
    async with pool.acquire() as conn, conn.transaction():
        orgs = await conn.fetch(
            "SELECT id, kind, scope, country, ministry_id, status FROM organization_directory "
            "WHERE id = ANY($1)",
            [body["owner_org_id"], *party_ids],
        )
        by_id = {r["id"]: r for r in orgs}
        owner = by_id.get(body["owner_org_id"])
        if owner is None or any(p not in by_id for p in party_ids):
            return _json({"detail": "unknown organization"}, 422)
        now = datetime.now(UTC)
        row = await conn.fetchrow(
            "INSERT INTO agreements (id, kind, title, summary, owner_org_id, owner_ministry_id, "
            "owner_country, parties, themes, effective_from, expires_on, funding, milestones, "
            "visibility, status, cleared, signed_uncleared, countries, party_org_ids, "
            "search_text, version, created_at, updated_at) VALUES ($1, $2, $3, "
            "'{\"ar\": null, \"en\": null}', $4, $5, $6, $7, $8, $9, $10, $11, '[]', $12, "
            f"'draft', false, false, $13, $14, $15, 1, $16, $16) RETURNING {COLUMNS}",
            uuid.uuid4(),
            body["kind"],
            json.dumps(body["title"]),
            owner["id"],
            owner["ministry_id"] or owner["id"],
            owner["country"],
            json.dumps(body["parties"]),
            json.dumps(body["themes"]),
            date.fromisoformat(body["effective_from"]),
            date.fromisoformat(body["expires_on"]),
            json.dumps(body["funding"]),
            body["visibility"],
            sorted({r["country"] for r in orgs if r["country"]}),
            [owner["id"], *party_ids],
            " ".join(filter(None, body["title"].values())).casefold(),
            now,
        )
        state = _state(row)
        await _side_effects(conn, state, "created")
    return _json(state, 201)


async def raw_sign(request: Request) -> Response:
    assert pool is not None
    body = await request.json()
    agreement_id = uuid.UUID(request.path_params["agreement_id"])
    async with pool.acquire() as conn, conn.transaction():
        current = await conn.fetchrow(
            f"SELECT status, version FROM agreements WHERE id = $1 AND {VISIBLE} FOR UPDATE",
            agreement_id,
            *_caller(),
        )
        if current is None:
            return _json({"detail": "not found"}, 404)
        if current["status"] not in ("draft", "returned", "submitted", "cleared"):
            return _json({"detail": "illegal transition"}, 409)
        row = await conn.fetchrow(
            "UPDATE agreements SET status = 'signed', signed_on = $2, signed_uncleared = $3, "
            "version = version + 1, updated_at = $4 WHERE id = $1 AND version = $5 "
            f"RETURNING {COLUMNS}",
            agreement_id,
            date.fromisoformat(body["signed_on"]),
            current["status"] != "cleared",
            datetime.now(UTC),
            current["version"],
        )
        state = _state(row)
        await _side_effects(conn, state, "signed")
    return _json(state)


@asynccontextmanager
async def _lifespan(_: Starlette) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(os.environ["RAW_DATABASE_URL"], min_size=4, max_size=10)
    yield
    await pool.close()


raw = Starlette(
    routes=[
        Route("/v1/agreements/{agreement_id}", raw_get, methods=["GET"]),
        Route("/v1/agreements/{agreement_id}/actions/sign", raw_sign, methods=["POST"]),
        Route("/v1/agreements", raw_list, methods=["GET"]),
        Route("/v1/agreements", raw_create, methods=["POST"]),
    ],
    lifespan=_lifespan,
)


# --- the driver ---------------------------------------------------------------------------------


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def load(url: str, agreements: int, drafts: int) -> dict[str, Any]:
    """The replica, two template agreements made through the service's own code, and their
    copies; returns the organization ids and the agreement ids by use."""
    from tansiq_agreements.agreements.organizations import organization_lookup
    from tansiq_agreements.agreements.service import AgreementService
    from tansiq_common.db import Database
    from tansiq_common.uow import SystemActor, UnitOfWork

    ministry, owner, other = (str(uuid.uuid4()) for _ in range(3))
    partners = [str(uuid.uuid4()) for _ in range(300)]
    conn = await asyncpg.connect(_plain(url))
    try:
        await conn.executemany(
            "INSERT INTO organization_directory (id, parent_id, ministry_id, kind, scope, "
            "country, designations, status, version) VALUES ($1, $2, $3, $4, $5, $6, '{}', "
            "'active', 1)",
            [
                (ministry, None, ministry, "ministry", "national", "QA"),
                (owner, ministry, ministry, "directorate", "national", "QA"),
                (other, None, other, "ministry", "national", "QA"),
                *[(p, None, None, "un_entity", "international", None) for p in partners],
            ],
        )
    finally:
        await conn.close()
    db = Database(url, pool_size=2, max_overflow=0)
    lookup = organization_lookup("http://127.0.0.1:9", timeout_s=1)
    actor = SystemActor(sub="bench-loader")
    try:
        service = AgreementService(UnitOfWork(db.sessionmaker, actor=actor), lookup)
        template = await service.create(body(owner, partners[0]))
        await service.sign(template.id, None, signed_on=date(2024, 1, 10))
        await service.enter_into_force(template.id, None)
        draft = await service.create(body(owner, partners[1]))
    finally:
        await db.dispose()
    conn = await asyncpg.connect(_plain(url))
    try:
        # Copies: new ids and creation times; a quarter restricted to the other ministry.
        await conn.execute(
            """
            INSERT INTO agreements
            SELECT (jsonb_populate_record(a, jsonb_build_object(
                'id', gen_random_uuid(),
                'created_at', now() - make_interval(secs => n),
                'parties', jsonb_build_array(
                    jsonb_build_object('org_id', $4::text, 'role', 'signatory'),
                    jsonb_build_object('org_id', ($3::text[])[1 + n % 300], 'role', 'signatory')),
                'party_org_ids', ARRAY[
                    CASE WHEN n % 4 = 0 THEN $5::text ELSE $4::text END, ($3::text[])[1 + n % 300]],
                'visibility', CASE WHEN n % 4 = 0 THEN 'restricted' ELSE 'interagency' END,
                'owner_org_id', CASE WHEN n % 4 = 0 THEN $5::text ELSE $4::text END,
                'owner_ministry_id', CASE WHEN n % 4 = 0 THEN $5::text ELSE $6::text END))).*
            FROM agreements a, generate_series(1, $2) AS n WHERE a.id = $1
            """,
            uuid.UUID(template.id),
            agreements,
            partners,
            owner,
            other,
            ministry,
        )
        await conn.execute(
            """
            INSERT INTO agreements
            SELECT (jsonb_populate_record(a, jsonb_build_object('id', gen_random_uuid()))).*
            FROM agreements a, generate_series(1, $2) WHERE a.id = $1
            """,
            uuid.UUID(draft.id),
            drafts,
        )
        await conn.execute("ANALYZE")
        visible = await conn.fetch(
            "SELECT id::text FROM agreements WHERE status = 'in_force' "
            "AND visibility = 'interagency' LIMIT 2000"
        )
        draft_ids = await conn.fetch("SELECT id::text FROM agreements WHERE status = 'draft'")
    finally:
        await conn.close()
    return {
        "ministry": ministry,
        "owner": owner,
        "partners": partners,
        "visible": [r["id"] for r in visible],
        "drafts": [r["id"] for r in draft_ids],
    }


def body(owner: str, partner: str) -> dict[str, Any]:
    return {
        "kind": "cooperation_agreement",
        "title": {"ar": "اتفاقية تعاون", "en": "Cooperation agreement on inclusive education"},
        "owner_org_id": owner,
        "parties": [
            {"org_id": owner, "role": "signatory"},
            {"org_id": partner, "role": "signatory"},
        ],
        "themes": {"sdgs": [4, 5], "sectors": ["education"], "priorities": []},
        "effective_from": "2024-01-01",
        "expires_on": "2027-12-31",
        "funding": [{"funder_org_id": partner, "amount": "250000.00", "currency": "USD"}],
        "visibility": "interagency",
    }


def sequential_lua(folder: Path, name: str, token: str, paths: list[str], payload: str) -> Path:
    """A wrk script POSTing `payload` to each of `paths` in turn (each draft is signed once)."""
    script = folder / f"{name}.lua"
    listed = "\n".join(f"paths[{i + 1}] = {json.dumps(p)}" for i, p in enumerate(paths))
    script.write_text(
        f"""
wrk.method = "POST"
wrk.body = {json.dumps(payload)}
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
paths = {{}}
{listed}
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, paths[((i - 1) % #paths) + 1])
end
"""
    )
    return script


def start_raw(url: str, folder: Path, ministry: str, owner: str) -> subprocess.Popen[bytes]:
    import httpx
    from tansiq_common.testing import processes

    port = processes.free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "agreements_bench:raw", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--log-level", "warning"],
        cwd=HERE,
        env={**os.environ, "RAW_DATABASE_URL": _plain(url), "RAW_MINISTRY": ministry,
             "RAW_ORG": owner},
        stdout=(folder / "raw.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    process.port = port  # type: ignore[attr-defined]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/agreements?limit=1", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the raw app did not start")


async def main() -> None:
    sys.path.insert(0, str(HERE))
    from bench import hey_at_rate, lua, row, wrk
    from tansiq_agreements import MIGRATIONS_DIR
    from tansiq_common.auth.devkeys import SigningKey, jwks_document, token_claims
    from tansiq_common.testing import databases, processes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agreements", type=int, default=20_000)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--drafts", type=int, default=0, help="drafts per side to sign (default: enough)"
    )
    args = parser.parse_args()
    for tool in ("wrk", "hey"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing (apt-get install {tool})")
    # Enough drafts that no sign in the run meets an agreement signed already.
    drafts = args.drafts or 6000 * args.seconds
    admin_url = os.environ["TANSIQ_PG_ADMIN_URL"]
    name = f"bench_agreements_{uuid.uuid4().hex[:6]}"
    url = await databases.create_database(admin_url, name, MIGRATIONS_DIR)
    folder = Path(tempfile.mkdtemp(prefix="tansiq-agreements-bench-"))
    service = raw_process = None
    results: dict[str, Any] = {}
    try:
        started = time.perf_counter()
        data = await load(url, args.agreements, 2 * drafts)
        print(
            f"loaded {args.agreements:,} agreements and {2 * drafts:,} drafts in "
            f"{time.perf_counter() - started:.1f} s"
        )
        key = SigningKey.generate("RS256")
        (folder / "jwks.json").write_text(json.dumps(jwks_document([key])))
        token = key.sign(token_claims(org=data["owner"], roles=["editor", "viewer"], sub="bench"))
        service = processes.start_service(
            "agreements",
            {
                "AGREEMENTS_DATABASE_URL": url,
                "AUTH_JWKS_FILE": str(folder / "jwks.json"),
                "AGREEMENTS_RUN_RELAY": "false",
                "AGREEMENTS_RUN_CONSUMERS": "false",
                "AGREEMENTS_RUN_EXPIRY": "false",
                "REGISTRY_BASE_URL": "http://127.0.0.1:9",  # the replica has every organization
                "LOG_LEVEL": "WARNING",
            },
            folder,
        )
        raw_process = start_raw(url, folder, data["ministry"], data["owner"])
        raw_base = f"http://127.0.0.1:{raw_process.port}"  # type: ignore[attr-defined]
        ours_pid = service.process.pid
        rng = random.Random(1)
        sample = [rng.choice(data["visible"]) for _ in range(2000)]
        create_body = json.dumps(body(data["owner"], data["partners"][7]))
        scenarios = [
            ("GET by id", "GET", [f"/v1/agreements/{i}" for i in sample], ""),
            ("list page of 50, filtered", "GET", ["/v1/agreements?status=in_force&limit=50"], ""),
            ("create", "POST", ["/v1/agreements"], create_body),
        ]
        print(
            f"\nwrk -t1 -c{args.connections} -d{args.seconds}s, loopback, one uvicorn worker "
            f"each, {args.agreements:,} agreements; CPU: user + system time of the server "
            "process per request (ratio raw/Tansiq)\n"
        )
        print("| scenario                   | Tansiq/s |    raw/s | ratio | Tansiq p50 / p99 ms "
              "| raw p50 / p99 ms | Tansiq CPU us | raw CPU us | CPU ratio |")  # fmt: skip
        print("| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |")
        for label, method, paths, payload in scenarios:
            script = lua(folder, label.split()[0], token, method, paths, payload)
            ours = wrk(service.base_url, script, args.seconds, args.connections, ours_pid)
            theirs = wrk(raw_base, script, args.seconds, args.connections, raw_process.pid)
            results[label] = ours
            print(row(label, ours, theirs), flush=True)
        sign_body = json.dumps({"signed_on": "2024-01-10"})
        ours_drafts, raw_drafts = data["drafts"][:drafts], data["drafts"][drafts:]
        ours = wrk(
            service.base_url,
            sequential_lua(folder, "sign-ours", token, [
                f"/v1/agreements/{i}/actions/sign" for i in ours_drafts], sign_body),
            args.seconds, args.connections, ours_pid,
        )  # fmt: skip
        theirs = wrk(
            raw_base,
            sequential_lua(folder, "sign-raw", token, [
                f"/v1/agreements/{i}/actions/sign" for i in raw_drafts], sign_body),
            args.seconds, args.connections, raw_process.pid,
        )  # fmt: skip
        print(row("sign (a transition)", ours, theirs), flush=True)
        half = results["GET by id"].rps / 2
        path = f"/v1/agreements/{sample[0]}"
        ours_p = hey_at_rate(service.base_url + path, token, half, args.seconds)
        raw_p = hey_at_rate(raw_base + path, token, half, args.seconds)
        print(
            f"\nGET by id at a fixed {half:,.0f} req/s (half of Tansiq's peak; hey -c 8 -q): "
            f"Tansiq p50 {ours_p[0]:.1f} ms p99 {ours_p[1]:.1f} ms; "
            f"raw p50 {raw_p[0]:.1f} ms p99 {raw_p[1]:.1f} ms; "
            f"p99 ratio {ours_p[1] / raw_p[1] if raw_p[1] else 0:.2f}"
        )
    finally:
        if service is not None:
            service.stop()
            if any(r.rps == 0 or r.non_2xx for r in results.values()):
                print("\nthe service's log ends with:\n" + service.log()[-3000:])
        if raw_process is not None:
            raw_process.terminate()
            raw_process.wait(10)
        await databases.drop_database(admin_url, name)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
