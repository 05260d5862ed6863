// The console's entry point: token box, navigation, and the incidents list (live, filterable).
import { age, api, el, flash, incidentPath, link, reason, setToken, token, watch } from "/console/dom.js";
import { showIncident } from "/console/incident.js";
import { showBlocks, showDetectors, showPrompts, showRunbooks } from "/console/pages.js";

const main = document.getElementById("main");
window.__tw = { ready: false };

function setupToken() {
  const input = document.getElementById("token");
  const state = document.getElementById("token-state");
  const show = () => { state.textContent = token() ? "token set for this tab" : "no token: read-only"; };
  document.getElementById("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    input.value = "";
    show();
    flash(token() ? "API token kept for this browser tab only" : "no token");
    if (document.getElementById("needs-token")) route();
  });
  document.getElementById("token-forget").addEventListener("click", () => { setToken(""); show(); });
  show();
}

const FILTERS = ["state", "kind", "severity", "service", "feature", "q"];
const LIST_LIMIT = 10000;

function listFilters() {
  const params = new URLSearchParams(location.search);
  return Object.fromEntries(FILTERS.map((f) => [f, params.get(f) || ""]));
}

function select(name, value, options) {
  return el("label", {}, name,
    el("select", { name }, options.map(([v, text]) => el("option", { value: v, selected: v === value }, text))));
}

function filterForm(f) {
  const form = el("form", { class: "filters", id: "filters" },
    select("state", f.state || "active", [["active", "open + acknowledged"], ["open", "open"],
      ["acknowledged", "acknowledged"], ["resolved", "resolved"], ["all", "all"]]),
    select("severity", f.severity, [["", "any"], ["critical", "critical"], ["warning", "warning"], ["info", "info"]]),
    el("label", {}, "kind", el("input", { name: "kind", value: f.kind, placeholder: "cost, latency…", size: 10 })),
    el("label", {}, "service (app)", el("input", { name: "service", value: f.service, size: 10 })),
    el("label", {}, "feature", el("input", { name: "feature", value: f.feature, size: 10 })),
    el("label", {}, "text", el("input", { name: "q", value: f.q, placeholder: "series, summary…", size: 14 })),
    el("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) params.set(k, v);
    history.replaceState(null, "", "/incidents?" + params.toString());
    listState.seen = null;
    refreshList();
  });
  return form;
}

let listState = { stop: null, body: null, count: null };

function matches(i, f) {
  const t = i.target || {};
  if (f.service && !(t.app || "").includes(f.service) && !i.series.includes("app=" + f.service)) return false;
  if (f.feature && !(t.feature || "").includes(f.feature) && !i.series.includes("feature=" + f.feature)) return false;
  if (f.q) {
    const q = f.q.toLowerCase();
    if (!(i.series + " " + i.summary + " " + i.id + " " + i.detector).toLowerCase().includes(q)) return false;
  }
  return true;
}

// One row, cloned per incident: 10,000 rows must render within a second (bench/console.py). Rows are
// grid rows, not a <table>: a table lays out every row, a grid row with content-visibility only those seen.
const cell = (attrs = {}, ...children) => el("div", { role: "cell", ...attrs }, ...children);
const ROW = el("div", { role: "row", class: "row" }, cell({ class: "num" }), cell(), cell(), cell(), cell({}, el("a", {})),
  cell(), cell());

/** Rows for the incidents (text only: textContent). */
export function renderRows(body, incidents, now) {
  const start = performance.now();
  const rows = document.createDocumentFragment();
  for (const i of incidents) {
    const tr = ROW.cloneNode(true);
    tr.dataset.incident = i.id;
    tr.dataset.opened = i.opened_at;
    const c = tr.children;
    c[0].textContent = age(i.opened_at, now);
    c[1].textContent = i.state;
    c[1].className = "state-" + i.state;
    c[2].textContent = i.severity;
    c[2].className = "sev-" + i.severity;
    c[3].textContent = i.kind;
    const a = c[4].firstChild;
    a.href = incidentPath(i.id);
    a.textContent = i.summary || i.id;
    c[5].textContent = i.series;
    c[6].textContent = i.acknowledged_by || (i.state === "resolved" ? "resolved by " + (i.resolved_by || "?") : "–");
    rows.append(tr);
  }
  body.replaceChildren(rows);
  void body.offsetHeight; // lay it out, so the time measured includes it
  const ms = performance.now() - start;
  window.__tw.lastRender = { rows: incidents.length, ms, at: performance.now() }; // at: since navigation
  return ms;
}

async function refreshList() {
  const f = listFilters();
  const params = new URLSearchParams({ limit: String(LIST_LIMIT) });
  if (f.state && f.state !== "all") params.set("state", f.state);
  else if (!f.state) params.set("state", "active");
  if (f.kind) params.set("kind", f.kind);
  if (f.severity) params.set("severity", f.severity);
  const r = await api("/v1/incidents?" + params.toString());
  if (!r.ok) {
    flash("could not list incidents: " + reason(r), true);
    return;
  }
  const shown = r.data.incidents.filter((i) => matches(i, f));
  const seen = JSON.stringify(shown);
  if (seen === listState.seen) return; // nothing in this list changed: keep the rows (and any selection)
  listState.seen = seen;
  renderRows(listState.body, shown, Date.now() / 1000);
  listState.count.textContent = `${shown.length} incident(s)`;
  window.__tw.ready = true;
}

function showList() {
  const f = listFilters();
  const body = el("div", { id: "incident-rows", role: "rowgroup" });
  const count = el("span", { class: "muted", id: "incident-count" });
  listState = { body, count };
  main.replaceChildren(
    el("h1", {}, "Incidents ", count),
    filterForm(f),
    el("div", { id: "incidents", role: "table", class: "grid" },
      el("div", { role: "rowgroup" }, el("div", { role: "row", class: "row head" },
        ["age", "state", "severity", "kind", "summary", "series", "acknowledged by"]
          .map((h) => el("div", { role: "columnheader" }, h)))),
      body));
  watch(() => refreshList());
  setInterval(() => { // ages move on between changes
    const now = Date.now() / 1000;
    for (const row of body.children) row.firstChild.textContent = age(Number(row.dataset.opened), now);
  }, 5000);
}

async function route() {
  const gate = await api("/v1/console");
  if (!gate.ok || !gate.data.may_read) {
    main.replaceChildren(el("h1", {}, "tracewatch console"), el("p", { id: "needs-token" },
      !gate.ok ? "The worker did not answer: " + reason(gate)
        : gate.data.token_set ? "Type the API token above to open the console (the workers keep read-only views "
          + "closed without it unless TRACEWATCH_CONSOLE_PUBLIC=true)."
          : "The workers have no API token: set TRACEWATCH_API_TOKEN on them (and type it above), or "
          + "TRACEWATCH_CONSOLE_PUBLIC=true to open the read-only views without one."));
    window.__tw.ready = true;
    return;
  }
  const path = location.pathname;
  const section = path.split("/")[1] || "incidents";
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("active", a.dataset.nav === section);
  if (path.startsWith("/incidents/")) return showIncident(main, decodeURIComponent(path.slice("/incidents/".length)));
  if (section === "blocks") return showBlocks(main);
  if (section === "prompts") return showPrompts(main);
  if (section === "runbooks") return showRunbooks(main);
  if (section === "detectors") return showDetectors(main);
  return showList();
}

setupToken();
route();
