"""The dashboard at /dashboard: page shells, their static assets, and development tokens.

The pages hold no data. Each shell is the same HTML with the page's name, language and numerals;
its script asks the reporting API (/v1/scorecards, /v1/findings, /v1/coverage, /v1/indicators,
/v1/freshness) with the caller's bearer token and draws what comes back. So what a page shows,
counts or hints at is exactly what the API answered for that token: the access model applies
by construction, and nothing here aggregates behind it.
"""

from __future__ import annotations

import hashlib
import html
import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Cookie, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from tansiq_common.deps import ReadSession
from tansiq_common.problems import NotFound

from tansiq_reporting.dashboard import devtokens
from tansiq_reporting.dashboard.i18n import Digits, Lang, words
from tansiq_reporting.readmodels.tables import rm_organizations

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
BASE = "/dashboard"
STATIC = f"{BASE}/static"
PAGES = ("overview", "findings", "coverage", "indicators", "freshness")
Page = Literal["overview", "findings", "coverage", "indicators", "freshness"]
LANG_COOKIE = "tansiq_lang"
DIGITS_COOKIE = "tansiq_digits"
PREFERENCE_MAX_AGE_S = 365 * 24 * 3600

# Only our own files, from our own origin; the API is same-origin too. Styles set from script
# go through the CSSOM, which style-src does not govern, so no 'unsafe-inline' is needed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

router = APIRouter(prefix=BASE, include_in_schema=False)


@dataclass(frozen=True)
class Asset:
    path: Path
    media_type: str
    etag: str


def _index_assets() -> dict[str, Asset]:
    """Every file under static/, read once: nothing else can be served from there."""
    assets = {}
    for path in sorted(STATIC_DIR.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if media_type.startswith("text/") or media_type.endswith("javascript"):
            media_type += "; charset=utf-8"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        assets[path.relative_to(STATIC_DIR).as_posix()] = Asset(path, media_type, f'"{digest}"')
    return assets


ASSETS = _index_assets()
# Changes whenever an asset does: the shell's links carry it, so browsers never mix versions.
VERSION = hashlib.sha256("".join(a.etag for a in ASSETS.values()).encode()).hexdigest()[:12]
SHELL = Template((HERE / "shell.html").read_text(encoding="utf-8"))


def _json_for_html(value: Any) -> str:
    """JSON safe inside a <script type="application/json"> element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _lang(value: str | None) -> Lang | None:
    return "ar" if value == "ar" else "en" if value == "en" else None


def _digits(value: str | None) -> Digits | None:
    return "arab" if value == "arab" else "latn" if value == "latn" else None


def _preferred_lang(accept_language: str | None) -> Lang:
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("ar"):
            return "ar"
        if tag.startswith("en"):
            return "en"
    return "en"


def render_shell(request: Request, page: Page, lang: Lang, digits: Digits, dev_tokens: bool) -> str:
    text = words(lang)
    other: Lang = "en" if lang == "ar" else "ar"
    current = ' aria-current="page"'
    nav = "\n".join(
        f'    <a href="{BASE}/{name}"{current if name == page else ""}>'
        f"{html.escape(text[f'nav.{name}'])}</a>"
        for name in PAGES
    )
    config = {
        "page": page,
        "lang": lang,
        "digits": digits,
        "base": BASE,
        "devTokens": dev_tokens,
        "pages": list(PAGES),
    }
    e = html.escape
    return SHELL.substitute(
        lang=lang,
        dir="rtl" if lang == "ar" else "ltr",
        digits=digits,
        page=page,
        page_title=e(text[f"nav.{page}"]),
        app_title=e(text["app.title"]),
        brand=e(text["app.brand"]),
        skip=e(text["app.skip"]),
        static=STATIC,
        version=VERSION,
        config=_json_for_html(config),
        words=_json_for_html(text),
        nav_label=e(text["nav.label"]),
        nav=nav,
        other_lang=other,
        other_lang_href=e(f"{BASE}/{page}?lang={other}"),
        lang_label=e(text["lang.switch_label"]),
        lang_switch=e(text["lang.switch"]),
        digits_label=e(text["digits.label"]),
        digits_latn=e(text["digits.latn"]),
        digits_arab=e(text["digits.arab"]),
        latn_selected=" selected" if digits == "latn" else "",
        arab_selected=" selected" if digits == "arab" else "",
        loading=e(text["loading"]),
    )


LangQuery = Annotated[Lang | None, Query(description="en or ar; remembered in a cookie")]
DigitsQuery = Annotated[Digits | None, Query(description="latn (123) or arab (١٢٣)")]


@router.get("", response_class=RedirectResponse)
async def dashboard_home() -> RedirectResponse:
    return RedirectResponse(f"{BASE}/overview", status_code=307)


@router.get("/static/{asset:path}")
async def static_asset(asset: str, request: Request) -> Response:
    found = ASSETS.get(asset)
    if found is None:
        raise NotFound("No such dashboard file.")
    headers = {
        "ETag": found.etag,
        # The shell asks for them with ?v=<version>: a new release gets new URLs.
        "Cache-Control": "public, max-age=86400",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    return Response(found.path.read_bytes(), media_type=found.media_type, headers=headers)


@router.get("/{page}", response_class=HTMLResponse)
async def dashboard_page(
    page: Page,
    request: Request,
    lang: LangQuery = None,
    digits: DigitsQuery = None,
    lang_cookie: Annotated[str | None, Cookie(alias=LANG_COOKIE)] = None,
    digits_cookie: Annotated[str | None, Cookie(alias=DIGITS_COOKIE)] = None,
) -> HTMLResponse:
    chosen_lang = (
        lang or _lang(lang_cookie) or _preferred_lang(request.headers.get("accept-language"))
    )
    chosen_digits = digits or _digits(digits_cookie) or ("arab" if chosen_lang == "ar" else "latn")
    dev = devtokens.development_key(request.app.state.settings) is not None
    body = render_shell(request, page, chosen_lang, chosen_digits, dev)
    response = HTMLResponse(body, headers=PAGE_HEADERS)
    for name, value in ((LANG_COOKIE, lang), (DIGITS_COOKIE, digits)):
        if value is not None:
            response.set_cookie(
                name, value, max_age=PREFERENCE_MAX_AGE_S, path=BASE, samesite="lax"
            )
    return response


# --- development tokens (404 unless the service trusts only the development key) -------------


class DevTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_id: str = Field(min_length=1, max_length=100)
    role: Literal["viewer", "editor", "coordinator", "auditor"]
    sub: str = Field("dashboard-dev", min_length=1, max_length=100, pattern=r"^[\w .@-]+$")


class DevTokenOut(BaseModel):
    token: str
    expires_in: int


def _development_key(request: Request) -> Any:
    key = devtokens.development_key(request.app.state.settings)
    if key is None:
        raise NotFound()
    return key


@router.get("/dev/organizations")
async def dev_organizations(request: Request, session: ReadSession) -> dict[str, Any]:
    """National organizations the replica knows, to mint a token for (development only)."""
    _development_key(request)
    o = rm_organizations
    rows = await session.execute(
        sa.select(
            o.c.id, o.c.kind, o.c.country, o.c.name_ar, o.c.name_en, o.c.acronym, o.c.coordinating
        )
        .where(o.c.scope == "national", o.c.status == "active")
        .order_by(o.c.country, sa.desc(o.c.coordinating), o.c.name_en, o.c.id)
        .limit(500)
    )
    return {
        "items": [
            {
                "id": row.id,
                "kind": row.kind,
                "country": row.country,
                "names": {"ar": row.name_ar, "en": row.name_en},
                "acronym": row.acronym,
                "coordinating_body": bool(row.coordinating),
            }
            for row in rows
        ]
    }


@router.post("/dev/token", response_model=DevTokenOut)
async def dev_token(body: DevTokenIn, request: Request) -> DevTokenOut:
    """A one-hour token signed by the development key (development only)."""
    key = _development_key(request)
    token = devtokens.mint(
        request.app.state.settings, key, org=body.org_id, role=body.role, sub=body.sub
    )
    return DevTokenOut(token=token, expires_in=devtokens.DEV_TOKEN_TTL_S)
