"""The running system the dashboard is tested against, and the browser that looks at it.

`dashboard_stack`: the four services as real uvicorn processes (their own test databases, the
run's Kafka topics), trusting a development key made for this run, with the demo data loaded by
`tansiq seed` exactly as `make up` loads it: through each service's own code and outbox, then
over Kafka into reporting's read models. The reporting process serves the dashboard.

`browser`: Debian's chromium (ops/local/browser.sh installs it when missing), driven headless by
Playwright. Screenshots go to .local/screenshots/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from tansiq_common.auth.devkeys import ensure_dev_key, mint_token
from tansiq_common.events.topics import ensure_topics
from tansiq_common.testing.processes import free_port

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SCREENSHOTS = REPO / ".local" / "screenshots"
SERVICES = ("registry", "agreements", "engagements", "reporting")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
LAPTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}
TOKEN_KEY = "tansiq.dashboard.token"


@dataclass
class Process:
    name: str
    port: int
    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def _start(name: str, port: int, env: dict[str, str], log_dir: Path) -> Process:
    target = (
        ["--app-dir", str(HERE), "reporting_with_dashboard:create_app"]
        if name == "reporting"
        else [f"tansiq_{name}.app:create_app"]
    )
    log_path = log_dir / f"{name}-{port}.log"
    popen = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", *target, "--factory"),
            *("--host", "127.0.0.1", "--port", str(port), "--no-access-log"),
        ],
        env={**os.environ, **env},
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return Process(name, port, popen, log_path)


def _wait_ready(process: Process, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited:\n{process.log()[-4000:]}")
        try:
            if httpx.get(f"{process.url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} not ready in {timeout}s:\n{process.log()[-4000:]}")


@dataclass
class Stack:
    processes: dict[str, Process]
    keys_dir: Path
    orgs: dict[str, str] = field(default_factory=dict)  # acronym → id

    @property
    def reporting(self) -> str:
        return self.processes["reporting"].url

    def token(self, acronym: str, role: str, sub: str = "tester") -> str:
        return mint_token(org=self.orgs[acronym], roles=[role], sub=sub, folder=self.keys_dir)

    def api(self, token: str, path: str, **params: Any) -> Any:
        answer = httpx.get(
            f"{self.reporting}{path}",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()

    def every(self, token: str, path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.api(
                token, path, limit=500, **params, **({"cursor": cursor} if cursor else {})
            )
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items


def _browser_path() -> str:
    """Debian's chromium, installed by ops/local/browser.sh when missing (fail, never skip)."""
    done = subprocess.run(
        ["bash", str(REPO / "ops" / "local" / "browser.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines or not Path(lines[-1]).is_file():
        pytest.fail(f"no chromium for the browser tests:\n{done.stdout}\n{done.stderr}")
    return lines[-1]


def _organizations(registry: str, token: str) -> dict[str, str]:
    answer = httpx.get(
        f"{registry}/v1/organizations",
        params={"limit": 500},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    answer.raise_for_status()
    return {
        f"{o['acronym']}": o["id"]
        for o in answer.json()["items"]
        if o.get("acronym") and o.get("scope") == "national"
    }


def _caught_up(stack: Stack, token: str) -> bool:
    fresh = stack.api(token, "/v1/freshness")
    by_topic = {item["topic"]: item for item in fresh["items"]}
    lags = [item["consumer_lag"] for item in fresh["items"]]
    return (
        not fresh["rebuilding"]
        and all(lag == 0 for lag in lags)
        and by_topic["agreements.agreement.v1"]["events_applied"] > 0
        and by_topic["engagements.engagement.v1"]["events_applied"] > 0
    )


@pytest.fixture(scope="session")
async def dashboard_stack(
    service_database: Callable[..., Any],
    kafka_topics: list[str],
    topic_prefix: str,
    kafka_bootstrap: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    import importlib

    keys_dir = tmp_path_factory.mktemp("devkey")
    _, jwks_file = ensure_dev_key(keys_dir)
    log_dir = tmp_path_factory.mktemp("logs")
    ports = {name: free_port() for name in SERVICES}
    # Topics of this stack alone: other tests publish their own organizations (the demo's
    # source keys among them) on the run's topics, and reporting reads its topics from the start.
    topic_prefix = f"{topic_prefix}dashboard{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka_bootstrap, topic_prefix)
    env = {
        "TANSIQ_ENV": "development",
        "TOPIC_PREFIX": topic_prefix,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "AUTH_JWKS_FILE": str(jwks_file),
        "TANSIQ_KEYS_DIR": str(keys_dir),
        "REGISTRY_BASE_URL": f"http://127.0.0.1:{ports['registry']}",
        "AGREEMENTS_BASE_URL": f"http://127.0.0.1:{ports['agreements']}",
        # The scheduled pass re-evaluates time-triggered rules; the demo needs it once only.
        "REPORTING_SCHEDULED_PASS_INTERVAL_S": "30",
    }
    for name in SERVICES:
        migrations = importlib.import_module(f"tansiq_{name}").MIGRATIONS_DIR
        # Databases of this stack alone: other tests write their own records (indicators) in
        # the run's service databases, and this stack's relays would publish theirs.
        env[f"{name.upper()}_DATABASE_URL"] = await service_database(
            f"dashboard_{name}", Path(migrations)
        )
    processes = {name: _start(name, ports[name], env, log_dir) for name in SERVICES}
    stack = Stack(processes, keys_dir)
    try:
        await asyncio.gather(*(asyncio.to_thread(_wait_ready, p) for p in processes.values()))
        tansiq = shutil.which("tansiq", path=str(Path(sys.executable).parent)) or "tansiq"
        seeded = await asyncio.to_thread(
            subprocess.run,
            [tansiq, "seed"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert seeded.returncode == 0, f"tansiq seed failed:\n{seeded.stdout}\n{seeded.stderr}"
        admin = mint_token(org="platform", roles=["registry_admin"], folder=keys_dir)
        stack.orgs = await asyncio.to_thread(_organizations, processes["registry"].url, admin)
        coordinator = stack.token("ICD", "coordinator")
        deadline = time.monotonic() + 180
        while not await asyncio.to_thread(_caught_up, stack, coordinator):
            if time.monotonic() > deadline:
                pytest.fail(f"reporting never caught up:\n{processes['reporting'].log()[-4000:]}")
            await asyncio.sleep(1)
        yield stack
    finally:
        for process in processes.values():
            process.stop()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    path = _browser_path()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@dataclass
class Watched:
    """A page and what went wrong in it: console errors, uncaught exceptions, failed requests."""

    page: Page
    context: BrowserContext
    errors: list[str] = field(default_factory=list)

    async def open(self, base: str, path: str) -> Page:
        await self.page.goto(f"{base}{path}")
        await self.page.wait_for_selector("#view[data-ready='true']", timeout=20_000)
        return self.page

    async def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
async def open_browser(browser: Browser) -> AsyncIterator[Callable[..., Any]]:
    """`watched = await open_browser(token=..., viewport=LAPTOP)`: a fresh context (own session
    storage) whose pages carry `token` when given."""
    contexts: list[BrowserContext] = []

    async def make(token: str | None = None, viewport: dict[str, int] = LAPTOP) -> Watched:
        context = await browser.new_context(viewport=viewport, device_scale_factor=1)
        contexts.append(context)
        if token:
            await context.add_init_script(
                f"window.sessionStorage.setItem({TOKEN_KEY!r}, {token!r});"
            )
        page = await context.new_page()
        watched = Watched(page, context)
        page.on(
            "console",
            lambda message: (
                watched.errors.append(f"console: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda error: watched.errors.append(f"page error: {error}"))
        page.on(
            "requestfailed",
            lambda request: watched.errors.append(f"request failed: {request.url}"),
        )
        return watched

    yield make
    for context in contexts:
        await context.close()
