"""What the reporting service serves under /dashboard, without a browser: the page shells, their
assets and headers, and the development tokens that exist only beside the development key."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from tansiq_common.auth.devkeys import ensure_dev_key
from tansiq_common.testing.plugin import running_app
from tansiq_reporting.dashboard import router
from tansiq_reporting.dashboard.api import ASSETS, PAGES, STATIC_DIR


async def dashboard_app(build_service_app: Any, **overrides: Any) -> Any:
    app, _ = await build_service_app("reporting", **overrides)
    if not any(getattr(r, "path", "").startswith("/dashboard") for r in app.routes):
        app.include_router(router)
    return app


def config_of(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="tansiq-config">(.*?)</script>', html)
    assert found, html[:500]
    return json.loads(found.group(1))  # type: ignore[no-any-return]


async def test_pages_are_shells_in_the_language_asked_for(build_service_app: Any) -> None:
    app = await dashboard_app(build_service_app)
    async with running_app(app) as client:
        home = await client.get("/dashboard")
        assert home.status_code == 307
        assert home.headers["location"] == "/dashboard/overview"
        for page in PAGES:
            answer = await client.get(f"/dashboard/{page}")
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/html")
            csp = answer.headers["content-security-policy"]
            assert "script-src 'self'" in csp
            assert "unsafe-inline" not in csp
            assert "default-src 'none'" in csp
            assert answer.headers["cache-control"] == "no-store"
            assert '<html lang="en" dir="ltr"' in answer.text
            assert config_of(answer.text)["page"] == page
            # No data in the shell: everything on the page comes from the API in the browser.
            assert "/v1/" not in answer.text

        arabic = await client.get("/dashboard/findings?lang=ar")
        assert '<html lang="ar" dir="rtl" data-digits="arab"' in arabic.text
        assert "الملاحظات" in arabic.text
        assert "tansiq_lang=ar" in arabic.headers["set-cookie"]
        # The cookie remembers the choice; the numerals follow their own.
        client.cookies.set("tansiq_lang", "ar")
        client.cookies.set("tansiq_digits", "latn")
        remembered = await client.get("/dashboard/overview")
        assert '<html lang="ar" dir="rtl" data-digits="latn"' in remembered.text
        client.cookies.clear()
        by_header = await client.get("/dashboard/overview", headers={"Accept-Language": "ar-QA"})
        assert 'dir="rtl"' in by_header.text

        for bad in (
            "/dashboard/nope",
            "/dashboard/overview?lang=fr",
            "/dashboard/overview?digits=x",
        ):
            answer = await client.get(bad)
            assert answer.status_code in (404, 422), bad
            assert answer.headers["content-type"] == "application/problem+json"


async def test_assets_are_the_vendored_files_only(build_service_app: Any) -> None:
    app = await dashboard_app(build_service_app)
    async with running_app(app) as client:
        assert {"dashboard.js", "dashboard.css", "vendor/uplot/uPlot.iife.min.js"} <= set(ASSETS)
        assert "vendor/uplot/LICENSE" in ASSETS
        script = await client.get("/dashboard/static/dashboard.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        etag = script.headers["etag"]
        again = await client.get("/dashboard/static/dashboard.js", headers={"If-None-Match": etag})
        assert again.status_code == 304
        chart = await client.get("/dashboard/static/vendor/uplot/uPlot.iife.min.js")
        assert chart.text.startswith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")
        for outside in (
            "/dashboard/static/../api.py",
            "/dashboard/static/%2e%2e/api.py",
            "/dashboard/static/nothing.js",
            "/dashboard/static/",
        ):
            answer = await client.get(outside)
            assert answer.status_code in (404, 422), outside
            assert "import" not in answer.text
        # Every page names its assets by this service's paths only: no CDN.
        shell = (await client.get("/dashboard/overview")).text
        sources = re.findall(r'(?:src|href)="([^"]+)"', shell)
        assert sources
        assert all(s.startswith(("/dashboard/", "data:", "#")) for s in sources), sources


async def test_development_tokens_beside_the_development_key_only(
    build_service_app: Any, tmp_path: Path, test_jwks_file: Path
) -> None:
    _, dev_jwks = ensure_dev_key(tmp_path / "keys")
    app = await dashboard_app(build_service_app, environment="development", auth_jwks_file=dev_jwks)
    async with running_app(app) as client:
        shell = (await client.get("/dashboard/overview")).text
        assert config_of(shell)["devTokens"] is True
        assert (await client.get("/dashboard/dev/organizations")).status_code == 200
        minted = await client.post(
            "/dashboard/dev/token", json={"org_id": "org-1", "role": "viewer", "sub": "نور"}
        )
        assert minted.status_code == 200, minted.text
        assert minted.json()["expires_in"] == 3600
        token = minted.json()["token"]
        # The service itself accepts it, as any token of the key it trusts.
        answer = await client.get("/v1/freshness", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        for body in (
            {"org_id": "org-1", "role": "registry_admin"},
            {"org_id": "org-1", "role": "integration"},
            {"org_id": "", "role": "viewer"},
            {"org_id": "org-1", "role": "viewer", "sub": "<script>"},
            {"org_id": "org-1", "role": "viewer", "ttl": 86400},
        ):
            refused = await client.post("/dashboard/dev/token", json=body)
            assert refused.status_code == 422, body

    # Anywhere else the endpoints do not exist: another environment, another key, a real IdP.
    for overrides in (
        {"environment": "test", "auth_jwks_file": dev_jwks},
        {"environment": "development", "auth_jwks_file": test_jwks_file},
        {"environment": "development", "auth_jwks_file": None},
    ):
        app = await dashboard_app(build_service_app, **overrides)
        async with running_app(app) as client:
            shell = (await client.get("/dashboard/overview")).text
            assert config_of(shell)["devTokens"] is False, overrides
            assert (await client.get("/dashboard/dev/organizations")).status_code == 404
            answer = await client.post(
                "/dashboard/dev/token", json={"org_id": "org-1", "role": "coordinator"}
            )
            assert answer.status_code == 404, overrides
            assert answer.headers["content-type"] == "application/problem+json"


def test_each_vendored_file_is_the_one_its_readme_records() -> None:
    vendor = STATIC_DIR / "vendor"
    readme = (vendor / "README.md").read_text()
    assert "| `uplot/` | `uplot` (npm), by Leon Sorokin | 1.6.32 | MIT" in readme
    assert (vendor / "uplot" / "LICENSE").read_text().startswith("The MIT License")
    for name in ("uplot/uPlot.iife.min.js", "uplot/uPlot.min.css"):
        digest = hashlib.sha256((vendor / name).read_bytes()).hexdigest()
        assert f"{digest}  {name}" in readme, name
