// clerk-sync operator console: vanilla JS, no build step, nothing external (docs/decisions/0030).
// Every piece of data is drawn with createElement/textContent: names and metadata come from Clerk users and
// must never become markup.
"use strict";

(function () {
  const TOKEN_KEY = "clerk-sync.console.token";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const JOBS_REFRESH_MS = 3000;

  // ---- small DOM helpers -------------------------------------------------------------------------------

  // el("td", {testid: "x", class: "y", data: {outcome: "applied"}}, "text", childNode, ...)
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "testid") node.dataset.testid = value;
      else if (name === "class") node.className = value;
      else if (name === "data") Object.entries(value).forEach(([k, v]) => { node.dataset[k] = String(v); });
      else if (name === "on") Object.entries(value).forEach(([k, v]) => node.addEventListener(k, v));
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // replaceChildren() itself would draw a null child as the text "null".
  function fill(node, ...children) {
    node.replaceChildren();
    return append(node, children);
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "testid") node.setAttribute("data-testid", value);
      else node.setAttribute(name, String(value));
    }
    return node;
  }

  function link(hash, text, attrs) {
    return el("a", Object.assign({ href: hash }, attrs || {}), text);
  }

  function when(ms) {
    if (ms === null || ms === undefined) return "—";
    const date = new Date(Number(ms));
    return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  function ago(seconds) {
    if (seconds === null || seconds === undefined) return "never";
    if (seconds < 90) return seconds + " s ago";
    if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
    if (seconds < 172800) return Math.round(seconds / 3600) + " h ago";
    return Math.round(seconds / 86400) + " days ago";
  }

  function show(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function table(testid, headings, rows) {
    return el("table", { testid: testid },
      el("thead", {}, el("tr", {}, headings.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows));
  }

  function section(title, ...children) {
    return el("section", { class: "card" }, el("h2", {}, title), children);
  }

  // ---- the session token ---------------------------------------------------------------------------------

  // `#token=<jwt>` never reaches a server (fragments are not sent); it moves to this tab's sessionStorage and
  // leaves the address bar, the history and any screenshot at once.
  function takeTokenFromFragment() {
    const hash = window.location.hash;
    if (!hash.startsWith("#token=")) return;
    const token = decodeURIComponent(hash.slice("#token=".length)).trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, "", window.location.pathname + window.location.search + "#/overview");
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function showTokenBox(visible) {
    document.getElementById("token-box").hidden = !visible;
  }

  // ---- the API ---------------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const current = token();
    if (!current) throw new ApiError(401, "no_token", "no session token yet");
    const init = { method: method, headers: { Authorization: "Bearer " + current }, cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      // The sync API answers {"error": {code, message}}; API Gateway itself answers {"message"}.
      const error = (data && data.error) || {};
      const message = error.message || (data && data.message) || response.statusText || "request failed";
      throw new ApiError(response.status, error.code || "http_" + response.status, message);
    }
    return { status: response.status, data: data };
  }

  function describe(error) {
    if (!(error instanceof ApiError)) return "The console failed: " + (error && error.message ? error.message : error);
    if (error.status === 401) {
      return "Not signed in (401): the session token is missing, expired or not valid. Paste a fresh token of a " +
        "platform admin below.";
    }
    if (error.status === 403) {
      return "Forbidden (403): the console is for platform admins only, and this token's user is not one. " +
        "Sign in as a platform admin (ADMIN_USER_IDS).";
    }
    if (error.status === 404 && error.code === "no_route") {
      return "This deployment has no such API route (404): the admin API may not be deployed yet.";
    }
    return "Request failed (" + error.status + " " + error.code + "): " + error.message;
  }

  function banner(text) {
    const node = document.getElementById("error-banner");
    node.textContent = text || "";
    node.hidden = !text;
  }

  function failed(error) {
    banner(describe(error));
    if (error instanceof ApiError && error.status === 401) showTokenBox(true);
  }

  // ---- routing ---------------------------------------------------------------------------------------------

  let generation = 0; // a newer route makes any older page's late answers no-ops
  let refreshTimer = null;

  function parseHash() {
    const raw = window.location.hash.replace(/^#/, "") || "/overview";
    const [path, query] = raw.split("?");
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    return { page: parts[0] || "overview", id: parts[1] || null, params: new URLSearchParams(query || "") };
  }

  function startPage(page) {
    generation += 1;
    if (refreshTimer !== null) {
      clearTimeout(refreshTimer);
      refreshTimer = null;
    }
    delete document.body.dataset.loaded;
    banner("");
    document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("current", a.dataset.nav === page));
    const view = document.getElementById("view");
    view.replaceChildren();
    return { view: view, live: ((mine) => () => mine === generation)(generation) };
  }

  async function route() {
    const where = parseHash();
    const pages = { overview: overviewPage, find: findPage, user: recordPage, organization: recordPage, dlq: dlqPage,
      jobs: jobsPage };
    const draw = pages[where.page] || overviewPage;
    const page = startPage(where.page);
    if (!token()) {
      showTokenBox(true);
      banner("Not signed in: paste the session token of a platform admin, or open the console URL with #token=.");
      return;
    }
    showTokenBox(false);
    try {
      await draw(page, where);
    } catch (error) {
      if (page.live()) failed(error);
    }
  }

  // ---- overview --------------------------------------------------------------------------------------------

  const STATES = ["live", "tombstoned", "provisional"];
  const KINDS = ["users", "organizations", "memberships"];
  const OUTCOME_COLOURS = { applied: "#2f7d32", stale: "#e0a000", duplicate: "#7a7a7a", tombstoned: "#b03a2e" };
  const OTHER_COLOURS = ["#1f5fa8", "#7b3fa0", "#0f8a8a", "#a05a2c"];

  async function overviewPage(page) {
    page.view.append(el("p", { class: "loading" }, "Loading the overview…"));
    const { data } = await api("GET", "/api/admin/overview");
    if (!page.live()) return;
    fill(page.view, 
      el("h1", {}, "Overview"),
      el("div", { class: "grid" },
        recordCounts(data.records || {}),
        freshness(data),
        reconcileCard(data.last_reconcile),
        backfillCard(data.last_backfill),
        budgetCard(data.clerk_budget)),
      section("Sync outcomes per hour (last 24 h, UTC)", outcomesChart(data.outcomes || [])),
      el("p", { class: "hint" }, "Generated " + when(data.generated_at)),
      el("span", { testid: "overview-loaded", hidden: true }));
    document.body.dataset.loaded = "overview";
    performance.mark("overview-loaded");
  }

  function recordCounts(records) {
    const rows = KINDS.map((kind) => {
      const counts = records[kind] || {};
      return el("tr", {}, el("th", { scope: "row" }, kind),
        STATES.map((state) => el("td", { class: "num", testid: "overview-" + kind + "-" + state }, show(counts[state]))));
    });
    const note = records.complete === false ? " (partial count: the scan stopped at its bound)" : "";
    const card = section("Records",
      table("overview-records", ["", ...STATES], rows),
      el("p", { class: "hint", testid: "overview-counted-at" }, "Counted " + when(records.counted_at) + note));
    card.classList.add("wide"); // three count columns need two grid cells
    return card;
  }

  function freshness(data) {
    const depth = data.dlq ? data.dlq.depth : null;
    return section("Freshness",
      el("dl", {},
        el("dt", {}, "Last webhook"),
        el("dd", { testid: "overview-last-webhook" }, ago(data.seconds_since_last_webhook),
          data.last_webhook_at ? el("span", { class: "hint" }, " (" + when(data.last_webhook_at) + ")") : null),
        el("dt", {}, "DLQ depth"),
        el("dd", { testid: "overview-dlq-depth", class: depth ? "warn" : "" },
          depth === null || depth === undefined ? "no DLQ configured" : link("#/dlq", String(depth)))));
  }

  function runLines(run) {
    return [
      el("dt", {}, "Run"), el("dd", {}, run.run_id || "—"),
      el("dt", {}, "Status"), el("dd", { class: "status-" + run.status }, show(run.status)),
      el("dt", {}, "Started"), el("dd", {}, when(run.started_at)),
      el("dt", {}, "Finished"), el("dd", {}, when(run.finished_at)),
    ];
  }

  function reconcileCard(run) {
    if (!run) return section("Last reconcile", el("p", { testid: "overview-reconcile" }, "No reconcile has run."));
    const drift = Object.entries(run.drift || {});
    const driftList = drift.length
      ? el("ul", { testid: "overview-drift" }, drift.map(([kind, n]) => el("li", { data: { kind: kind } }, kind + ": " + n)))
      : el("p", { testid: "overview-drift" }, "No drift found.");
    return section("Last reconcile", el("dl", { testid: "overview-reconcile" }, runLines(run)), el("h3", {}, "Drift by kind"),
      driftList);
  }

  function backfillCard(run) {
    if (!run) return section("Last backfill", el("p", { testid: "overview-backfill" }, "No backfill has run."));
    const totals = Object.entries(run.totals || {}).map(([k, v]) => el("li", {}, k + ": " + show(v)));
    return section("Last backfill", el("dl", { testid: "overview-backfill" }, runLines(run)),
      totals.length ? el("ul", {}, totals) : null);
  }

  function budgetCard(budget) {
    if (!budget) return section("Clerk budget", el("p", { testid: "overview-budget" }, "No shared Clerk budget in use."));
    const limit = Number(budget.limit_per_10s) || 0;
    const used = Number(budget.used) || 0;
    const extra = Object.entries(budget).filter(([k]) => k !== "limit_per_10s" && k !== "used");
    return section("Clerk budget",
      el("p", { testid: "overview-budget" }, used + " of " + limit + " calls in the current 10 s window"),
      progress(used, limit),
      extra.length ? el("dl", {}, extra.map(([k, v]) => [el("dt", {}, k), el("dd", {}, show(v))])) : null);
  }

  function progress(done, total) {
    const bar = el("progress", { max: total > 0 ? total : 1, value: Math.min(done, total > 0 ? total : 1) });
    bar.textContent = total > 0 ? Math.round((100 * done) / total) + " %" : "?";
    return bar;
  }

  function outcomesChart(hours) {
    const names = [];
    hours.forEach((hour) => Object.keys(hour).forEach((k) => {
      if (k !== "hour" && !names.includes(k)) names.push(k);
    }));
    const colour = (name, i) => OUTCOME_COLOURS[name] || OTHER_COLOURS[i % OTHER_COLOURS.length];
    const width = 720;
    const height = 220;
    const pad = { left: 40, bottom: 28, top: 10, right: 10 };
    const plotH = height - pad.top - pad.bottom;
    const barW = hours.length ? (width - pad.left - pad.right) / hours.length : 0;
    const max = Math.max(1, ...hours.map((h) => names.reduce((sum, n) => sum + (Number(h[n]) || 0), 0)));
    const chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", testid: "overview-outcomes-chart",
      class: "chart" });
    const title = svg("title");
    title.textContent = "Sync outcomes per hour";
    chart.append(title);
    chart.append(svg("line", { x1: pad.left, y1: pad.top + plotH, x2: width - pad.right, y2: pad.top + plotH,
      class: "axis" }));
    const top = svg("text", { x: pad.left - 4, y: pad.top + 10, "text-anchor": "end", class: "tick" });
    top.textContent = String(max);
    chart.append(top);
    hours.forEach((hour, i) => {
      let y = pad.top + plotH;
      const group = svg("g", { "data-hour": hour.hour });
      const tip = svg("title");
      tip.textContent = hour.hour + ": " + names.map((n) => n + " " + (Number(hour[n]) || 0)).join(", ");
      group.append(tip);
      names.forEach((name, j) => {
        const value = Number(hour[name]) || 0;
        if (!value) return;
        const h = (value / max) * plotH;
        y -= h;
        group.append(svg("rect", { x: pad.left + i * barW + 1, y: y, width: Math.max(1, barW - 2), height: h,
          fill: colour(name, j), "data-outcome": name, "data-count": value }));
      });
      chart.append(group);
      if (i % 6 === 0) {
        const label = svg("text", { x: pad.left + i * barW, y: height - 8, class: "tick" });
        label.textContent = String(hour.hour).slice(11) + ":00";
        chart.append(label);
      }
    });
    const legend = el("ul", { class: "legend" }, names.map((name, j) => {
      const swatch = el("span", { class: "swatch" });
      swatch.style.backgroundColor = colour(name, j);
      return el("li", {}, swatch, name);
    }));
    return el("div", {}, chart, hours.length ? legend : el("p", { class: "hint" }, "No outcomes recorded."));
  }

  // ---- find ------------------------------------------------------------------------------------------------

  async function findPage(page, where) {
    const q = where.params.get("q") || "";
    const input = el("input", { type: "search", testid: "find-input", id: "find-input", value: q, required: true,
      maxlength: 320, placeholder: "user_…, org_… or an email address", autocomplete: "off" });
    const form = el("form", { class: "find", on: { submit: (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (text) window.location.hash = "#/find?q=" + encodeURIComponent(text);
    } } },
    el("label", { for: "find-input" }, "Find a user or organization"), input,
    el("button", { type: "submit", testid: "find-submit" }, "Find"));
    page.view.append(el("h1", {}, "Find"), form);
    input.focus();
    if (!q) return;
    const results = el("div", { testid: "find-results" }, el("p", { class: "loading" }, "Searching…"));
    page.view.append(results);
    const { data } = await api("GET", "/api/admin/find?q=" + encodeURIComponent(q));
    if (!page.live()) return;
    const found = data.results || [];
    if (!found.length) {
      results.replaceChildren(el("p", { testid: "find-none" }, "Nothing found for " + q + "."));
      return;
    }
    results.replaceChildren(el("ul", { class: "results" }, found.map((result) => el("li", {},
      link("#/" + result.kind + "/" + encodeURIComponent(result.id), result.label || result.id,
        { testid: "find-result", data: { kind: result.kind, id: result.id } }),
      " ", el("code", {}, result.id), " ", el("span", { class: "tag" }, result.kind),
      result.deleted ? el("span", { class: "tag bad" }, "deleted") : null,
      result.on_record ? null : el("span", { class: "tag warn" }, "not on record")))));
  }

  // ---- a user or an organization ---------------------------------------------------------------------------

  let syncNotice = "";  // the last "Sync now" answer, shown on the record page drawn afresh after it

  async function recordPage(page, where) {
    const kind = where.page; // "user" | "organization"
    const id = where.id || "";
    page.view.append(el("p", { class: "loading" }, "Loading " + kind + " " + id + "…"));
    const path = kind === "user" ? "/api/admin/users/" : "/api/admin/organizations/";
    const { data } = await api("GET", path + encodeURIComponent(id));
    if (!page.live()) return;
    const record = data[kind] || {};
    const history = historySection(page, kind, id, data.history);
    const syncResult = el("p", { testid: "sync-result", class: "hint" }, syncNotice);
    syncNotice = "";
    const syncNow = el("button", { type: "button", testid: "sync-now", on: { click: async () => {
      syncNow.disabled = true;
      syncResult.textContent = "Syncing from Clerk…";
      try {
        const target = kind === "user" ? "/api/sync/user/" + encodeURIComponent(id)
          : "/api/sync/organization/" + encodeURIComponent(id) + "/members";
        const { status, data: answer } = await api("POST", target);
        if (!page.live()) return;
        // The whole page again: the stored fields and provenance changed with the history.
        syncNotice = syncSummary(status, answer);
        await route();
      } catch (error) {
        if (page.live()) {
          syncResult.textContent = "";
          failed(error);
        }
      } finally {
        syncNow.disabled = false;
      }
    } } }, kind === "user" ? "Sync now" : "Sync members now");
    fill(page.view, 
      el("h1", {}, (kind === "user" ? "User " : "Organization ") , el("code", { testid: "record-id" }, id)),
      el("div", { class: "actions" }, syncNow, syncResult),
      el("div", { class: "grid" },
        provenanceCard(data.provenance || {}),
        section("Stored fields", fieldsTable(record))),
      membershipsSection(kind, data.memberships || [], data.memberships_truncated),
      history.node);
  }

  function syncSummary(status, answer) {
    const report = (answer && (answer.report || answer)) || {};
    const counts = Object.entries(report.summary || {}).map(([k, v]) => k + " " + v).join(", ");
    const job = answer && answer.job ? "; continues as job " + answer.job.job_id + " (see Jobs)" : "";
    return "Synced (" + status + ")" + (counts ? ": " + counts : "") + job;
  }

  function provenanceCard(provenance) {
    const lines = ["sync_source", "synced_at", "version", "provisional", "deleted"].map((name) => [
      el("dt", {}, name),
      el("dd", { data: { field: name } }, name === "synced_at" ? when(provenance[name]) : show(provenance[name])),
    ]);
    return section("Provenance", el("dl", { testid: "record-provenance" }, lines));
  }

  function fieldsTable(record) {
    const names = Object.keys(record).sort();
    if (!names.length) return el("p", { testid: "record-fields" }, "Not on record.");
    return table("record-fields", ["field", "value"], names.map((name) => el("tr", { data: { field: name } },
      el("th", { scope: "row" }, name), el("td", {}, el("code", {}, show(record[name]))))));
  }

  function membershipsSection(kind, memberships, truncated) {
    const other = kind === "user"
      ? (m) => [link("#/organization/" + encodeURIComponent(m.org_id), m.organization_name || m.org_id), " ",
        el("code", {}, m.org_id)]
      : (m) => [link("#/user/" + encodeURIComponent(m.user_id), m.user_id)];
    const rows = memberships.map((m) => el("tr", { testid: "membership-row", class: m.deleted ? "deleted" : "" },
      el("td", {}, other(m)), el("td", {}, show(m.role)), el("td", {}, m.deleted ? "yes" : "no"),
      el("td", {}, show(m.sync_source)), el("td", {}, when(m.synced_at)), el("td", { class: "num" }, show(m.version))));
    return section("Memberships (" + memberships.length + (truncated ? ", first ones only" : "") + ")",
      memberships.length
        ? table("memberships", [kind === "user" ? "organization" : "user", "role", "deleted", "source", "synced",
          "version"], rows)
        : el("p", {}, "None on record."));
  }

  function historySection(page, kind, id, first) {
    const tbody = el("tbody", {});
    const counts = el("p", { testid: "history-counts" });
    const older = el("button", { type: "button", testid: "history-older", hidden: true }, "Older");
    const disabled = el("p", { class: "hint", testid: "history-disabled", hidden: true },
      "History is off for this deployment (HISTORY_TTL_DAYS=0).");
    let nextBefore = null;
    const base = "/api/admin/history/" + kind + "/" + encodeURIComponent(id);

    function draw(history, replace) {
      history = history || { entries: [], counts: {}, next_before: null, enabled: true };
      const c = history.counts || {};
      counts.textContent = "Stale deliveries: " + (c.stale || 0) + (c.last_stale_at ? " (last " + when(c.last_stale_at) +
        ")" : "") + " · duplicate deliveries: " + (c.duplicate || 0) +
        (c.last_duplicate_at ? " (last " + when(c.last_duplicate_at) + ")" : "");
      disabled.hidden = history.enabled !== false;
      const rows = (history.entries || []).map((entry) => el("tr", {
        testid: "history-row",
        data: { outcome: entry.outcome || "", eventId: entry.event_id || "", source: entry.source || "" },
      },
      el("td", {}, when(entry.at)), el("td", {}, show(entry.source)), el("td", {}, show(entry.change)),
      el("td", { class: "outcome-" + entry.outcome }, show(entry.outcome)), el("td", { class: "num" }, show(entry.version)),
      el("td", {}, el("code", {}, entry.event_id || "—"))));
      if (replace) tbody.replaceChildren(...rows);
      else tbody.append(...rows);
      nextBefore = history.next_before === undefined ? null : history.next_before;
      older.hidden = nextBefore === null;
    }

    older.addEventListener("click", async () => {
      older.disabled = true;
      try {
        const { data } = await api("GET", base + "?before=" + encodeURIComponent(nextBefore) + "&limit=50");
        if (page.live()) draw(data, false);
      } catch (error) {
        if (page.live()) failed(error);
      } finally {
        older.disabled = false;
      }
    });

    draw(first, true);
    const node = section("History", counts, disabled,
      el("table", { testid: "history" }, el("thead", {}, el("tr", {},
        ["time", "source", "change", "outcome", "version", "Svix id"].map((h) => el("th", { scope: "col" }, h)))), tbody),
      older);
    return {
      node: node,
      reload: async () => {
        const { data } = await api("GET", base + "?limit=50");
        if (page.live()) draw(data, true);
      },
    };
  }

  // ---- the dead-letter queue -------------------------------------------------------------------------------

  async function dlqPage(page) {
    page.view.append(el("p", { class: "loading" }, "Loading the DLQ…"));
    const { data } = await api("GET", "/api/admin/dlq");
    if (!page.live()) return;
    const result = el("p", { testid: "dlq-result", class: "hint", role: "status" });
    const replay = async (body, button) => {
      button.disabled = true;
      try {
        const { data: answer } = await api("POST", "/api/admin/dlq/replay", body);
        if (!page.live()) return;
        const missing = answer.not_found || [];
        const text = "Replayed " + answer.replayed + (missing.length ? "; not found: " + missing.join(", ") : "");
        await dlqPage(startPage("dlq"));
        const fresh = document.querySelector('[data-testid="dlq-result"]');
        if (fresh) fresh.textContent = text;
      } catch (error) {
        button.disabled = false;
        failed(error);
      }
    };
    const messages = data.messages || [];
    const all = el("button", { type: "button", testid: "dlq-replay-all", disabled: !messages.length, on: { click: (event) => {
      if (window.confirm("Replay every dead letter (" + data.depth + ") onto the event queue?")) {
        replay({ all: true }, event.currentTarget);
      }
    } } }, "Replay all");
    const rows = messages.map((letter) => {
      const button = el("button", { type: "button", testid: "dlq-replay", on: { click: () => replay(
        { message_ids: [letter.message_id] }, button) } }, "Replay");
      const error = letter.last_error;
      const reason = error ? error.error_class + ": " + error.message : (letter.problem || "no failure noted");
      return el("tr", { testid: "dlq-row", data: { messageId: letter.message_id } },
        el("td", {}, el("code", {}, letter.message_id)), el("td", {}, when(letter.sent_at)), el("td", {}, show(letter.type)),
        el("td", {}, letter.entity_id ? entityLink(letter.entity_id) : "—"), el("td", {}, el("code", {}, letter.svix_id || "—")),
        el("td", { class: "num" }, show(letter.receive_count)), el("td", { testid: "dlq-reason" }, reason),
        el("td", {}, button));
    });
    fill(page.view, 
      el("h1", {}, "Dead-letter queue"),
      el("div", { class: "actions" }, el("span", { testid: "dlq-depth" }, "Depth: " + show(data.depth)), all, result),
      messages.length
        ? table("dlq", ["message", "sent", "type", "entity", "Svix id", "receives", "reason", ""], rows)
        : el("p", { testid: "dlq-empty" }, "The DLQ is empty."),
      data.truncated ? el("p", { class: "hint" }, "Only the first " + messages.length + " are listed.") : null);
    document.body.dataset.loaded = "dlq";
  }

  function entityLink(entityId) {
    const id = String(entityId);
    if (id.startsWith("user_")) return link("#/user/" + encodeURIComponent(id), id);
    if (id.startsWith("org_")) return link("#/organization/" + encodeURIComponent(id), id);
    return el("code", {}, id);
  }

  // ---- jobs and runs ---------------------------------------------------------------------------------------

  async function jobsPage(page) {
    if (!page.view.childElementCount) page.view.append(el("p", { class: "loading" }, "Loading jobs…"));
    const { data } = await api("GET", "/api/admin/jobs");
    if (!page.live()) return;
    const jobs = data.jobs || [];
    const runs = data.runs || [];
    const jobRows = jobs.map((job) => el("tr", { testid: "jobs-row", data: { jobId: job.job_id, status: job.status } },
      el("td", {}, el("code", {}, job.job_id)), el("td", {}, show(job.kind)),
      el("td", {}, entityLink(job.org_id || job.user_id || "—")), el("td", {}, show(job.requested_by)),
      el("td", { class: "status-" + job.status }, show(job.status) + (job.stage ? " · " + job.stage : "")),
      el("td", {}, progress(Number(job.synced) || 0, Number(job.total) || 0), " ", (job.synced || 0) + " / " +
        (job.total === null || job.total === undefined ? "?" : job.total)),
      el("td", {}, when(job.updated_at)), el("td", { class: "bad" }, job.error || "")));
    const runRows = runs.map((run) => {
      const done = Object.values(run.counts || {}).reduce((sum, c) => sum + Object.values(c || {})
        .reduce((s, v) => s + (Number(v) || 0), 0), 0);
      return el("tr", { testid: "runs-row", data: { runId: run.run_id, status: run.status } },
        el("td", {}, el("code", {}, run.run_id)), el("td", {}, show(run.kind) + (run.dry_run ? " (dry run)" : "")),
        el("td", { class: "status-" + run.status }, show(run.status)),
        el("td", {}, runProgress(run), " ", done + " records, step " + show(run.step)),
        el("td", {}, when(run.started_at)), el("td", {}, when(run.finished_at)),
        el("td", {}, Object.entries(run.drift || {}).map(([k, v]) => k + " " + v).join(", ") || "—"));
    });
    const running = jobs.some((j) => j.status === "running") || runs.some((r) => r.status === "running");
    fill(page.view, 
      el("h1", {}, "Jobs"),
      el("p", { class: "hint", testid: "jobs-refresh" }, running
        ? "Something is running: refreshing every " + JOBS_REFRESH_MS / 1000 + " s."
        : "Nothing running. Updated " + when(Date.now())),
      section("Member syncs", jobs.length
        ? table("jobs", ["job", "kind", "of", "requested by", "status", "progress", "updated", "error"], jobRows)
        : el("p", {}, "No recent member syncs.")),
      section("Backfill and reconcile runs", runs.length
        ? table("runs", ["run", "kind", "status", "progress", "started", "finished", "drift"], runRows)
        : el("p", {}, "No runs yet.")));
    document.body.dataset.loaded = "jobs";
    if (running) {
      refreshTimer = setTimeout(() => {
        if (page.live()) jobsPage(page).catch((error) => { if (page.live()) failed(error); });
      }, JOBS_REFRESH_MS);
    }
  }

  function runProgress(run) {
    // A run walks three lists then a second pass (and reconcile its check by id): the phase is its progress.
    const phases = run.kind === "reconcile" ? 6 : 5;
    const phase = run.status === "running" ? Number(run.phase) || 0 : phases;
    return progress(phase, phases);
  }

  // ---- start -----------------------------------------------------------------------------------------------

  function start() {
    takeTokenFromFragment();
    document.getElementById("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = document.getElementById("token-input");
      const value = input.value.trim().replace(/^Bearer\s+/i, "");
      input.value = "";
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      route();
    });
    document.getElementById("forget-token").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      route();
    });
    window.addEventListener("hashchange", () => {
      takeTokenFromFragment();
      route();
    });
    route();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
