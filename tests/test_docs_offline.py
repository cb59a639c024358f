"""`/docs` renders every operation in a headless Chromium that may reach nothing but loopback.

Each service runs as a real uvicorn process; Debian's chromium (installed by
ops/local/browser.sh, which `make test` runs) loads its /docs page. Every request the page makes
is recorded and any to a host other than the loopback is refused, so a page that still needed a
CDN would stay blank and fail here, as it would on a network without internet access.
"""

from __future__ import annotations

import asyncio
import importlib
import ipaddress
import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Route, async_playwright
from tansiq_common.testing.processes import start_service

pytestmark = pytest.mark.e2e

SERVICES = ("registry", "agreements", "engagements", "reporting")
# Nothing but the page: no sync, updates, crash reports, field trials or first-run pings.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--no-pings",
]
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def chromium_path() -> str:
    """The browser ops/local/browser.sh installs; its absence fails the test (never a skip)."""
    for candidate in (os.environ.get("TANSIQ_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    pytest.fail("no Chromium: run `bash ops/local/browser.sh` (make test runs it) to install it")


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True  # never leaves the browser
    host = (parts.hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_only(requested: list[str], refused: list[str]) -> Callable[[Route], Awaitable[None]]:
    """A route handler: records every request, lets loopback through, refuses the rest."""

    async def guard(route: Route) -> None:
        url = route.request.url
        requested.append(url)
        if is_loopback(url):
            await route.continue_()
        else:
            refused.append(url)
            await route.abort("internetdisconnected")

    return guard


@pytest.fixture(scope="module")
async def running_services(service_database, tmp_path_factory, topic_prefix, test_jwks_file):
    env = {
        "TOPIC_PREFIX": topic_prefix,
        "AUTH_JWKS_FILE": str(test_jwks_file),
        "TANSIQ_ENV": "test",
    }
    for service in SERVICES:
        package = importlib.import_module(f"tansiq_{service}")
        url = await service_database(service, Path(package.MIGRATIONS_DIR))
        env[f"{service.upper()}_DATABASE_URL"] = url
        env[f"{service.upper()}_RUN_RELAY"] = "false"
        env[f"{service.upper()}_RUN_CONSUMERS"] = "false"
    folder = tmp_path_factory.mktemp("docs-services")
    # Generous: four interpreters importing the whole stack on a busy two-core machine.
    started = await asyncio.gather(
        *(asyncio.to_thread(start_service, s, env, folder, ready_timeout=180) for s in SERVICES)
    )
    try:
        yield dict(zip(SERVICES, started, strict=True))
    finally:
        for process in started:
            process.stop()


async def test_docs_render_every_operation_with_no_network_beyond_loopback(running_services):
    executable = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            for service, process in running_services.items():
                async with httpx.AsyncClient(base_url=process.base_url) as client:
                    openapi = (await client.get("/openapi.json")).json()
                expected = {
                    (method.upper(), path)
                    for path, item in openapi["paths"].items()
                    for method in item
                    if method in HTTP_METHODS
                }
                assert expected, f"{service} documents no operation"

                requested: list[str] = []
                refused: list[str] = []
                context = await browser.new_context(service_workers="block")
                await context.route("**/*", loopback_only(requested, refused))
                page = await context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                response = await page.goto(f"{process.base_url}/docs")
                assert response is not None
                assert response.status == 200
                await page.wait_for_selector(".opblock-summary", timeout=30_000)
                rendered = await page.eval_on_selector_all(
                    ".opblock-summary",
                    """blocks => blocks.map(b => [
                        b.querySelector('.opblock-summary-method').textContent.trim(),
                        b.querySelector('.opblock-summary-path').getAttribute('data-path'),
                    ])""",
                )
                title = await page.title()
                await context.close()

                assert refused == [], f"{service}: /docs asked beyond loopback: {refused}"
                assert errors == [], f"{service}: script errors on /docs: {errors}"
                assert {(m, p) for m, p in rendered} == expected, service
                assert title == f"Tansiq {service} API"
                assert any("/docs/assets/" in url and url.endswith(".js") for url in requested)
                assert f"{process.base_url}/openapi.json" in requested
        finally:
            await browser.close()


async def test_the_assets_are_the_services_own_and_pinned(running_services):
    registry = running_services["registry"]
    async with httpx.AsyncClient(base_url=registry.base_url) as client:
        page = (await client.get("/docs")).text
        assert "cdn" not in page.lower()
        assert "https://" not in page
        script = page.split('<script src="', 1)[1].split('"', 1)[0]
        served = await client.get(script)
        licence = await client.get(script.rsplit("/", 1)[0] + "/LICENSE")
        other = await client.get(script.rsplit("/", 1)[0] + "/index.html")
        stale = await client.get(script.replace("/docs/assets/", "/docs/assets/0.0.1-", 1))
        redoc = await client.get("/redoc")
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/javascript")
    assert "immutable" in served.headers["cache-control"]
    assert len(served.content) > 500_000  # the whole Swagger UI bundle, not a stub
    assert licence.status_code == 200
    assert "Apache License" in licence.text
    assert other.status_code == 404  # only what the page loads is reachable
    assert stale.status_code == 404
    assert redoc.status_code == 404
