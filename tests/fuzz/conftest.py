"""The API fuzzer's world: each service's app, started in-process on a database of its own that
holds the demo data; callers of every role; real identifiers for the parameters that name one.

Each case is sent by one of the callers, and generation hooks (schemathesis) put real record ids
in half of the identifier parameters, so that the fuzzer gets past 401, 403 and 404 into the code
that reads and writes records. A failure of a class listed in known_gaps.py is counted, not failed
(unless TANSIQ_FUZZ_STRICT=1); the closing summary has one line per service.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import threading
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from schemathesis.python import asgi
from tansiq_common.db import Database
from tansiq_common.testing import databases
from tansiq_common.testing.processes import free_port

from .known_gaps import known_gap

T = TypeVar("T")

SERVICES = ("registry", "agreements", "engagements", "reporting")
STRICT = os.environ.get("TANSIQ_FUZZ_STRICT") == "1"

# Who calls: (demo organization's source key, roles); None = an organization nobody knows.
CALLERS: list[tuple[str | None, list[str]]] = [
    ("demo:qa-mofa-icd", ["registry_admin"]),
    ("demo:qa-mofa-icd", ["coordinator"]),
    ("demo:qa-mofa-icd", ["auditor"]),
    ("demo:sy-mofae", ["coordinator", "editor"]),
    ("demo:qa-msdf", ["editor"]),
    ("demo:qa-qfsw-wifaq", ["viewer"]),
    ("demo:qa-msdf", ["integration"]),
    (None, ["editor", "viewer"]),
]


def settings_for(service: str, **values: Any) -> Any:
    module = importlib.import_module(f"tansiq_{service}.settings")
    cls = getattr(module, f"{service.capitalize()}Settings")
    return cls(environment="test", run_relay=False, run_consumers=False, **values)


def create_app(service: str, settings: Any) -> FastAPI:
    app = importlib.import_module(f"tansiq_{service}.app").create_app(settings)
    assert isinstance(app, FastAPI)
    return app


def openapi_document(service: str) -> dict[str, Any]:
    """The service's OpenAPI, from an app that is built but never started (no database)."""
    logging.disable(logging.WARNING)  # "no JWKS configured": this app answers no request
    try:
        settings = settings_for(service, database_url="postgresql+asyncpg://fuzz@127.0.0.1:9/x")
        return create_app(service, settings).openapi()
    finally:
        logging.disable(logging.NOTSET)


# --- the world: databases, demo data, callers -------------------------------------------------


@dataclass
class Target:
    """One service under fuzzing: a client of its running app and the ids it knows."""

    service: str
    client: asgi.ASGIClient
    ids: list[str]

    def learn(self, body: Any) -> None:
        """Remember the identifiers a response names, so that later cases reach those records."""
        found: list[Any] = []
        if isinstance(body, dict):
            found.append(body.get("id"))
            items = body.get("items")
            if isinstance(items, list):
                found += [item.get("id") for item in items[:5] if isinstance(item, dict)]
        for value in found:
            if isinstance(value, str) and value not in self.ids:
                self.ids.append(value)


class Served:
    """A service behind a real HTTP server in a thread of this process, for the services that
    call it over REST (`<service>_base_url`): the fuzzed apps reach their peers as deployed."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="fuzz-peer", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the peer on port {self.port} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def peers_of(service: str) -> list[str]:
    """The services this one calls over REST: its settings' `<service>_base_url` fields."""
    module = importlib.import_module(f"tansiq_{service}.settings")
    fields = getattr(module, f"{service.capitalize()}Settings").model_fields
    return [peer for peer in SERVICES if f"{peer}_base_url" in fields]


@dataclass
class World:
    settings: dict[str, dict[str, Any]]  # per service: the settings' values
    ids: dict[str, list[str]]  # per service: the ids in its database after seeding
    broken: dict[str, BaseException]  # per service: why its database could not be made
    callers: list[dict[str, str]]
    targets: dict[str, Target] = field(default_factory=dict)

    def target(self, service: str) -> Target:
        """The service's app, built and started on first use (a service that does not build
        fails its own fuzz test only)."""
        if service in self.broken:
            raise self.broken[service]
        if service not in self.targets:
            app = create_app(service, settings_for(service, **self.settings[service]))
            self.targets[service] = Target(
                service, asgi.get_client(app).__enter__(), self.ids[service]
            )
        return self.targets[service]


WORLD: list[World] = []  # the session's world, for the generation hooks


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _fetch(url: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(_plain(url))
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


async def _record_ids(url: str) -> list[str]:
    """The `id` of every record of every table (up to 100 a table) of a service's database."""
    tables = await _fetch(
        url,
        "select quote_ident(table_name) as t from information_schema.columns "
        "where table_schema = 'public' and column_name = 'id' "
        "and data_type in ('uuid', 'text', 'character varying')",
    )
    ids: list[str] = []
    for table in tables:  # names quoted by quote_ident
        ids += [r["id"] for r in await _fetch(url, f"select id::text from {table['t']} limit 100")]  # noqa: S608
    return ids


async def _seed_registry(url: str, settings: Any) -> dict[str, str]:
    """The demo organizations (what `tansiq seed` loads), by source key."""
    from tansiq_registry.organizations.demo import seed

    db = Database(url, pool_size=2, max_overflow=0)
    try:
        await seed(db, settings.home_countries)
    finally:
        await db.dispose()
    rows = await _fetch(
        url, "select source_key, id::text from organizations where source_key like 'demo:%'"
    )
    return {row["source_key"]: row["id"] for row in rows}


@dataclass
class _Envelope:
    data: dict[str, Any]


async def _replicate_organizations(registry_url: str, service_url: str) -> None:
    """What a service's organization consumer makes of the registry's events."""
    from tansiq_common.auth.directory import apply_organization_event

    rows = await _fetch(registry_url, "select payload from outbox order by id")
    db = Database(service_url, pool_size=1, max_overflow=0)
    try:
        async with db.sessionmaker() as session, session.begin():
            for row in rows:
                payload = row["payload"]
                event = payload if isinstance(payload, dict) else json.loads(payload)
                await apply_organization_event(session, _Envelope(event.get("data", event)))
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
async def fuzz_world(
    pg_admin_url: str,
    run_id: str,
    test_identity_provider: Any,
    topic_prefix: str,
    kafka_bootstrap: str,
) -> AsyncIterator[World]:
    names = {service: f"t_{run_id}_fuzz_{service}" for service in SERVICES}
    urls: dict[str, str] = {}
    broken: dict[str, BaseException] = {}
    for service in SERVICES:
        try:
            package = importlib.import_module(f"tansiq_{service}")
            migrations = Path(package.MIGRATIONS_DIR)
            urls[service] = await databases.create_database(
                pg_admin_url, names[service], migrations
            )
        except Exception as error:
            broken[service] = error
    if "registry" in broken:
        raise broken["registry"]
    values = {
        service: {
            "database_url": url,
            "auth_jwks_file": test_identity_provider.jwks_file,
            "auth_jwks_url": None,
            "topic_prefix": topic_prefix,
            "kafka_bootstrap_servers": kafka_bootstrap,
        }
        for service, url in urls.items()
    }
    orgs = await _seed_registry(urls["registry"], settings_for("registry", **values["registry"]))
    ids: dict[str, list[str]] = {}
    for service, url in urls.items():
        if service != "registry":
            await _replicate_organizations(urls["registry"], url)
        ids[service] = list(dict.fromkeys([*orgs.values(), *await _record_ids(url)]))
    unknown_org = str(uuid.uuid4())
    callers = [
        {
            "Authorization": "Bearer "
            + test_identity_provider.token(
                orgs[key] if key else unknown_org, roles, sub=f"fuzz-{'-'.join(roles)}"
            )
        }
        for key, roles in CALLERS
    ]
    served: dict[str, Served] = {}
    try:
        for service in urls:
            try:
                peers = peers_of(service)
            except Exception as error:  # its own fuzz test reports why
                broken[service] = error
                peers = []
            for peer in peers:
                if peer not in served and peer in urls:
                    app = create_app(peer, settings_for(peer, **values[peer]))
                    served[peer] = Served(app)
                    await asyncio.to_thread(served[peer].start)
                values[service][f"{peer}_base_url"] = served[peer].base_url
        world = World(values, ids, broken, callers)
        WORLD.append(world)
        yield world
    finally:
        WORLD.clear()
        asgi.shutdown_lifespans()
        for peer in served.values():
            await asyncio.to_thread(peer.stop)
        for service in urls:
            await databases.drop_database(pg_admin_url, names[service])


# --- generation hooks -----------------------------------------------------------------------


def _service(context: Any) -> str | None:
    operation = getattr(context, "operation", None)
    raw = getattr(getattr(operation, "schema", None), "raw_schema", None) or {}
    title = str(raw.get("info", {}).get("title", ""))
    service = title.removeprefix("Tansiq ")
    return service if service in SERVICES else None


def _target(context: Any) -> Target | None:
    service = _service(context)
    if not WORLD or service is None:
        return None
    try:
        return WORLD[0].target(service)
    except Exception:  # its own fuzz test reports why
        return None


def _id_names(names: Iterable[str]) -> list[str]:
    return [name for name in names if name == "id" or name.endswith(("_id", "Id"))]


def stable_pick(value: Any, choices: Sequence[T]) -> T:
    """One of `choices`, the same for the same value in every run (unlike `hash`)."""
    return choices[zlib.crc32(repr(value).encode()) % len(choices)]


def _with_real_ids(context: Any, values: Any) -> Any:
    """Half of the parameters that name an identifier take a real record's id instead of the
    generated value (a map, not a new draw: generation stays as fast as without it)."""
    target = _target(context)
    names = _id_names(values) if isinstance(values, dict) else []
    if target is None or not target.ids or not names:
        return values
    real = dict(values)
    for name in names:
        if stable_pick((name, values[name]), (True, False)):
            real[name] = stable_pick(values[name], target.ids)
    return real


@schemathesis.hook
def map_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    return _with_real_ids(context, path_parameters)


@schemathesis.hook
def map_query(context: Any, query: dict[str, Any]) -> Any:
    return _with_real_ids(context, query)


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    return _with_real_ids(context, body)


# --- results --------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the fuzzer did to one service, for the closing summary."""

    operations: set[str] = field(default_factory=set)
    cases: int = 0
    failures: dict[str, set[str]] = field(default_factory=dict)  # failure class → operations
    known: dict[str, set[str]] = field(default_factory=dict)  # known gap → operations

    def line(self, service: str) -> str:
        failing = set().union(*self.failures.values()) if self.failures else set()
        known = set().union(*self.known.values()) if self.known else set()
        lines = [
            f"fuzz {service}: {len(self.operations)} operations, {self.cases} cases, "
            f"{len(failing)} operations failing, {len(known)} with known gaps"
        ]
        for title, found in (("failure", self.failures), ("known gap", self.known)):
            lines += [
                f"  {title}: {name}: {', '.join(sorted(ops))}"
                for name, ops in sorted(found.items())
            ]
        return "\n".join(lines)


TALLIES: dict[str, Tally] = {}


def failure_class(failure: Any, response: Any) -> str:
    """A failure's name for the summary, e.g. "Undocumented status code 400"."""
    status = getattr(response, "status_code", None)
    return f"{getattr(failure, 'title', type(failure).__name__)} {status}"


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    service = _service(context)
    if service is None:
        return True
    tally = TALLIES.setdefault(service, Tally())
    name = failure_class(failure, response)
    label = case.operation.label
    if not STRICT and known_gap(service, label, name):
        tally.known.setdefault(name, set()).add(label)
        return False
    tally.failures.setdefault(name, set()).add(label)
    return True


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for service, tally in TALLIES.items():
        terminalreporter.write_line(tally.line(service))
