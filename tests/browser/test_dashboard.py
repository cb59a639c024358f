"""The dashboard in a real browser (headless Debian chromium) against the four running services
with the demo data: every page in English and Arabic, the charts, a coordinator's decisions,
right-to-left layout, numerals, tablet width, and visibility as the API gives it.

Screenshots of every page in both languages land in .local/screenshots/; with
TANSIQ_UPDATE_DOCS_SCREENSHOT=1 the English overview is also written to docs/.
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Any

import pytest
from playwright.async_api import Page

from .conftest import REPO, TABLET, Stack

pytestmark = pytest.mark.e2e

PAGES = ("overview", "findings", "coverage", "indicators", "freshness")
ARABIC_INDIC = re.compile("[٠-٩]")
LATIN_DIGIT = re.compile("[0-9]")

# Pixels of a canvas painted in a colour (null: in any colour). A drawn chart has its axes and
# labels; its series shows in the series' own colour.
PAINTED_PIXELS = """(canvas, rgb) => {
  const { width, height } = canvas;
  if (!width || !height) return 0;
  const data = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  let painted = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] === 0) continue;
    if (!rgb || (Math.abs(data[i] - rgb[0]) < 24 && Math.abs(data[i + 1] - rgb[1]) < 24
        && Math.abs(data[i + 2] - rgb[2]) < 24 && data[i + 3] > 128)) painted += 1;
  }
  return painted;
}"""
ACCENT = (122, 31, 61)  # the scorecards' trend line
ACTUAL_BLUE = (45, 93, 159)  # an indicator's actual values


async def painted_canvases(
    page: Page, selector: str, rgb: tuple[int, int, int] | None = None
) -> list[int]:
    canvases = page.locator(f"{selector} canvas")
    return [
        await canvases.nth(i).evaluate(PAINTED_PIXELS, list(rgb) if rgb else None)
        for i in range(await canvases.count())
    ]


async def text_of(page: Page) -> str:
    return await page.locator("body").inner_text()


async def test_every_page_renders_in_english_and_arabic_without_console_errors(
    dashboard_stack: Stack, open_browser: Any
) -> None:
    stack = dashboard_stack
    token = stack.token("ICD", "coordinator", sub="amal")
    cards = stack.every(token, "/v1/scorecards", months=36)
    indicators = stack.every(token, "/v1/indicators", status="active")
    assert len(indicators) == 4, "seed 000's four targets"
    for lang in ("en", "ar"):
        watched = await open_browser(token=token)
        for name in PAGES:
            page = await watched.open(stack.reporting, f"/dashboard/{name}?lang={lang}")
            html = page.locator("html")
            assert await html.get_attribute("lang") == lang
            direction = await page.evaluate("getComputedStyle(document.body).direction")
            assert direction == ("rtl" if lang == "ar" else "ltr")
            assert await page.locator(".notice.error").count() == 0, await text_of(page)
            if name == "overview":
                shown = await page.locator("#scorecards .scorecard").count()
                assert shown == len(cards)
                painted = await painted_canvases(page, "#scorecards")
                assert len(painted) == len(cards)
                assert all(p > 500 for p in painted), painted
                # Each ministry with a scored month shows its trend in the accent colour.
                lines = await page.locator("#scorecards .scorecard").evaluate_all(
                    "els => els.map(e => e.dataset.ministry)"
                )
                trend = await painted_canvases(page, "#scorecards", ACCENT)
                for ministry, pixels in zip(lines, trend, strict=True):
                    card = next(c for c in cards if c["ministry_id"] == ministry)
                    scored = any(p["score"] is not None for p in card["trend"])
                    assert (pixels > 5) == scored, (ministry, pixels, card["trend"])
                assert await page.locator("#by-rule li").count() == 7
            elif name == "findings":
                assert await page.locator("#finding-list li").count() > 0
                await page.locator("#finding-list button.finding").first.click()
                await page.wait_for_selector("#finding-detail[data-id] .records li")
                # The explanation and resolution come in the page's language.
                explanation = await page.locator("#finding-detail .explanation").inner_text()
                arabic = re.search("[\u0600-\u06ff]", explanation) is not None
                assert arabic == (lang == "ar"), explanation
            elif name == "coverage":
                assert await page.locator("#heat-map td.cell:not(.empty)").count() > 0
                assert await page.locator("#last-contact tbody tr").count() > 0
            elif name == "indicators":
                assert await page.locator("#indicators .indicator").count() == 4
                painted = await painted_canvases(page, "#indicators", ACTUAL_BLUE)
                assert len(painted) == 4
                assert all(p > 100 for p in painted), painted
                assert await page.locator(".indicator .standing").count() == 4
            elif name == "freshness":
                topics = await page.locator("#freshness-table tbody tr").all_inner_texts()
                assert any("agreements.agreement.v1" in row for row in topics)
            await watched.screenshot(f"{name}-{lang}")
        assert watched.errors == [], watched.errors
    if os.environ.get("TANSIQ_UPDATE_DOCS_SCREENSHOT") == "1":
        shutil.copyfile(
            REPO / ".local/screenshots/overview-en.png", REPO / "docs/dashboard-overview.png"
        )


async def test_arabic_lays_out_right_to_left_with_the_numerals_chosen(
    dashboard_stack: Stack, open_browser: Any
) -> None:
    stack = dashboard_stack
    watched = await open_browser(token=stack.token("ICD", "coordinator"))
    page = await watched.open(stack.reporting, "/dashboard/overview?lang=ar")
    assert await page.locator("html").get_attribute("dir") == "rtl"
    # The brand starts the header on the right, the page links follow to its left.
    brand = await page.locator(".brand").bounding_box()
    first_link = await page.locator(".pages a").first.bounding_box()
    assert brand is not None
    assert first_link is not None
    assert brand["x"] > first_link["x"]
    score = await page.locator("#scorecards .score").first.inner_text()
    assert ARABIC_INDIC.search(score), score
    assert not LATIN_DIGIT.search(score), score

    # Latin numerals on request, remembered for the next page.
    await page.select_option("#digits-choice", "latn")
    await page.wait_for_selector("#view[data-ready='true']")
    score = await page.locator("#scorecards .score").first.inner_text()
    assert LATIN_DIGIT.search(score), score
    assert not ARABIC_INDIC.search(score), score
    page = await watched.open(stack.reporting, "/dashboard/indicators")
    assert await page.locator("html").get_attribute("dir") == "rtl"
    figures = await page.locator(".indicator .figures").first.inner_text()
    assert LATIN_DIGIT.search(figures), figures
    assert not ARABIC_INDIC.search(figures), figures

    # And back to English through the header's link.
    await page.click("a.lang-switch")
    await page.wait_for_selector("html[lang='en'] #view[data-ready='true']")
    assert await page.evaluate("getComputedStyle(document.body).direction") == "ltr"
    assert watched.errors == [], watched.errors


async def test_readable_on_a_tablet(dashboard_stack: Stack, open_browser: Any) -> None:
    stack = dashboard_stack
    watched = await open_browser(token=stack.token("ICD", "coordinator"), viewport=TABLET)
    for name, lang in (("overview", "ar"), ("findings", "en"), ("indicators", "en")):
        page = await watched.open(stack.reporting, f"/dashboard/{name}?lang={lang}")
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} scrolls sideways on a tablet by {overflow}px"
        if name == "findings":
            # The drill-down sits under the list here; choosing a finding brings it into view.
            await page.locator("#finding-list button.finding").nth(2).click()
            await page.wait_for_selector("#finding-detail[data-id] .records li")
            top = await page.evaluate(
                "document.getElementById('finding-detail').getBoundingClientRect().top"
            )
            assert 0 <= top < TABLET["height"], top
        await watched.screenshot(f"{name}-{lang}-tablet")
    assert watched.errors == [], watched.errors


async def test_a_coordinator_acknowledges_and_accepts_findings(
    dashboard_stack: Stack, open_browser: Any
) -> None:
    stack = dashboard_stack
    token = stack.token("ICD", "coordinator", sub="amal")
    watched = await open_browser(token=token)
    page = await watched.open(stack.reporting, "/dashboard/findings?status=open&lang=en")
    first = page.locator("#finding-list li").first
    finding_id = await first.get_attribute("data-id")
    await first.locator("button.finding").click()
    await page.wait_for_selector(f"#finding-detail[data-id='{finding_id}'][data-status='open']")
    await page.click("#acknowledge")
    await page.wait_for_selector(
        f"#finding-detail[data-id='{finding_id}'][data-status='acknowledged']"
    )
    assert "Saved." in await page.locator("#finding-detail .notice.ok").inner_text()
    assert "Acknowledged by amal" in await page.locator("#finding-detail").inner_text()
    # The list shows the new state, and the API holds it.
    assert (
        await page.locator(f"#finding-list li[data-id='{finding_id}'] [data-status]").inner_text()
        == "acknowledged"
    )
    assert stack.api(token, f"/v1/findings/{finding_id}")["status"] == "acknowledged"

    # Accepting needs a justification; with one, the finding becomes an accepted exception.
    await page.click("#accept")
    assert await page.locator("#finding-detail").get_attribute("data-status") == "acknowledged"
    await page.fill("#justification", "Signed at the forum; clearance requested afterwards.")
    await page.click("#accept")
    await page.wait_for_selector(f"#finding-detail[data-id='{finding_id}'][data-status='accepted']")
    accepted = stack.api(token, f"/v1/findings/{finding_id}")
    assert accepted["status"] == "accepted"
    assert accepted["acceptance"]["justification"].startswith("Signed at the forum")
    assert await page.locator("#acknowledge").count() == 0
    assert watched.errors == [], watched.errors


async def test_a_viewer_of_one_ministry_sees_no_other_ministrys_restricted_records(
    dashboard_stack: Stack, open_browser: Any
) -> None:
    stack = dashboard_stack
    coordinator = stack.token("ICD", "coordinator")
    # What only the coordinator may see: the restricted findings and the records they name.
    restricted = [
        f for f in stack.every(coordinator, "/v1/findings") if f["visibility"] == "restricted"
    ]
    assert restricted, "the demo data carries restricted records (seed 004)"
    msdf = stack.orgs["MSDF"]
    foreign = [f for f in restricted if f["ministry_id"] != msdf]
    assert foreign
    hidden_titles = set()
    for f in foreign:
        detail = stack.api(coordinator, f"/v1/findings/{f['id']}", lang="en")
        hidden_titles |= {
            r["title"]["en"] for r in detail["record_details"] if r["visibility"] == "restricted"
        }
        hidden_titles |= {
            r["title"]["ar"] for r in detail["record_details"] if r["visibility"] == "restricted"
        }
    hidden_titles.discard(None)
    assert hidden_titles

    viewer = stack.token("MSDF", "viewer", sub="noor")
    visible = stack.every(viewer, "/v1/findings")
    visible_cards = stack.every(viewer, "/v1/scorecards")
    assert {c["ministry_id"] for c in visible_cards} == {msdf}

    # The viewer signs in by pasting the token.
    watched = await open_browser()
    page = await watched.open(stack.reporting, "/dashboard/findings?status=&lang=en")
    await page.fill("#token-input", viewer)
    await page.click("#use-token")
    await page.wait_for_selector("#view[data-ready='true'] #finding-list")
    assert "Signed in as noor" in await page.locator("#session").inner_text()
    while await page.locator("#more-findings").is_visible():
        await page.click("#more-findings")
        await page.wait_for_timeout(200)
    shown = set(
        await page.locator("#finding-list li").evaluate_all("els => els.map(e => e.dataset.id)")
    )
    assert shown == {f["id"] for f in visible}
    assert not shown & {f["id"] for f in foreign}
    assert await page.locator("#finding-list .chip.restricted").count() == sum(
        1 for f in visible if f["visibility"] == "restricted"
    )
    pages_text = [await text_of(page)]
    for name in ("overview", "coverage", "indicators", "freshness"):
        for lang in ("en", "ar"):
            page = await watched.open(stack.reporting, f"/dashboard/{name}?lang={lang}")
            pages_text.append(await text_of(page))
            if name == "overview":
                ministries = await page.locator("#scorecards .scorecard").evaluate_all(
                    "els => els.map(e => e.dataset.ministry)"
                )
                assert ministries == [msdf]
                if lang == "en":
                    open_count = sum(1 for f in visible if f["status"] == "open")
                    hint = await page.locator("#open-findings .hint").inner_text()
                    assert hint == f"Open findings: {open_count}"
            if name == "coverage":
                rows = await page.locator("#heat-map tbody th.ministry").count()
                assert rows <= 1
            await watched.screenshot(f"{name}-{lang}-viewer")
    for text in pages_text:
        for title in hidden_titles:
            assert title not in text, f"restricted record {title!r} shown to another ministry"
    assert watched.errors == [], watched.errors


async def test_a_development_token_can_be_minted_from_the_page(
    dashboard_stack: Stack, open_browser: Any
) -> None:
    stack = dashboard_stack
    watched = await open_browser()
    page = await watched.open(stack.reporting, "/dashboard/overview?lang=en")
    assert await page.locator("#dev-token").is_visible()
    await page.select_option("#dev-org", stack.orgs["ICD"])
    await page.select_option("#dev-role", "coordinator")
    await page.fill("#dev-sub", "huda")
    await page.click("#mint-token")
    await page.wait_for_selector("#view[data-ready='true'] #scorecards .scorecard")
    assert "Signed in as huda" in await page.locator("#session").inner_text()
    token = await page.evaluate("sessionStorage.getItem('tansiq.dashboard.token')")
    # A token the API takes: the page works because the API answers it.
    assert stack.api(token, "/v1/scorecards")["items"]
    # Signing out forgets the token.
    await page.click("#sign-out")
    await page.wait_for_selector("#view[data-ready='true'] #paste-token")
    assert await page.evaluate("sessionStorage.getItem('tansiq.dashboard.token')") is None
    assert watched.errors == [], watched.errors


async def test_an_expired_token_brings_back_the_sign_in(
    dashboard_stack: Stack, open_browser: Any
) -> None:
    from tansiq_common.auth.devkeys import SigningKey, token_claims

    stack = dashboard_stack
    key = SigningKey.load(stack.keys_dir / "dev-signing-key.pem")
    expired = key.sign(token_claims(org=stack.orgs["ICD"], roles=["coordinator"], now=1_000_000))
    watched = await open_browser(token=expired)
    page = await watched.open(stack.reporting, "/dashboard/overview?lang=en")
    assert await page.locator("#paste-token").is_visible()
    assert "refused" in await page.locator(".notice.error").inner_text()
    assert watched.errors == [], watched.errors
