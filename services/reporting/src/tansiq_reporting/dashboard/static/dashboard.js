/* Tansiq dashboard: draws each page from the reporting API's JSON, asked with the caller's own
   bearer token. It shows, counts and links only what those answers contain, so the access model
   of the API is the dashboard's too. No framework, no build step: plain DOM, uPlot for lines. */
(function () {
  "use strict";

  const readJson = (id) => JSON.parse(document.getElementById(id).textContent);
  const CONFIG = readJson("tansiq-config");
  const WORDS = readJson("tansiq-words");
  const LANG = CONFIG.lang;
  const RTL = LANG === "ar";
  const DIGITS = CONFIG.digits;
  const LOCALE = `${LANG}-u-nu-${DIGITS}`;
  const DATE_LOCALE = `${LANG === "ar" ? "ar" : "en-GB"}-u-ca-gregory-nu-${DIGITS}`;
  const RULES = ["C1", "C2", "C3", "C4", "C5", "C6", "C7"];
  const STATUSES = ["open", "acknowledged", "accepted", "resolved"];
  const PAGE_SIZE = 500;
  // The demo's records spread over years: three of them make a readable trend.
  const TREND_MONTHS = 36;
  const MAX_PAGES = 20;
  const TOKEN_KEY = "tansiq.dashboard.token";
  const PALETTE = ["#7a1f3d", "#2d5d9f", "#1f7a4d", "#a86400", "#6a3d9a", "#00838f", "#b3261e", "#5b6473"];
  const CHART_FONT = '12px system-ui, "Segoe UI", "Noto Sans Arabic", Tahoma, "DejaVu Sans", sans-serif';

  // --- words and numbers -----------------------------------------------------------------------

  function t(key, vars) {
    let text = Object.prototype.hasOwnProperty.call(WORDS, key) ? WORDS[key] : key;
    for (const [name, value] of Object.entries(vars || {})) {
      text = text.split(`{${name}}`).join(String(value));
    }
    return text;
  }

  // A word for a value the API may add to later: the value itself when the table lacks it.
  const known = (key, value) => (Object.prototype.hasOwnProperty.call(WORDS, key) ? WORDS[key] : String(value).replace(/_/g, " "));

  const numberFormats = new Map();
  function num(value, options) {
    if (value == null || Number.isNaN(value)) return "–";
    const key = JSON.stringify(options || {});
    if (!numberFormats.has(key)) numberFormats.set(key, new Intl.NumberFormat(LOCALE, options));
    return numberFormats.get(key).format(value);
  }
  const int = (value) => num(value, { maximumFractionDigits: 0 });
  const year = (value) => num(value, { useGrouping: false, maximumFractionDigits: 0 });
  const pct = (share) => num(share, { style: "percent", maximumFractionDigits: 0 });
  const ARABIC_INDIC = "٠١٢٣٤٥٦٧٨٩";
  // Figures inside the API's sentences ("within 7 days", "2024-01-10") in the chosen numerals.
  const localDigits = (text) =>
    DIGITS === "arab" && text ? String(text).replace(/[0-9]/g, (d) => ARABIC_INDIC[Number(d)]) : text;

  function parseDate(value) {
    if (!value) return null;
    // A bare date is a calendar day: read it as UTC so no time zone moves it.
    const date = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00Z`) : new Date(value);
    return Number.isNaN(date.getTime()) ? null : date;
  }
  function day(value) {
    const date = parseDate(value);
    if (!date) return "–";
    const utc = /^\d{4}-\d{2}-\d{2}$/.test(value);
    return new Intl.DateTimeFormat(DATE_LOCALE, { dateStyle: "medium", timeZone: utc ? "UTC" : undefined }).format(date);
  }
  function moment(value) {
    const date = parseDate(value);
    if (!date) return "–";
    return new Intl.DateTimeFormat(DATE_LOCALE, { dateStyle: "medium", timeStyle: "short" }).format(date);
  }
  function month(key) {
    // "2025-03" → "Mar 25"
    const date = parseDate(`${key}-01`);
    if (!date) return key;
    return new Intl.DateTimeFormat(DATE_LOCALE, { month: "short", year: "2-digit", timeZone: "UTC" }).format(date);
  }
  function shortMonth(value) {
    // "03/24": compact enough for a heat-map cell; the cell's title has the full date.
    const date = parseDate(value);
    if (!date) return "–";
    return new Intl.DateTimeFormat(DATE_LOCALE, { month: "2-digit", year: "2-digit" }).format(date);
  }
  function age(seconds) {
    if (seconds == null) return "–";
    const units = [
      ["day", 86400, 1.5 * 86400],
      ["hour", 3600, 1.5 * 3600],
      ["minute", 60, 90],
      ["second", 1, 0],
    ];
    for (const [unit, size, from] of units) {
      if (seconds >= from) {
        return num(seconds / size, { style: "unit", unit, unitDisplay: "short", maximumFractionDigits: 0 });
      }
    }
    return num(0, { style: "unit", unit: "second", unitDisplay: "short" });
  }
  function nameOf(label, fallback) {
    if (!label) return fallback || "–";
    const names = label.names || label;
    const other = LANG === "ar" ? "en" : "ar";
    return (names && (names[LANG] || names[other])) || label.acronym || fallback || label.id || "–";
  }
  function inLang(text) {
    if (!text) return "";
    const other = LANG === "ar" ? "en" : "ar";
    return text[LANG] || text[other] || "";
  }
  const ruleLabel = (rule) => `${rule} · ${t(`rule.${rule}`)}`;

  // --- DOM -------------------------------------------------------------------------------------

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value == null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key === "style") Object.assign(el.style, value); // CSSOM: allowed by the CSP
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (value === true) el.setAttribute(key, "");
      else el.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child == null || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }
  // append() without the nulls and falses that conditional children leave.
  function put(el, ...children) {
    for (const child of children.flat(Infinity)) if (child != null && child !== false) el.append(child);
    return el;
  }
  const clear = (el) => {
    while (el.firstChild) el.firstChild.remove();
    return el;
  };
  const notice = (text, kind) => h("p", { class: `notice ${kind || ""}`, role: kind === "error" ? "alert" : "status" }, text);
  const chip = (text, kind, extra) => h("span", { class: `chip ${kind || ""}`, ...(extra || {}) }, text);
  function pageUrl(page, params) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params || {})) if (value) query.set(key, value);
    const text = query.toString();
    return `${CONFIG.base}/${page}${text ? `?${text}` : ""}`;
  }

  // --- the token -------------------------------------------------------------------------------

  const tokens = {
    get: () => sessionStorage.getItem(TOKEN_KEY),
    set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
    clear: () => sessionStorage.removeItem(TOKEN_KEY),
  };

  // The claims are read for display only (name, roles, expiry); the API verifies the token.
  function claimsOf(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const binary = atob(part.padEnd(Math.ceil(part.length / 4) * 4, "="));
      const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
      const claims = JSON.parse(new TextDecoder().decode(bytes));
      return claims && typeof claims === "object" ? claims : null;
    } catch (_) {
      return null;
    }
  }
  const rolesOf = (claims) => (Array.isArray(claims && claims.roles) ? claims.roles.map(String) : []);

  // --- the API ---------------------------------------------------------------------------------

  class SignedOut extends Error {}
  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
      this.status = status;
      this.problem = problem || {};
    }
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [key, value] of Object.entries(params || {})) {
      if (value !== undefined && value !== null && value !== "") q.set(key, value);
    }
    const text = q.toString();
    return text ? `?${text}` : "";
  }

  async function api(path, { method = "GET", body, etag } = {}) {
    const token = tokens.get();
    if (!token) throw new SignedOut();
    const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (etag) headers["If-Match"] = etag;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (err) {
      throw new ApiError(0, { detail: String((err && err.message) || err) });
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      data = { detail: text.slice(0, 200) };
    }
    if (response.status === 401) {
      tokens.clear();
      throw new SignedOut(t("token.refused"));
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return { data, etag: response.headers.get("ETag") };
  }

  // Every page of a list, up to MAX_PAGES of PAGE_SIZE; `truncated` says when more were left.
  async function collect(path, params) {
    const items = [];
    let cursor = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const { data } = await api(path + query({ ...params, limit: PAGE_SIZE, cursor }));
      items.push(...data.items);
      cursor = data.next_cursor;
      if (!cursor) return { items, truncated: false };
    }
    return { items, truncated: true };
  }

  // --- charts ----------------------------------------------------------------------------------

  const charts = [];
  const resizer =
    typeof ResizeObserver === "function"
      ? new ResizeObserver((entries) => {
          for (const entry of entries) {
            const chart = charts.find((c) => c.el === entry.target);
            const width = Math.floor(entry.contentRect.width);
            if (chart && width > 0 && width !== chart.width) {
              chart.width = width;
              chart.plot.setSize({ width, height: chart.height });
            }
          }
        })
      : null;

  /* A line chart over categories (months, years): x is their index, labels name them.
     In Arabic the x scale runs right to left and the y axis sits on the right. */
  function lineChart(el, { labels, series, yRange, yFormat, height }) {
    const width = Math.max(Math.floor(el.clientWidth) || 0, 220);
    const xs = labels.map((_, i) => i);
    // Room for a label every ~90 px (month names are long in Arabic).
    const step = Math.max(1, Math.ceil(labels.length / Math.max(2, Math.floor(width / 90))));
    const plot = new uPlot(
      {
        width,
        height,
        legend: { show: false },
        cursor: { drag: { x: false, y: false }, points: { size: 7 } },
        scales: {
          x: { time: false, dir: RTL ? -1 : 1, range: () => [-0.4, Math.max(labels.length - 1, 0) + 0.4] },
          y: { range: yRange },
        },
        axes: [
          {
            stroke: "#5b6473",
            font: CHART_FONT,
            grid: { show: false },
            ticks: { show: false },
            space: 28,
            incrs: [1, 2, 3, 4, 6, 12, 24],
            values: (u, splits) => splits.map((v) => (Number.isInteger(v) && v % step === 0 && labels[v] != null ? labels[v] : "")),
          },
          {
            side: RTL ? 1 : 3,
            stroke: "#5b6473",
            font: CHART_FONT,
            size: 52,
            grid: { stroke: "#eceff3", width: 1 },
            ticks: { show: false },
            values: (u, splits) => splits.map((v) => yFormat(v)),
          },
        ],
        series: [
          {},
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: s.width || 2,
            dash: s.dash,
            spanGaps: s.spanGaps !== false,
            points: { show: true, size: s.pointSize || 5, fill: s.color, stroke: s.color },
          })),
        ],
      },
      [xs, ...series.map((s) => s.values)],
      el,
    );
    const chart = { el, plot, width, height };
    charts.push(chart);
    if (resizer) resizer.observe(el);
    return plot;
  }

  function legend(items) {
    return h(
      "div",
      { class: "legend" },
      items.map((item) =>
        h(
          "span",
          { style: { color: item.color } },
          h("span", { class: `swatch ${item.dashed ? "dashed" : ""}`, style: item.dashed ? {} : { background: item.color } }),
          h("span", { style: { color: "var(--muted)" } }, item.label),
        ),
      ),
    );
  }

  // --- session and preferences -----------------------------------------------------------------

  function showSession(claims) {
    const box = clear(document.getElementById("session"));
    if (!claims) return;
    const roles = rolesOf(claims).map((r) => t(`role.${r}`)).join(RTL ? "، " : ", ");
    box.append(
      h("span", { class: "who", title: claims.org ? `org ${claims.org}` : null }, t("token.signed_in", { sub: claims.sub || "?" }), " · ", roles),
      h(
        "button",
        {
          type: "button",
          id: "sign-out",
          onclick: () => {
            tokens.clear();
            window.location.reload();
          },
        },
        t("token.sign_out"),
      ),
    );
  }

  function wirePreferences() {
    const select = document.getElementById("digits-choice");
    select.addEventListener("change", () => {
      const url = new URL(window.location.href);
      url.searchParams.set("digits", select.value);
      window.location.assign(url.toString());
    });
    // Keep the page's own parameters (filters, the finding shown) across a language switch.
    for (const link of document.querySelectorAll("a.lang-switch")) {
      link.addEventListener("click", (event) => {
        event.preventDefault();
        const url = new URL(window.location.href);
        url.searchParams.set("lang", link.dataset.lang);
        window.location.assign(url.toString());
      });
    }
  }

  // --- signing in ------------------------------------------------------------------------------

  async function signIn(view, message) {
    clear(view);
    if (message) view.append(notice(message, "error"));
    const input = h("textarea", { id: "token-input", rows: 4, spellcheck: "false", autocomplete: "off", dir: "ltr", required: true });
    const problem = h("p", { class: "muted", role: "alert" });
    const paste = h(
      "section",
      { class: "panel signin", id: "paste-token" },
      h("h2", {}, t("token.title")),
      h("p", { class: "hint" }, t("token.intro")),
      h(
        "form",
        {
          onsubmit: (event) => {
            event.preventDefault();
            const value = input.value.trim().replace(/^bearer\s+/i, "");
            if (!/^[\w-]+\.[\w-]+\.[\w-]*$/.test(value) || !claimsOf(value)) {
              problem.textContent = t("token.bad");
              return;
            }
            tokens.set(value);
            window.location.reload();
          },
        },
        h("label", { for: "token-input" }, t("token.paste")),
        input,
        problem,
        h("div", {}, h("button", { type: "submit", id: "use-token" }, t("token.use"))),
      ),
    );
    view.append(paste);
    if (CONFIG.devTokens) view.append(await devTokenPanel());
  }

  async function devTokenPanel() {
    const panel = h("section", { class: "panel signin", id: "dev-token" }, h("h2", {}, t("token.dev_title")), h("p", { class: "hint" }, t("token.dev_note")));
    let organizations = [];
    try {
      const response = await fetch(`${CONFIG.base}/dev/organizations`, { cache: "no-store", credentials: "omit" });
      if (response.ok) organizations = (await response.json()).items;
    } catch (_) {
      organizations = [];
    }
    if (!organizations.length) {
      panel.append(notice(t("token.no_orgs")));
      return panel;
    }
    const orgSelect = h(
      "select",
      { id: "dev-org" },
      organizations.map((o) =>
        h("option", { value: o.id }, `${o.coordinating_body ? "★ " : ""}${nameOf(o)}${o.acronym ? ` (${o.acronym})` : ""} · ${o.country || ""}`),
      ),
    );
    const roleSelect = h(
      "select",
      { id: "dev-role" },
      ["coordinator", "viewer", "editor", "auditor"].map((r) => h("option", { value: r }, t(`role.${r}`))),
    );
    const subInput = h("input", { id: "dev-sub", value: "dashboard-dev", maxlength: 100, dir: "auto" });
    const problem = h("p", { class: "muted", role: "alert" });
    panel.append(
      h(
        "form",
        {
          onsubmit: async (event) => {
            event.preventDefault();
            problem.textContent = "";
            const response = await fetch(`${CONFIG.base}/dev/token`, {
              method: "POST",
              headers: { "Content-Type": "application/json" },
              body: JSON.stringify({ org_id: orgSelect.value, role: roleSelect.value, sub: subInput.value.trim() || "dashboard-dev" }),
              credentials: "omit",
            });
            const body = await response.json().catch(() => ({}));
            if (!response.ok) {
              problem.textContent = t("failed", { detail: body.detail || response.status });
              return;
            }
            tokens.set(body.token);
            window.location.reload();
          },
        },
        h(
          "div",
          { class: "row" },
          h("label", {}, t("token.org"), orgSelect),
          h("label", {}, t("token.role"), roleSelect),
          h("label", {}, t("token.name"), subInput),
        ),
        problem,
        h("div", {}, h("button", { type: "submit", id: "mint-token" }, t("token.mint"))),
      ),
    );
    return panel;
  }

  // --- overview --------------------------------------------------------------------------------

  async function overview(view) {
    const [cards, open] = await Promise.all([collect("/v1/scorecards", { months: TREND_MONTHS }), collect("/v1/findings", { status: "open", lang: LANG })]);
    clear(view);
    view.append(scorecardSection(cards), openFindingsSection(open));
  }

  function scoreClass(score) {
    if (score == null) return "";
    return score >= 0.8 ? "good" : score >= 0.5 ? "warn" : "bad";
  }

  function scorecardSection({ items, truncated }) {
    const section = h("section", { class: "panel", id: "scorecards" }, h("h2", {}, t("overview.scorecards")), h("p", { class: "hint" }, t("overview.scorecards_hint")));
    if (truncated) section.append(notice(t("truncated", { n: int(items.length) })));
    if (!items.length) {
      section.append(h("p", { class: "muted" }, t("empty")));
      return section;
    }
    const sorted = [...items].sort((a, b) => (a.score ?? 2) - (b.score ?? 2) || nameOf(a).localeCompare(nameOf(b), LANG));
    const grid = h("div", { class: "cards" });
    section.append(grid);
    const pending = [];
    sorted.forEach((card) => {
      const rules = RULES.filter((r) => card.by_rule && card.by_rule[r] > 0);
      const chartEl = h("div", { class: "chart small", role: "img", "aria-label": `${t("overview.trend")}: ${nameOf(card)}` });
      grid.append(
        h(
          "article",
          { class: "card scorecard", dataset: { ministry: card.ministry_id } },
          h("h3", { dir: "auto" }, nameOf(card), card.acronym ? h("span", { class: "muted" }, ` (${card.acronym})`) : null),
          h(
            "div",
            { class: "score-line" },
            h("span", { class: `score ${scoreClass(card.score)}` }, card.score == null ? "–" : pct(card.score)),
            h(
              "span",
              { class: "muted" },
              card.records ? t("overview.records", { n: int(card.records), m: int(card.records_with_findings) }) : t("overview.no_records"),
            ),
          ),
          h(
            "div",
            { class: "chips" },
            rules.map((r) =>
              h(
                "a",
                { href: pageUrl("findings", { rule: r, ministry_id: card.ministry_id }), class: "chip warn", title: t(`rule.${r}`) },
                `${r} ${int(card.by_rule[r])}`,
              ),
            ),
          ),
          chartEl,
        ),
      );
      pending.push(() =>
        lineChart(chartEl, {
          labels: card.trend.map((p) => month(p.month)),
          series: [{ label: t("overview.trend"), color: PALETTE[0], values: card.trend.map((p) => p.score) }],
          yRange: [0, 1],
          yFormat: pct,
          height: 110,
        }),
      );
    });
    // Drawn once the cards are in the page, so each chart knows its width.
    requestAnimationFrame(() => pending.forEach((draw) => draw()));
    return section;
  }

  function openFindingsSection({ items, truncated }) {
    const section = h("section", { class: "panel", id: "open-findings" });
    const byRule = Object.fromEntries(RULES.map((r) => [r, 0]));
    const byMinistry = new Map();
    for (const f of items) {
      byRule[f.rule] = (byRule[f.rule] || 0) + 1;
      const row = byMinistry.get(f.ministry_id) || { label: f.ministry, id: f.ministry_id, counts: {}, total: 0 };
      row.counts[f.rule] = (row.counts[f.rule] || 0) + 1;
      row.total += 1;
      byMinistry.set(f.ministry_id, row);
    }
    const max = Math.max(1, ...Object.values(byRule));
    put(
      section,
      h("h2", {}, t("overview.open_by_rule")),
      h("p", { class: "hint" }, t("overview.open_total", { n: int(items.length) })),
      truncated ? notice(t("truncated", { n: int(items.length) })) : null,
    );
    const columns = h("div", { class: "two-columns" });
    columns.append(
      h(
        "ul",
        { class: "bars", id: "by-rule" },
        RULES.map((r) =>
          h(
            "li",
            { dataset: { rule: r } },
            h("a", { href: pageUrl("findings", { rule: r, status: "open" }) }, ruleLabel(r)),
            h("span", { class: "bar" }, h("span", { class: "fill", style: { width: `${(100 * byRule[r]) / max}%`, display: "block" } })),
            h("span", { class: "value" }, int(byRule[r])),
          ),
        ),
      ),
    );
    const rows = [...byMinistry.values()].sort((a, b) => b.total - a.total);
    const table = h(
      "table",
      { id: "by-ministry" },
      h("caption", { class: "muted", style: { textAlign: "start", captionSide: "top", paddingBottom: "4px" } }, t("overview.open_by_ministry")),
      h("thead", {}, h("tr", {}, h("th", {}, t("ministry")), RULES.map((r) => h("th", { class: "num", title: t(`rule.${r}`) }, r)), h("th", { class: "num" }, t("total")))),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h(
            "tr",
            {},
            h("td", { dir: "auto" }, nameOf(row.label, row.id)),
            RULES.map((r) =>
              h(
                "td",
                { class: "num" },
                row.counts[r] ? h("a", { href: pageUrl("findings", { rule: r, ministry_id: row.id, status: "open" }) }, int(row.counts[r])) : h("span", { class: "muted" }, "·"),
              ),
            ),
            h("td", { class: "num" }, h("b", {}, int(row.total))),
          ),
        ),
      ),
    );
    columns.append(h("div", { class: "scroll" }, rows.length ? table : h("p", { class: "muted" }, t("empty"))));
    section.append(columns);
    return section;
  }

  // --- findings --------------------------------------------------------------------------------

  async function findings(view) {
    const params = new URLSearchParams(window.location.search);
    const filters = {
      rule: RULES.includes(params.get("rule")) ? params.get("rule") : "",
      status: STATUSES.includes(params.get("status")) ? params.get("status") : params.has("status") ? "" : "open",
      ministry_id: params.get("ministry_id") || "",
      since: /^\d{4}-\d{2}-\d{2}$/.test(params.get("since") || "") ? params.get("since") : "",
    };
    const claims = claimsOf(tokens.get());
    const decides = rolesOf(claims).includes("coordinator");
    const ministries = new Map();
    try {
      for (const card of (await collect("/v1/scorecards", {})).items) ministries.set(card.ministry_id, nameOf(card));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 403)) throw err;
    }

    clear(view);
    const list = h("ul", { class: "finding-list", id: "finding-list" });
    const count = h("p", { class: "muted", id: "finding-count" });
    const more = h("button", { type: "button", class: "secondary", hidden: true, id: "more-findings" }, t("findings.more"));
    const detail = h("section", { class: "panel detail", id: "finding-detail", "aria-live": "polite" }, h("p", { class: "muted" }, t("findings.choose")));

    const ruleSelect = h("select", { name: "rule" }, h("option", { value: "" }, t("all")), RULES.map((r) => h("option", { value: r, selected: r === filters.rule }, ruleLabel(r))));
    const statusSelect = h("select", { name: "status" }, h("option", { value: "" }, t("all")), STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, t(`status.${s}`))));
    const ministrySelect = h("select", { name: "ministry_id" });
    const sinceInput = h("input", { type: "date", name: "since", value: filters.since, dir: "ltr" });
    function fillMinistries() {
      const current = ministrySelect.value || filters.ministry_id;
      put(
        clear(ministrySelect),
        h("option", { value: "" }, t("all")),
        [...ministries.entries()]
          .sort((a, b) => a[1].localeCompare(b[1], LANG))
          .map(([id, name]) => h("option", { value: id, selected: id === current }, name)),
      );
      if (current && !ministries.has(current)) ministrySelect.append(h("option", { value: current, selected: true }, current));
    }
    fillMinistries();

    const form = h(
      "form",
      {
        class: "filters",
        id: "finding-filters",
        onsubmit: (event) => {
          event.preventDefault();
          filters.rule = ruleSelect.value;
          filters.status = statusSelect.value;
          filters.ministry_id = ministrySelect.value;
          filters.since = sinceInput.value;
          rememberFilters(filters, null);
          load(true);
        },
      },
      h("label", {}, t("rule"), ruleSelect),
      h("label", {}, t("status"), statusSelect),
      h("label", {}, t("ministry"), ministrySelect),
      h("label", {}, t("findings.since"), sinceInput),
      h("button", { type: "submit", id: "apply-filters" }, t("findings.apply")),
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: () => window.location.assign(pageUrl("findings")),
        },
        t("findings.reset"),
      ),
    );
    view.append(
      h("section", { class: "panel" }, h("h2", {}, t("findings.filters")), form),
      h("div", { class: "two-columns" }, h("section", { class: "panel finding-pane" }, count, list, more), detail),
    );

    let cursor = null;
    let shown = 0;
    const rows = new Map();

    async function load(fresh) {
      if (fresh) {
        clear(list);
        rows.clear();
        shown = 0;
        cursor = null;
      }
      more.disabled = true;
      const { data } = await api(
        "/v1/findings" +
          query({
            rule: filters.rule,
            status: filters.status,
            ministry_id: filters.ministry_id,
            since: filters.since ? `${filters.since}T00:00:00Z` : "",
            lang: LANG,
            limit: 50,
            cursor,
          }),
      );
      for (const f of data.items) {
        if (f.ministry) ministries.set(f.ministry_id, nameOf(f.ministry, f.ministry_id));
        const item = h("li", { dataset: { id: f.id } }, findingButton(f));
        rows.set(f.id, item);
        list.append(item);
      }
      shown += data.items.length;
      cursor = data.next_cursor;
      more.hidden = !cursor;
      more.disabled = false;
      count.textContent = shown ? t("findings.shown", { n: int(shown) }) : t("empty");
      fillMinistries();
    }

    function findingButton(f) {
      return h(
        "button",
        { type: "button", class: "finding", onclick: () => select(f.id) },
        h(
          "span",
          { class: "meta" },
          h("span", { class: "rule-tag" }, ruleLabel(f.rule)),
          h("span", { dir: "auto" }, nameOf(f.ministry, f.ministry_id)),
          statusChip(f.status),
          f.visibility === "restricted" ? chip(t("restricted"), "restricted") : null,
          h("span", {}, day(f.opened_at)),
        ),
        h("span", { class: "text", dir: "auto", style: { display: "block" } }, localDigits(f.explanation)),
      );
    }

    async function select(id, message) {
      for (const [key, item] of rows) item.classList.toggle("selected", key === id);
      rememberFilters(filters, id);
      clear(detail).append(h("p", { class: "muted" }, t("loading")));
      let answer;
      try {
        answer = await api(`/v1/findings/${encodeURIComponent(id)}${query({ lang: LANG })}`);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          clear(detail).append(notice(t("findings.gone"), "error"));
          return;
        }
        throw err;
      }
      const f = answer.data;
      const row = rows.get(f.id);
      if (row) clear(row).append(findingButton(f));
      put(clear(detail), findingDetail(f, answer.etag, message));
      detail.dataset.id = f.id;
      detail.dataset.status = f.status;
      // Stacked under the list (a tablet held upright): bring the drill-down into view.
      if (!message && detail.getBoundingClientRect().top > window.innerHeight) detail.scrollIntoView({ block: "start" });
    }

    function findingDetail(f, etag, message) {
      const parts = [
        message ? notice(message.text, message.kind) : null,
        h("h2", {}, ruleLabel(f.rule)),
        h("div", { class: "chips" }, statusChip(f.status), f.visibility === "restricted" ? chip(t("restricted"), "restricted") : chip(t("interagency"), "info")),
        h(
          "dl",
          {},
          h("dt", {}, t("ministry")),
          h("dd", { dir: "auto" }, nameOf(f.ministry, f.ministry_id)),
          h("dt", {}, t("status")),
          h("dd", {}, t(`status.${f.status}`), " · ", t("findings.opened", { date: day(f.opened_at) }), f.resolved_at ? ` · ${t("findings.resolved", { date: day(f.resolved_at) })}` : ""),
          f.partners && f.partners.length ? [h("dt", {}, t("findings.partners")), h("dd", { dir: "auto" }, f.partners.map((p) => nameOf(p)).join(" · "))] : null,
        ),
        h("h3", {}, t("findings.explanation")),
        h("p", { dir: "auto", class: "explanation" }, localDigits(f.explanation)),
        h("h3", {}, t("findings.resolution")),
        h("p", { dir: "auto", class: "resolution" }, localDigits(f.resolution)),
        h("h3", {}, t("findings.records")),
        h(
          "ul",
          { class: "records" },
          (f.record_details || []).map((r) =>
            h(
              "li",
              { dataset: { type: r.type, id: r.id } },
              h(
                "div",
                { class: "chips" },
                chip(t(r.type)),
                r.kind ? chip(known(`kind.${r.kind}`, r.kind)) : null,
                r.status ? chip(known(`state.${r.status}`, r.status)) : null,
                r.visibility === "restricted" ? chip(t("restricted"), "restricted") : null,
              ),
              h("div", { dir: "auto", class: "record-title" }, h("b", {}, inLang(r.title) || r.id)),
              h(
                "div",
                { class: "muted" },
                r.date ? t("findings.dated", { date: day(r.date) }) : null,
                r.expires_on ? ` · ${t("findings.expires", { date: day(r.expires_on) })}` : null,
              ),
            ),
          ),
        ),
      ];
      if (f.acknowledgement) parts.push(h("p", { class: "muted" }, t("findings.acknowledged_by", { by: f.acknowledgement.by, at: moment(f.acknowledgement.at) })));
      if (f.acceptance) parts.push(h("p", { class: "muted" }, t("findings.accepted_by", { by: f.acceptance.by, at: moment(f.acceptance.at), why: f.acceptance.justification || "" })));
      if (decides && (f.status === "open" || f.status === "acknowledged")) parts.push(decisions(f, etag));
      else if (!decides && (f.status === "open" || f.status === "acknowledged")) parts.push(h("p", { class: "muted" }, t("findings.coordinators_only")));
      return parts;
    }

    function decisions(f, etag) {
      const justification = h("textarea", { id: "justification", rows: 2, maxlength: 2000, dir: "auto" });
      const box = h("div", { class: "actions" });
      async function decide(action, body) {
        for (const b of box.querySelectorAll("button")) b.disabled = true;
        try {
          await api(`/v1/findings/${encodeURIComponent(f.id)}/actions/${action}${query({ lang: LANG })}`, { method: "POST", body, etag });
          await select(f.id, { text: t("findings.saved"), kind: "ok" });
        } catch (err) {
          if (err instanceof ApiError && (err.status === 409 || err.status === 412)) await select(f.id, { text: t("findings.conflict"), kind: "error" });
          else if (err instanceof ApiError && err.status === 403) await select(f.id, { text: t("findings.coordinators_only"), kind: "error" });
          else throw err;
        }
      }
      if (f.status === "open") {
        box.append(h("button", { type: "button", id: "acknowledge", onclick: () => decide("acknowledge", {}).catch(fail) }, t("findings.acknowledge")));
      }
      box.append(
        h(
          "form",
          {
            id: "accept-form",
            onsubmit: (event) => {
              event.preventDefault();
              const text = justification.value.trim();
              if (!text) {
                justification.setCustomValidity(t("findings.justification_needed"));
                justification.reportValidity();
                return;
              }
              decide("accept", { justification: text }).catch(fail);
            },
          },
          h("label", { for: "justification" }, t("findings.justification")),
          justification,
          h("div", {}, h("button", { type: "submit", class: "secondary", id: "accept" }, t("findings.accept"))),
        ),
      );
      justification.addEventListener("input", () => justification.setCustomValidity(""));
      return box;
    }

    function fail(err) {
      handleError(err, detail);
    }

    more.addEventListener("click", () => load(false).catch(fail));
    await load(true);
    const wanted = params.get("finding");
    if (wanted) await select(wanted);
  }

  function rememberFilters(filters, findingId) {
    const url = new URL(window.location.href);
    for (const key of ["rule", "status", "ministry_id", "since"]) url.searchParams.set(key, filters[key] || "");
    for (const key of ["rule", "ministry_id", "since"]) if (!filters[key]) url.searchParams.delete(key);
    if (findingId) url.searchParams.set("finding", findingId);
    else url.searchParams.delete("finding");
    window.history.replaceState(null, "", url.toString());
  }

  function statusChip(status) {
    const kind = { open: "bad", acknowledged: "warn", accepted: "info", resolved: "good" }[status] || "";
    return chip(t(`status.${status}`), kind, { dataset: { status } });
  }

  // --- coverage --------------------------------------------------------------------------------

  async function coverage(view) {
    const { items, truncated } = await collect("/v1/coverage", {});
    clear(view);
    const section = h("section", { class: "panel", id: "coverage" }, h("h2", {}, t("coverage.title")), h("p", { class: "hint" }, t("coverage.hint")));
    view.append(section);
    if (truncated) section.append(notice(t("truncated", { n: int(items.length) })));
    if (!items.length) {
      section.append(h("p", { class: "muted" }, t("empty")));
      return;
    }
    const ministries = new Map();
    const partners = new Map();
    const cells = new Map();
    for (const c of items) {
      const weight = c.engagements + c.agreements;
      const m = ministries.get(c.ministry_id) || { id: c.ministry_id, name: nameOf({ names: c.ministry_names }, c.ministry_id), total: 0, last: null, lastWith: null };
      m.total += weight;
      if (c.last_contact && (!m.last || c.last_contact > m.last)) {
        m.last = c.last_contact;
        m.lastWith = c;
      }
      ministries.set(c.ministry_id, m);
      const p = partners.get(c.partner_id) || { id: c.partner_id, name: nameOf({ names: c.partner_names }, c.partner_id), acronym: c.partner_acronym, total: 0 };
      p.total += weight;
      partners.set(c.partner_id, p);
      cells.set(`${c.ministry_id} ${c.partner_id}`, c);
    }
    const rows = [...ministries.values()].sort((a, b) => b.total - a.total || a.name.localeCompare(b.name, LANG));
    const columns = [...partners.values()].sort((a, b) => b.total - a.total || a.name.localeCompare(b.name, LANG));
    const max = Math.max(1, ...items.map((c) => c.engagements + c.agreements));
    const table = h(
      "table",
      { class: "heat", id: "heat-map" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { class: "ministry" }, `${t("ministry")} \\ ${t("partner")}`),
          columns.map((p) => h("th", { class: "partner", title: p.name, scope: "col", dir: "auto" }, p.acronym || p.name)),
        ),
      ),
      h(
        "tbody",
        {},
        rows.map((m) =>
          h(
            "tr",
            {},
            h("th", { class: "ministry", scope: "row", dir: "auto" }, m.name),
            columns.map((p) => {
              const c = cells.get(`${m.id} ${p.id}`);
              if (!c) return h("td", { class: "cell empty" });
              const weight = c.engagements + c.agreements;
              const share = weight / max;
              const last = c.last_contact ? day(c.last_contact) : t("coverage.never");
              return h(
                "td",
                {
                  class: `cell ${share > 0.55 ? "dark" : ""}`,
                  style: { background: heatColour(share) },
                  title: t("coverage.cell", { ministry: m.name, partner: p.name, e: int(c.engagements), a: int(c.agreements), last }),
                  dataset: { engagements: c.engagements, agreements: c.agreements },
                },
                h("span", { class: "n" }, int(c.engagements)),
                c.agreements ? h("span", {}, ` +${int(c.agreements)}`) : null,
                h("span", { class: "when" }, c.last_contact ? shortMonth(c.last_contact) : "–"),
              );
            }),
          ),
        ),
      ),
    );
    section.append(
      h("div", { class: "scroll" }, table),
      h(
        "div",
        { class: "scale", "aria-hidden": "true" },
        h("span", {}, int(0)),
        [0.1, 0.3, 0.5, 0.7, 0.9].map((s) => h("span", { class: "box", style: { background: heatColour(s) } })),
        h("span", {}, int(max)),
      ),
    );
    view.append(
      h(
        "section",
        { class: "panel", id: "last-contact" },
        h("h2", {}, t("coverage.latest")),
        h(
          "table",
          {},
          h("thead", {}, h("tr", {}, h("th", {}, t("ministry")), h("th", {}, t("coverage.last_contact")), h("th", {}, t("partner")))),
          h(
            "tbody",
            {},
            rows.map((m) =>
              h(
                "tr",
                {},
                h("td", { dir: "auto" }, m.name),
                h("td", {}, m.last ? day(m.last) : t("coverage.never")),
                h("td", { dir: "auto" }, m.lastWith ? nameOf({ names: m.lastWith.partner_names }, m.lastWith.partner_id) : "–"),
              ),
            ),
          ),
        ),
      ),
    );
  }

  function heatColour(share) {
    // From the page's pale accent to the accent itself.
    const from = [243, 230, 234];
    const to = [122, 31, 61];
    const s = Math.max(0.06, Math.min(1, share));
    const rgb = from.map((f, i) => Math.round(f + (to[i] - f) * s));
    return `rgb(${rgb.join(", ")})`;
  }

  // --- indicators ------------------------------------------------------------------------------

  async function indicators(view) {
    const { items } = await collect("/v1/indicators", { status: "active" });
    const full = await Promise.all(items.map((i) => api(`/v1/indicators/${encodeURIComponent(i.id)}`).then((r) => r.data)));
    clear(view);
    const section = h("section", { id: "indicators" });
    view.append(section);
    if (!full.length) {
      section.append(h("p", { class: "muted" }, t("empty")));
      return;
    }
    const grid = h("div", { class: "cards" });
    section.append(grid);
    const pending = [];
    for (const indicator of full) {
      const card = indicatorCard(indicator);
      grid.append(card.el);
      pending.push(card.draw);
    }
    requestAnimationFrame(() => pending.forEach((draw) => draw()));
  }

  function indicatorCard(indicator) {
    const p = indicator.progress || {};
    const share = indicator.metric === "coordinated_engagement_share";
    const value = (v) => (v == null ? "–" : share ? pct(v) : num(v, { maximumFractionDigits: 1 }));
    const standing = p.status || "none";
    const standingKind = { achieved: "good", on_track: "good", at_risk: "warn", off_track: "bad" }[standing] || "";
    const percent = p.percent_of_target;
    const chartEl = h("div", { class: "chart large", role: "img", "aria-label": inLang(indicator.name) });
    const el = h(
      "article",
      { class: "card indicator", dataset: { metric: indicator.metric, standing } },
      h("h3", { dir: "auto" }, localDigits(inLang(indicator.name))),
      h("div", { class: "chips" }, chip(t(`standing.${standing}`), `${standingKind} standing`), chip(t(`metric.${indicator.metric}`)), chip(t(`window.${indicator.window}`))),
      h(
        "div",
        { class: "figures" },
        h("span", {}, t("indicators.actual"), ": ", h("b", {}, value(p.actual))),
        h("span", {}, t("indicators.target", { value: value(p.target), date: day(indicator.target.deadline) })),
        h("span", {}, t("indicators.baseline", { value: value(p.baseline), year: year(indicator.baseline.year) })),
        h("span", {}, t("indicators.projected"), ": ", h("b", {}, value(p.projected))),
      ),
      h(
        "div",
        { class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": percent == null ? null : Math.round(Math.min(percent, 100)) },
        h("div", { class: `fill ${standing}`, style: { width: `${Math.max(0, Math.min(100, percent || 0))}%` } }),
      ),
      h("p", { class: "muted" }, percent == null ? t("standing.none") : t("indicators.of_target", { pct: num(percent / 100, { style: "percent", maximumFractionDigits: 0 }) }), " · ", t("indicators.as_of", { date: day(p.as_of) })),
      chartEl,
    );
    const draw = () => {
      const series = p.series || [];
      const deadlineYear = Number(String(indicator.target.deadline).slice(0, 4));
      const asOfYear = Number(String(p.as_of || indicator.target.deadline).slice(0, 4));
      const baselineYear = indicator.baseline.year;
      const first = Math.min(baselineYear, ...series.map((s) => s.year));
      const last = Math.max(deadlineYear, ...series.map((s) => s.year));
      const years = [];
      for (let y = first; y <= last; y += 1) years.push(y);
      const at = (y) => years.indexOf(y);
      const yearly = new Map(series.map((s) => [s.year, s.value]));
      // A cumulative count is the baseline plus every year after it, as the API sums it for
      // `actual`; anything else (a yearly flow, a share) is drawn year by year as answered.
      const running = indicator.window === "cumulative" && !share;
      let total = indicator.baseline.value || 0;
      const actual = years.map((y) => {
        if (y > asOfYear) return null;
        if (!running) return yearly.has(y) ? yearly.get(y) : null;
        if (y === baselineYear) return total;
        if (y < baselineYear) return null;
        total += yearly.get(y) || 0;
        return total;
      });
      if (actual[at(baselineYear)] == null && p.baseline != null) actual[at(baselineYear)] = p.baseline;
      const target = years.map(() => null);
      if (p.target != null) {
        if (running && p.baseline != null) target[at(baselineYear)] = p.baseline; // the path to it
        else target[at(first)] = p.target;
        target[at(deadlineYear)] = p.target;
      }
      // The linear projection: from the last actual year to the horizon it is read at.
      const projection = years.map(() => null);
      const horizon = indicator.window === "annual" && !share ? Math.min(asOfYear, deadlineYear) : deadlineYear;
      const lastActual = actual.reduce((found, v, i) => (v != null ? i : found), -1);
      const drawProjection = p.projected != null && lastActual >= 0 && at(horizon) > lastActual;
      if (drawProjection) {
        projection[lastActual] = actual[lastActual];
        projection[at(horizon)] = p.projected;
      }
      const values = [...actual, ...target, ...projection, 0].filter((v) => v != null);
      const top = Math.max(...values) * 1.12 || 1;
      const lines = [
        { label: t("indicators.series_actual"), color: PALETTE[1], values: actual, width: 2.5 },
        { label: t("indicators.series_target"), color: PALETTE[2], values: target, dash: [2, 4], pointSize: 8 },
      ];
      if (drawProjection) lines.push({ label: t("indicators.series_projection"), color: PALETTE[3], values: projection, dash: [6, 4] });
      lineChart(chartEl, {
        labels: years.map(year),
        series: lines,
        yRange: [0, top],
        yFormat: share ? pct : (v) => num(v, { maximumFractionDigits: 1 }),
        height: 200,
      });
      chartEl.after(legend(lines.map((l) => ({ label: l.label, color: l.color, dashed: Boolean(l.dash) }))));
    };
    return { el, draw };
  }

  // --- freshness -------------------------------------------------------------------------------

  async function freshness(view) {
    const { data } = await api("/v1/freshness");
    clear(view);
    const section = h("section", { class: "panel", id: "freshness" }, h("h2", {}, t("freshness.title")), h("p", { class: "hint" }, t("freshness.hint")));
    if (data.rebuilding) section.append(notice(t("freshness.rebuilding", { time: moment(data.rebuild_started_at) }), "error"));
    const maxAge = Math.max(1, ...data.items.map((i) => i.age_seconds || 0));
    section.append(
      h("p", { class: "muted" }, t("freshness.consumer", { name: data.consumer })),
      h(
        "div",
        { class: "scroll" },
        h(
          "table",
          { id: "freshness-table" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", {}, t("freshness.topic")),
              h("th", {}, t("freshness.last_event")),
              h("th", {}, t("freshness.age")),
              h("th", { class: "num" }, t("freshness.lag")),
              h("th", { class: "num" }, t("freshness.applied")),
            ),
          ),
          h(
            "tbody",
            {},
            data.items.map((item) => {
              const lagKind = item.consumer_lag == null ? "" : item.consumer_lag === 0 ? "good" : item.consumer_lag < 100 ? "warn" : "bad";
              return h(
                "tr",
                { dataset: { topic: item.topic } },
                h("td", {}, h("span", { class: "topic", dir: "ltr" }, item.topic)),
                h("td", {}, item.last_event_time ? moment(item.last_event_time) : t("freshness.never"), item.last_event_type ? h("div", { class: "muted topic", dir: "ltr" }, item.last_event_type) : null),
                h(
                  "td",
                  {},
                  h("div", {}, age(item.age_seconds)),
                  h("div", { class: "progress", "aria-hidden": "true" }, h("div", { class: "fill", style: { width: `${(100 * (item.age_seconds || 0)) / maxAge}%` } })),
                ),
                h("td", { class: "num" }, item.consumer_lag == null ? chip(t("freshness.unknown")) : chip(int(item.consumer_lag), lagKind)),
                h("td", { class: "num" }, int(item.events_applied)),
              );
            }),
          ),
        ),
      ),
    );
    view.append(section);
  }

  // --- boot ------------------------------------------------------------------------------------

  const PAGES = { overview, findings, coverage, indicators, freshness };

  function handleError(err, view) {
    if (err instanceof SignedOut) {
      showSession(null);
      return signIn(view, err.message || null);
    }
    clear(view);
    if (err instanceof ApiError && err.status === 403) view.append(notice(t("forbidden"), "error"));
    else view.append(notice(t("failed", { detail: err instanceof ApiError ? err.message : String(err) }), "error"));
    return null;
  }

  async function boot() {
    wirePreferences();
    const view = document.getElementById("view");
    const token = tokens.get();
    const claims = token ? claimsOf(token) : null;
    try {
      if (!claims || (claims.exp && claims.exp * 1000 <= Date.now())) {
        if (token) tokens.clear();
        await signIn(view, token ? t("token.refused") : null);
      } else {
        showSession(claims);
        await PAGES[CONFIG.page](view);
      }
    } catch (err) {
      await handleError(err, view);
    } finally {
      view.setAttribute("aria-busy", "false");
      view.dataset.ready = "true";
    }
  }

  boot();
})();
