"""Reporting, end to end: the coordination-consistency rules C1–C7 over a running system, and a
full rebuild from the topics that ends in exactly the same state.

The four services run as real uvicorn processes (their own databases, topics of this test
alone). The scenario is built only through the services' HTTP APIs, as users would: a
coordinating body, three ministries (one with a directorate) and international partners in the
registry; agreements taken through their lifecycle and engagements with their reports and
action items. Each rule has at least one case it must flag and a look-alike it must not; each
rule's records name a partner of their own, so no rule sees another rule's records (C3 compares
every engagement with the same partner). Two cases cross their threshold during the test by
the passing of time alone (C2's notice period and C4's dormancy end a minute after the scenario
starts), so the scheduled pass, not an event, opens them.

Then `tansiq replay reporting` rebuilds every replica, counter and finding from the topics while
the service runs, and findings (ids, statuses, versions, times, decisions) and scorecards are
exactly what they were.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tansiq_common.auth.devkeys import ensure_dev_key, mint_token
from tansiq_common.events.topics import ensure_topics
from tansiq_common.testing import databases
from tansiq_common.testing.processes import ServiceProcess, start_service
from tansiq_reporting.findings.rules import RecordRef, finding_id

pytestmark = pytest.mark.e2e

SERVICES = ("registry", "agreements", "engagements", "reporting")
WAIT_S = 180  # a loaded 2-core machine: consumers and the evaluator may lag this much
PASS_INTERVAL_S = 2  # the scheduled pass, for the rules time alone changes
TIME_TRIGGER_S = 60  # C2's notice and C4's dormancy run out this long after the scenario starts
SDG17 = {"sdgs": [17]}  # aligned (C7): every record but C7's carries a theme


# --- the running stack ---------------------------------------------------------------------------


@dataclass
class Stack:
    processes: dict[str, ServiceProcess]
    env: dict[str, str]
    keys_dir: Path
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    _tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return self.processes[service].base_url

    def token(self, org: str, role: str) -> str:
        if (org, role) not in self._tokens:
            self._tokens[(org, role)] = mint_token(
                org=org, roles=[role], sub=f"e2e-{role}", folder=self.keys_dir
            )
        return self._tokens[(org, role)]

    def call(
        self,
        method: str,
        service: str,
        path: str,
        token: str,
        body: Any = None,
        *,
        ok: tuple[int, ...] = (200, 201),
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """One request; a 403 is retried until the deadline: the services learn of a new
        organization (and of a coordinating body) from the registry's topic, a moment after
        the registry answers. Any other answer not in `ok` fails the test with its body."""
        deadline = time.monotonic() + WAIT_S
        while True:
            answer = self.client.request(
                method,
                f"{self.url(service)}{path}",
                json=body,
                params=params,
                headers={"Authorization": f"Bearer {token}", **(headers or {})},
            )
            if answer.status_code in ok:
                return answer.json() if answer.content else None
            if answer.status_code != 403 or time.monotonic() > deadline:
                pytest.fail(f"{method} {service}{path}: {answer.status_code} {answer.text}")
            time.sleep(0.5)

    def every(self, token: str, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a reporting list, page after page."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {"limit": 500, **params, **({"cursor": cursor} if cursor else {})}
            page = self.call("GET", "reporting", path, token, params=query)
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log()[-3000:]}" for p in self.processes.values())


def _start_all(env: dict[str, str], log_dir: Path) -> dict[str, ServiceProcess]:
    """Reporting next to the chain registry → agreements → engagements (each of these calls the
    one before it, so it starts once that one's port is known)."""
    started: dict[str, ServiceProcess] = {}
    errors: list[BaseException] = []

    def start(name: str, extra: dict[str, str]) -> None:
        started[name] = start_service(name, {**env, **extra}, log_dir, ready_timeout=WAIT_S)

    def chain() -> None:
        try:
            start("registry", {})
            registry = {"REGISTRY_BASE_URL": started["registry"].base_url}
            start("agreements", registry)
            start(
                "engagements", {**registry, "AGREEMENTS_BASE_URL": started["agreements"].base_url}
            )
        except BaseException as exc:  # re-raised below, once both threads are done
            errors.append(exc)

    def reporting() -> None:
        try:
            start("reporting", {})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=chain), threading.Thread(target=reporting)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        for process in started.values():
            process.stop()
        raise errors[0]
    return started


@pytest.fixture
def stack(
    pg_admin_url: str, run_id: str, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> Iterator[Stack]:
    keys_dir = tmp_path / "keys"
    _, jwks_file = ensure_dev_key(keys_dir)
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    # Topics of this test alone: reporting reads its topics from the beginning, and other tests
    # publish on the run's topics.
    prefix = f"{topic_prefix}e2e{uuid.uuid4().hex[:6]}."
    asyncio.run(ensure_topics(kafka_bootstrap, prefix))
    env = {
        "TANSIQ_ENV": "development",
        "TOPIC_PREFIX": prefix,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "AUTH_JWKS_FILE": str(jwks_file),
        "TANSIQ_KEYS_DIR": str(keys_dir),
        "REPORTING_SCHEDULED_PASS_INTERVAL_S": str(PASS_INTERVAL_S),
        # The rules' defaults, spelled out: the scenario's dates are chosen against them.
        "REPORTING_C2_NOTICE_DAYS": "7",
        "REPORTING_C3_WINDOW_DAYS": "30",
        "REPORTING_C4_DORMANT_DAYS": "180",
        "REPORTING_C6_EXPIRY_DAYS": "90",
        "REPORTING_TIMEZONE": "Asia/Qatar",
    }
    names = {service: f"t_{run_id}_e2e_{service}" for service in SERVICES}
    processes: dict[str, ServiceProcess] = {}
    try:
        for service in SERVICES:
            migrations = Path(importlib.import_module(f"tansiq_{service}").MIGRATIONS_DIR)
            env[f"{service.upper()}_DATABASE_URL"] = asyncio.run(
                databases.create_database(pg_admin_url, names[service], migrations)
            )
        processes = _start_all(env, log_dir)
        running = Stack(processes, env, keys_dir)
        try:
            yield running
        finally:
            running.client.close()
    finally:
        for process in processes.values():
            process.stop()
        for name in names.values():
            asyncio.run(databases.drop_database(pg_admin_url, name))


# --- the scenario, through the services' APIs ---------------------------------------------------


def _wait(stack: Stack, what: str, probe: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_S
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"waited {WAIT_S}s for {what}\n{stack.logs()}")
        time.sleep(0.5)


@dataclass
class World:
    """The scenario's organizations and records by name (ids as the services gave them)."""

    stack: Stack
    start: datetime  # when the scenario began: the time-triggered deadlines count from it
    orgs: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def coordinator(self) -> str:
        return self.stack.token(self.orgs["MOFA"], "coordinator")

    def editor(self, ministry: str) -> str:
        return self.stack.token(self.orgs[ministry], "editor")

    def day(self, offset: int) -> str:
        return (date.today() + timedelta(days=offset)).isoformat()

    def moment(self, delta: timedelta) -> str:
        return (self.start + delta).isoformat()

    # registry

    def organization(self, key: str, kind: str, country: str | None, **more: Any) -> None:
        admin = self.stack.token("platform", "registry_admin")
        body = {"kind": kind, "names": {"en": f"{key} (e2e)"}, "acronym": key, **more}
        if country:
            body["country"] = country
        self.orgs[key] = self.stack.call("POST", "registry", "/v1/organizations", admin, body)["id"]

    # agreements

    def agreement(
        self,
        key: str,
        ministry: str,
        partners: list[str],
        *,
        owner: str | None = None,
        themes: dict[str, Any] | None = SDG17,
        **dates: str,
    ) -> str:
        owner_id = self.orgs[owner or ministry]
        body: dict[str, Any] = {
            "kind": "cooperation_agreement",
            "title": {"en": f"{key} (e2e)"},
            "owner_org_id": owner_id,
            "parties": [{"org_id": owner_id, "role": "signatory"}]
            + [{"org_id": self.orgs[p], "role": "signatory"} for p in partners],
            **dates,
        }
        if themes is not None:
            body["themes"] = themes
        created = self.stack.call(
            "POST", "agreements", "/v1/agreements", self.editor(ministry), body
        )
        self.ids[key] = created["id"]
        return str(created["id"])

    def act(self, key: str, action: str, token: str, body: Any = None, ok: int = 200) -> Any:
        path = f"/v1/agreements/{self.ids[key]}/actions/{action}"
        return self.stack.call("POST", "agreements", path, token, body, ok=(ok,))

    def cleared_and_signed(self, key: str, ministry: str, signed_on: str) -> None:
        self.act(key, "submit", self.editor(ministry))
        self.act(key, "clear", self.coordinator, {"conditions": "in line with national law"})
        self.act(key, "sign", self.editor(ministry), {"signed_on": signed_on})

    # engagements

    def engagement(
        self,
        key: str,
        ministry: str,
        partners: list[str],
        *,
        start: str,
        status: str = "planned",
        channel: str = "via_coordinating_body",
        themes: dict[str, Any] | None = SDG17,
        also: tuple[str, ...] = (),
        related: tuple[str, ...] = (),
        agreements: tuple[str, ...] = (),
        **more: Any,
    ) -> str:
        body: dict[str, Any] = {
            "kind": "meeting",
            "title": {"en": f"{key} (e2e)"},
            "start": start,
            "lead_org_id": self.orgs[ministry],
            "participants": [
                {"org_id": self.orgs[p], "role": "participant"} for p in [*partners, *also]
            ],
            "status": status,
            "channel": channel,
            "related_engagement_ids": [self.ids[r] for r in related],
            "agreement_ids": [self.ids[a] for a in agreements],
            **more,
        }
        if themes is not None:
            body["themes"] = themes
        created = self.stack.call(
            "POST", "engagements", "/v1/engagements", self.editor(ministry), body
        )
        self.ids[key] = created["id"]
        return str(created["id"])

    def held(self, key: str, ministry: str, partners: list[str], days_ago: int, **more: Any) -> str:
        begins = self.start - timedelta(days=days_ago)
        return self.engagement(
            key,
            ministry,
            partners,
            start=begins.isoformat(),
            end=(begins + timedelta(hours=2)).isoformat(),
            status="held",
            **more,
        )

    def action_item(self, key: str, ministry: str, due_on: str, status: str) -> str:
        path = f"/v1/engagements/{self.ids[key]}/action-items"
        body = {
            "title": f"follow-up of {key}",
            "owner_org_id": self.orgs[ministry],
            "due_on": due_on,
            "status": status,
        }
        item = self.stack.call("POST", "engagements", path, self.editor(ministry), body)
        return str(item["id"])

    # reporting

    def coverage(self, ministry: str, partner: str) -> dict[str, Any] | None:
        cells = self.stack.every(
            self.coordinator,
            "/v1/coverage",
            ministry_id=self.orgs[ministry],
            partner_id=self.orgs[partner],
        )
        return cells[0] if cells else None

    def findings(self) -> dict[str, dict[str, Any]]:
        return {f["id"]: f for f in self.stack.every(self.coordinator, "/v1/findings")}

    def scorecards(self) -> dict[str, dict[str, Any]]:
        return {s["ministry_id"]: s for s in self.stack.every(self.coordinator, "/v1/scorecards")}


ORGANIZATIONS = [
    # key, kind, country, extra fields
    ("MOFA", "ministry", "QA", {"designations": ["coordinating_body"]}),
    ("MOE", "ministry", "QA", {}),
    ("MOH", "ministry", "QA", {}),
    ("MOL", "ministry", "QA", {}),
    # One international partner per rule (and per C3 look-alike): see the module's docstring.
    ("UNESCO", "un_entity", None, {}),  # C1
    ("WHO", "un_entity", None, {}),  # C2
    ("WB", "international_organization", None, {}),  # C3, the overlap
    ("UNDP", "un_entity", None, {}),  # C3, linked
    ("ILO", "un_entity", None, {}),  # C3, too far apart
    ("UNICEF", "un_entity", None, {}),  # C4
    ("IOM", "international_organization", None, {}),  # C5
    ("FAO", "un_entity", None, {}),  # C6
    ("UNHCR", "un_entity", None, {}),  # C7
]


def build(stack: Stack) -> World:
    world = World(stack, start=datetime.now(UTC))
    for key, kind, country, extra in ORGANIZATIONS:
        world.organization(key, kind, country, **extra)
    world.organization("DIR", "directorate", "QA", parent_id=world.orgs["MOE"])
    organizations = len(ORGANIZATIONS) + 1
    # Reporting knows every organization before it sees a record naming one.
    _wait(stack, "reporting to apply the organizations", lambda: _applied(world, organizations))
    trigger = timedelta(seconds=TIME_TRIGGER_S)

    # C2 routing (MOH with WHO; held, the coordinating body not involved unless said).
    # Held so that its 7 days of notice run out a minute from now: time alone opens it.
    ends = world.start - timedelta(days=7) + trigger
    world.engagement(
        "c2_silent",
        "MOH",
        ["WHO"],
        start=(ends - timedelta(hours=2)).isoformat(),
        end=ends.isoformat(),
        status="held",
        channel="direct",
    )
    # Notified, but 10 days after it was held.
    world.held(
        "c2_late",
        "MOH",
        ["WHO"],
        20,
        channel="direct",
        coordinating_body_notified_at=world.moment(timedelta(days=-10)),
    )
    # Look-alikes: notified 3 days after; the coordinating body took part.
    world.held(
        "c2_notified",
        "MOH",
        ["WHO"],
        20,
        channel="direct",
        coordinating_body_notified_at=world.moment(timedelta(days=-17)),
    )
    world.held("c2_attended", "MOH", ["WHO"], 20, channel="direct", also=("MOFA",))

    # C4 dormant agreement (MOE with UNICEF; cleared, so that C1 stays silent).
    world.agreement("c4_dormant", "MOE", ["UNICEF"])
    world.cleared_and_signed("c4_dormant", "MOE", world.day(-200))
    world.agreement("c4_active", "MOE", ["UNICEF"])
    world.cleared_and_signed("c4_active", "MOE", world.day(-200))
    world.agreement("c4_lapsing", "MOE", ["UNICEF"])
    world.cleared_and_signed("c4_lapsing", "MOE", world.day(-300))
    # Look-alike: an engagement under it a month ago.
    world.held("c4_recent_meeting", "MOE", ["UNICEF"], 30, agreements=("c4_active",))
    # The last engagement under it started 180 days ago less a minute: dormant a minute from now.
    began = world.start - timedelta(days=180) + trigger
    world.engagement(
        "c4_last_meeting",
        "MOE",
        ["UNICEF"],
        start=began.isoformat(),
        end=(began + timedelta(hours=1)).isoformat(),
        status="held",
        agreements=("c4_lapsing",),
    )
    # They enter into force once reporting has both engagements: evaluated earlier, they would
    # be flagged for a moment and resolved, which is not what this look-alike is about.
    _wait(
        stack,
        "reporting to count the engagements under the C4 agreements",
        lambda: (cell := world.coverage("MOE", "UNICEF")) and cell["engagements"] == 2,
    )
    world.act("c4_dormant", "enter-into-force", world.editor("MOE"))
    world.act("c4_active", "enter-into-force", world.editor("MOE"))
    world.act("c4_lapsing", "enter-into-force", world.editor("MOE"))

    # C1 clearance (UNESCO; signed five days ago).
    world.agreement("c1_uncleared", "MOE", ["UNESCO"], owner="DIR")  # counts for MOE
    world.act("c1_uncleared", "sign", world.editor("MOE"), {"signed_on": world.day(-5)})
    world.agreement("c1_cleared", "MOE", ["UNESCO"])
    world.cleared_and_signed("c1_cleared", "MOE", world.day(-5))
    # Signed uncleared, but between ministries alone (and with no theme: no partner for C7).
    world.agreement("c1_national", "MOE", ["MOH"], themes=None)
    world.act("c1_national", "sign", world.editor("MOE"), {"signed_on": world.day(-5)})

    # C3 overlap (planned engagements of two ministries).
    world.engagement("c3_moe", "MOE", ["WB"], start=world.moment(timedelta(days=10)))
    world.engagement("c3_mol", "MOL", ["WB"], start=world.moment(timedelta(days=20)))
    # Look-alikes: the coordination recorded through related_engagement_ids; 40 days apart.
    world.engagement(
        "c3_moh_linked",
        "MOH",
        ["UNDP"],
        start=world.moment(timedelta(days=10)),
        themes={"sdgs": [3]},
    )
    world.engagement(
        "c3_mol_linked",
        "MOL",
        ["UNDP"],
        start=world.moment(timedelta(days=12)),
        themes={"sdgs": [3]},
        related=("c3_moh_linked",),
    )
    world.engagement("c3_moe_far", "MOE", ["ILO"], start=world.moment(timedelta(days=5)))
    world.engagement("c3_mol_far", "MOL", ["ILO"], start=world.moment(timedelta(days=45)))

    # C5 follow-up (MOL with IOM; held 20 days ago).
    world.held("c5_report_late", "MOL", ["IOM"], 20, report_due_on=world.day(-5))
    world.held("c5_item_late", "MOL", ["IOM"], 20)
    late_item = world.action_item("c5_item_late", "MOL", world.day(-3), "open")
    world.held("c5_item_done", "MOL", ["IOM"], 20)
    world.action_item("c5_item_done", "MOL", world.day(-3), "done")
    # Look-alike: the report was filed, and its due date has passed.
    world.held("c5_reported", "MOL", ["IOM"], 20)
    report = f"/v1/engagements/{world.ids['c5_reported']}/report"
    stack.call("PUT", "engagements", report, world.editor("MOL"), {"text": "Reported."})
    stack.call(
        "PATCH",
        "engagements",
        f"/v1/engagements/{world.ids['c5_reported']}",
        world.editor("MOL"),
        {"report_due_on": world.day(-10)},
        headers={"If-Match": "*"},
    )

    # C6 expiry (MOH with FAO; in force for ten days).
    world.agreement("c6_expiring", "MOH", ["FAO"], expires_on=world.day(30))
    world.agreement("c6_renewed", "MOH", ["FAO"], expires_on=world.day(30))
    world.agreement("c6_later", "MOH", ["FAO"], expires_on=world.day(120))
    for key in ("c6_expiring", "c6_renewed", "c6_later"):
        world.cleared_and_signed(key, "MOH", world.day(-10))
    successor = world.act(
        "c6_renewed", "renew", world.editor("MOH"), {"expires_on": world.day(3 * 365)}, ok=201
    )
    world.ids["c6_successor"] = successor["id"]
    _wait(
        stack,
        "reporting to count the C6 agreements and the successor",
        lambda: (cell := world.coverage("MOH", "FAO")) and cell["agreements"] == 4,
    )
    for key in ("c6_expiring", "c6_renewed", "c6_later"):
        world.act(key, "enter-into-force", world.editor("MOH"))

    # C7 alignment (UNHCR): sectors alone are no SDG goal or national priority.
    world.agreement("c7_sectors_only", "MOE", ["UNHCR"], themes={"sectors": ["education"]})
    world.engagement(
        "c7_untagged", "MOL", ["UNHCR"], start=world.moment(timedelta(days=40)), themes=None
    )
    world.engagement(
        "c7_priority",
        "MOL",
        ["UNHCR"],
        start=world.moment(timedelta(days=40)),
        themes={"priorities": ["NDS3-HD-1"]},
    )

    # Coordinators' decisions, and a finding resolved by its ministry's follow-up.
    c7_agreement = _finding("C7", "agreement", world.ids["c7_sectors_only"])
    c7_engagement = _finding("C7", "engagement", world.ids["c7_untagged"])
    c5_item = _finding("C5", "engagement", world.ids["c5_item_late"])
    _wait(
        stack,
        "the C7 and C5 findings to open",
        lambda: {c7_agreement, c7_engagement, c5_item} <= world.findings().keys(),
    )
    stack.call(
        "POST", "reporting", f"/v1/findings/{c7_agreement}/actions/acknowledge", world.coordinator
    )
    stack.call(
        "POST",
        "reporting",
        f"/v1/findings/{c7_engagement}/actions/accept",
        world.coordinator,
        {"justification": "A courtesy meeting on no programme."},
    )
    stack.call(
        "PATCH",
        "engagements",
        f"/v1/engagements/{world.ids['c5_item_late']}/action-items/{late_item}",
        world.editor("MOL"),
        {"status": "done"},
        headers={"If-Match": "*"},
    )
    return world


def _applied(world: World, organizations: int) -> bool:
    fresh = world.stack.call("GET", "reporting", "/v1/freshness", world.coordinator)
    by_topic = {item["topic"]: item for item in fresh["items"]}
    return bool(by_topic["registry.organization.v1"]["events_applied"] >= organizations)


def _finding(rule: str, kind: str, record_id: str) -> str:
    return finding_id(rule, RecordRef(kind, record_id))


# --- what reporting must say ---------------------------------------------------------------------


Named = tuple[str, str, str, list[tuple[str, str]], int]


def expected_findings(world: World) -> dict[str, Named]:
    """By the scenario's names, so that a failure shows which case went wrong: "<rule> <anchor>"
    → (finding id, status, ministry, records named (anchor first), version)."""

    def one(
        rule: str, ministry: str, *records: tuple[str, str], status: str = "open", version: int = 1
    ) -> tuple[str, Named]:
        kind, anchor = records[0]
        fid = finding_id(rule, RecordRef(kind, world.ids[anchor]))
        return f"{rule} {anchor}", (fid, status, ministry, list(records), version)

    return dict(
        [
            one("C1", "MOE", ("agreement", "c1_uncleared")),
            one("C2", "MOH", ("engagement", "c2_silent")),
            one("C2", "MOH", ("engagement", "c2_late")),
            one("C3", "MOE", ("engagement", "c3_moe"), ("engagement", "c3_mol")),
            one("C3", "MOL", ("engagement", "c3_mol"), ("engagement", "c3_moe")),
            one("C4", "MOE", ("agreement", "c4_dormant")),
            one("C4", "MOE", ("agreement", "c4_lapsing")),
            one("C5", "MOL", ("engagement", "c5_report_late")),
            one("C5", "MOL", ("engagement", "c5_item_late"), status="resolved", version=2),
            one("C6", "MOH", ("agreement", "c6_expiring")),
            one("C7", "MOE", ("agreement", "c7_sectors_only"), status="acknowledged", version=2),
            one("C7", "MOL", ("engagement", "c7_untagged"), status="accepted", version=2),
        ]
    )


def _as_found(world: World, findings: dict[str, dict[str, Any]]) -> dict[str, Named]:
    """The findings listed, by the scenario's names (an id it does not know stays an id)."""
    names = {v: k for k, v in {**world.orgs, **world.ids}.items()}
    found = {}
    for fid, f in findings.items():
        records = [(r["type"], names.get(r["id"], r["id"])) for r in f["records"]]
        found[f"{f['rule']} {records[0][1]}"] = (
            fid,
            f["status"],
            names.get(f["ministry_id"], f["ministry_id"]),
            records,
            f["version"],
        )
    return found


def _rules(**counts: int) -> dict[str, int]:
    return {f"C{n}": counts.get(f"C{n}", 0) for n in range(1, 8)}


def expected_scorecards() -> dict[str, tuple[Any, ...]]:
    """ministry → (country, records, records with findings that count, per rule, score).

    MOE: 7 agreements (3 of C1, 3 of C4, C7's) and 4 engagements (2 of C3, 2 under C4's
    agreements); flagged C1, C3, C4 twice, and C7 (acknowledged still counts).
    MOH: 5 engagements (4 of C2, C3's linked one) and 4 agreements (3 of C6 and the successor);
    flagged C2 twice and C6.
    MOL: 9 engagements (3 of C3, 4 of C5, 2 of C7); flagged C3 and C5 (the resolved C5 finding
    and the accepted C7 one no longer count)."""
    return {
        "MOE": ("QA", 11, 5, _rules(C1=1, C3=1, C4=2, C7=1), round(6 / 11, 4)),
        "MOH": ("QA", 9, 3, _rules(C2=2, C6=1), round(6 / 9, 4)),
        "MOL": ("QA", 9, 2, _rules(C3=1, C5=1), round(7 / 9, 4)),
    }


def _as_scored(world: World, scorecards: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    names = {v: k for k, v in world.orgs.items()}
    return {
        names.get(ministry, ministry): (
            s["country"],
            s["records"],
            s["records_with_findings"],
            s["by_rule"],
            s["score"],
        )
        for ministry, s in scorecards.items()
    }


def _settled(world: World) -> bool:
    fresh = world.stack.call("GET", "reporting", "/v1/freshness", world.coordinator)
    return not fresh["rebuilding"] and all(item["consumer_lag"] == 0 for item in fresh["items"])


# --- the test ------------------------------------------------------------------------------------


def test_rules_c1_to_c7_on_a_running_system_and_a_rebuild_that_ends_where_it_began(
    stack: Stack,
) -> None:
    world = build(stack)
    want_findings = expected_findings(world)
    want_scores = expected_scorecards()

    # Every finding, and nothing else: the look-alikes flagged by no rule (the listing shows
    # resolved and accepted findings too).
    seen: dict[str, Any] = {}

    def findings_as_expected() -> bool:
        seen["findings"] = world.findings()
        seen["scorecards"] = world.scorecards()
        return (
            _as_found(world, seen["findings"]) == want_findings
            and _as_scored(world, seen["scorecards"]) == want_scores
            and _settled(world)
        )

    deadline = time.monotonic() + WAIT_S + TIME_TRIGGER_S
    while not findings_as_expected():
        if time.monotonic() > deadline:
            print(stack.logs())  # shown with the failure
            assert _as_found(world, seen["findings"]) == want_findings
            assert _as_scored(world, seen["scorecards"]) == want_scores
            pytest.fail("reporting never caught up: consumer lag or the rebuild flag (logs above)")
        time.sleep(1)
    before_findings, before_scorecards = seen["findings"], seen["scorecards"]

    # Time alone opened these two: never before their deadline.
    c2 = before_findings[_finding("C2", "engagement", world.ids["c2_silent"])]
    assert c2["details"]["notified_at"] is None
    assert datetime.fromisoformat(c2["opened_at"]) >= datetime.fromisoformat(
        c2["details"]["notify_by"]
    )
    c4 = before_findings[_finding("C4", "agreement", world.ids["c4_lapsing"])]
    assert datetime.fromisoformat(c4["opened_at"]) >= datetime.fromisoformat(
        c4["details"]["dormant_since"]
    )
    c3 = before_findings[_finding("C3", "engagement", world.ids["c3_moe"])]
    assert c3["partner_ids"] == [world.orgs["WB"]]
    assert [o["engagement_id"] for o in c3["details"]["overlaps"]] == [world.ids["c3_mol"]]
    accepted = before_findings[_finding("C7", "engagement", world.ids["c7_untagged"])]
    assert accepted["acceptance"]["justification"] == "A courtesy meeting on no programme."

    # The rebuild, as an operator runs it, with the service up: the service's own evaluator may
    # take the records the rebuild marks due, so only the outcome is certain.
    rebuilt = _replay_reporting(stack)
    assert "; 0 findings opened, 0 resolved" in rebuilt, rebuilt
    # Exactly the same findings (ids, statuses, versions, times, decisions) and scorecards.
    _wait(stack, "the rebuild flag to come down", lambda: _settled(world))
    assert world.findings() == before_findings
    assert world.scorecards() == before_scorecards

    # And with the service stopped: the rebuild evaluates every record itself (11 agreements,
    # the successor among them, and 18 engagements).
    stack.processes["reporting"].stop()
    rebuilt = _replay_reporting(stack)
    assert "evaluated 11 agreements and 18 engagements; 0 findings opened, 0 resolved" in rebuilt
    stack.processes["reporting"] = start_service(
        "reporting", stack.env, stack.processes["reporting"].log_path.parent, ready_timeout=WAIT_S
    )
    _wait(stack, "the restarted service to catch up", lambda: _settled(world))
    assert world.findings() == before_findings
    assert world.scorecards() == before_scorecards


def _replay_reporting(stack: Stack) -> str:
    """`tansiq replay reporting` with the stack's settings; its report line."""
    tansiq = shutil.which("tansiq", path=str(Path(sys.executable).parent)) or "tansiq"
    rebuilt = subprocess.run(
        [tansiq, "replay", "reporting"],
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert rebuilt.returncode == 0, f"{rebuilt.stdout}\n{rebuilt.stderr}"
    assert "reporting: replayed " in rebuilt.stdout, rebuilt.stdout
    return rebuilt.stdout
