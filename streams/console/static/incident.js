// The incident page: what happened in words, the series plot, example traces, the timeline of what was
// done, and the buttons to act or undo (each asks first and needs the API token).
import { api, confirmAndCall, el, flash, num, reason, watch, when } from "/console/dom.js";

const enc = encodeURIComponent;
const COLORS = { observed: "#1f5fbf", baseline: "#2e7d32", band: "rgba(46,125,50,0.14)", threshold: "#b26a00",
  fired: "#d32f2f", resolved: "#2e7d32" };

export async function showIncident(main, id) {
  let plot = null;
  let drawnFor = null;
  let shown = null;
  async function refresh() {
    const [inc, series, blocks, models] = await Promise.all([
      api("/v1/incidents/" + enc(id)), api("/v1/incidents/" + enc(id) + "/series"),
      api("/v1/blocks"), api("/v1/models")]);
    // Another incident changed: leave this page as it is (a selection, an open section, the scroll).
    const seen = JSON.stringify([inc.data, series.data, blocks.data, models.data]);
    if (seen === shown) return;
    shown = seen;
    if (!inc.ok) {
      main.replaceChildren(el("h1", {}, "Incident ", id), el("p", { class: "error" }, reason(inc)));
      return;
    }
    const incident = inc.data;
    const plotBox = el("div", { id: "plot", class: "card" });
    main.replaceChildren(
      el("h1", {}, incident.summary || incident.id),
      facts(incident),
      buttons(incident, blocks.ok ? blocks.data.blocks : [], models.ok ? models.data.models : [], refresh),
      el("h2", {}, "The series around the incident"), plotBox,
      el("h2", {}, "Example traces"), examples(incident),
      el("h2", {}, "Timeline"), timeline(incident));
    const key = JSON.stringify(series.data && series.data.points ? series.data.points.t.slice(-1) : null) +
      incident.state;
    if (plot && drawnFor === key) plotBox.replaceWith(plot.box);
    else {
      plot = drawPlot(plotBox, series.ok ? series.data : null, incident);
      drawnFor = key;
    }
    window.__tw.ready = true;
  }
  main.replaceChildren(el("p", { class: "muted" }, "Loading incident…"));
  watch(refresh);
}

function facts(i) {
  const rows = [
    ["id", i.id], ["state", i.state], ["severity", i.severity], ["detector", `${i.detector} (${i.kind})`],
    ["series", i.series], ["opened", when(i.opened_at)],
    ["acknowledged", i.acknowledged_at ? `${when(i.acknowledged_at)} by ${i.acknowledged_by}` : "–"],
    ["resolved", i.resolved_at ? `${when(i.resolved_at)} by ${i.resolved_by}` : "–"],
    ["findings", String(i.finding_count)],
    ["target", Object.entries(i.target || {}).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(", ") || "–"],
  ];
  if (i.superseded_by) rows.push(["superseded by", i.superseded_by]);
  const latest = (i.findings || []).at(-1);
  const words = latest ? inWords(latest) : "";
  return el("div", { class: "card" },
    words ? el("p", { id: "in-words" }, words) : null,
    el("dl", { class: "facts" }, rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-fact": k }, v)])));
}

function inWords(f) {
  const e = f.evidence || {};
  const parts = [`${f.detector} found ${f.summary || "an anomaly"} on ${f.series}`];
  if (e.observed !== null && e.observed !== undefined) {
    parts.push(`observed ${num(e.observed)}` + (e.baseline !== null && e.baseline !== undefined
      ? ` against a learned baseline of ${num(e.baseline)}` : ""));
  }
  if (e.window_s) parts.push(`over ${num(e.window_s)} s`);
  return parts.join(", ") + ` (score ${num(f.score)}, ${f.severity}).`;
}

function buttons(i, blocks, pins, refresh) {
  const box = el("div", { class: "actions", id: "actions" });
  const add = (label, question, path, options, detail = "") => box.append(el("button", {
    type: "button", "data-action": label,
    onclick: async () => { const r = await confirmAndCall(question, path, options); if (r && r.ok) refresh(); } },
  label + (detail ? " " + detail : "")));
  const by = { by: "console" };
  const t = i.target || {};
  if (i.state === "open") add("Acknowledge", `Acknowledge incident ${i.id}?`, `/v1/incidents/${enc(i.id)}/ack`, { method: "POST", body: by });
  if (i.state !== "resolved") add("Resolve", `Resolve incident ${i.id}?`, `/v1/incidents/${enc(i.id)}/resolve`, { method: "POST", body: by });
  const active = new Set(blocks.map((b) => b.subject));
  for (const subject of [t.user_id && "user:" + t.user_id, t.session_id && "session:" + t.session_id]) {
    if (subject && active.has(subject)) add("Unblock", `Unblock ${subject}?`, `/v1/blocks/${enc(subject)}`,
      { method: "DELETE", body: { ...by, reason: `unblocked from the console (incident ${i.id})` } }, subject);
  }
  if (t.prompt_id) {
    add("Roll back", `Roll prompt ${t.prompt_id} back to its previous production version?`,
      `/v1/prompts/${enc(t.prompt_id)}/rollback`, { method: "POST", body: { ...by, reason: `incident ${i.id}` } });
    add("Roll forward", `Roll prompt ${t.prompt_id} forward to its newest version?`,
      `/v1/prompts/${enc(t.prompt_id)}/promote`, { method: "POST", body: { ...by, reason: `incident ${i.id}` } });
  }
  const pinned = new Set(pins.map((p) => p.value));
  if (t.model && pinned.has(t.model)) add("Unpin", `Unpin model ${t.model}?`, `/v1/models/${enc(t.model)}`,
    { method: "DELETE", body: { ...by, reason: `incident ${i.id}` } });
  if (!box.childElementCount) box.append(el("span", { class: "muted" }, "nothing to do: the incident is resolved"));
  return box;
}

function examples(i) {
  const ids = [...new Set((i.findings || []).flatMap((f) => (f.evidence || {}).example_trace_ids || []))];
  if (!ids.length) return el("p", { class: "muted" }, "no example traces kept");
  return el("ul", { id: "examples" }, ids.slice(0, 20).map((id) => el("li", {}, el("code", {}, id))));
}

function timeline(i) {
  const items = [];
  const findings = i.findings || [];
  if (findings.length) {
    const first = findings[0];
    const span = (first.evidence || {}).window_s;
    items.push([first.time, "events", `trace events of ${first.series}` + (span ? ` over the ${num(span)} s judged` : "") +
      ", e.g. the example traces above", []]);
  }
  for (const f of findings.slice(-20)) {
    items.push([f.time, "finding", `${f.severity}: ${f.summary}`,
      [el("pre", {}, JSON.stringify(f.evidence))]]);
  }
  items.push([i.opened_at, "incident", `incident ${i.id} opened`, []]);
  if (i.acknowledged_at) items.push([i.acknowledged_at, "ack", `acknowledged by ${i.acknowledged_by}`, []]);
  for (const x of i.executions || []) items.push([x.created_at, "runbook", `runbook ${x.runbook} (${x.event}): ${x.status}` +
    (x.reason ? ` — ${x.reason}` : ""), [steps(x)]]);
  if (i.resolved_at) items.push([i.resolved_at, "resolved", `resolved by ${i.resolved_by}`, []]);
  items.sort((a, b) => a[0] - b[0]);
  return el("ol", { class: "timeline", id: "timeline" }, items.map(([t, kind, text, more]) =>
    el("li", { "data-kind": kind }, el("span", { class: "when" }, when(t)), el("span", { class: "tag" }, kind), text, more)));
}

function steps(x) {
  const audit = x.audit || [];
  return el("ul", {}, (x.steps || []).map((s) => {
    const attempts = audit.filter((a) => a.step === s.index);
    return el("li", { "data-step": s.type },
      `action ${s.type}${s.name ? " " + s.name : ""}${s.target ? " → " + s.target : ""}: ${s.status}, ` +
      `${s.attempts} attempt(s)${s.error ? ", " + s.error : ""}`,
      Object.keys(s.detail || {}).length ? el("pre", {}, "response: " + JSON.stringify(s.detail)) : null,
      attempts.length ? el("ul", {}, attempts.map((a) => el("li", { "data-audit": a.outcome },
        `audit: attempt ${a.attempt} at ${when(a.at)}: ${a.outcome}` +
        (a.status_code ? ` (HTTP ${a.status_code})` : "") + `, ${num(a.duration_ms)} ms` +
        (a.error ? ` — ${a.error}` : "")))) : null);
  }));
}

/** uPlot: observed values, the baseline and its band, the threshold; fired and resolved marked. */
export function drawPlot(box, series, incident) {
  const pts = series && series.points;
  let data;
  if (pts && pts.t.length) {
    // each point at its window's end: the moment its value was known (and the finding made)
    const span = series.window_s || 0;
    data = [pts.t.map((t) => t + span), pts.observed, pts.baseline, pts.low, pts.high, pts.threshold];
  } else { // this worker does not judge the series: the findings' evidence is what is known
    const f = (series && series.findings) || (incident.findings || []).map((x) => ({ time: x.time, ...x.evidence }));
    data = [f.map((x) => x.time), f.map((x) => x.observed), f.map((x) => x.baseline), f.map(() => null),
      f.map(() => null), f.map(() => null)];
  }
  const marks = [[incident.opened_at, COLORS.fired, "fired"], [incident.resolved_at, COLORS.resolved, "resolved"]]
    .filter(([t]) => t !== null && t !== undefined);
  box.replaceChildren(el("p", { class: "legend-note", id: "plot-note" },
    pts && pts.t.length ? `${pts.t.length} closed window(s) of ${series.window_s} s, each at its end; `
      : "the findings' evidence (no closed window of the series judged here yet); ",
    marks.map(([t, , name]) => `${name} ${when(t)}`).join(", ")));
  box.dataset.points = String(data[0].length);
  box.dataset.before = String(data[0].filter((t) => t < incident.opened_at).length);
  box.dataset.fired = String(incident.opened_at);
  if (typeof window.uPlot !== "function") {
    box.append(el("p", { class: "error" }, "the plot library did not load"));
    return { box };
  }
  let started = 0;
  const markers = {
    hooks: {
      draw: [(u) => {
        if (!window.__tw.plotMs) window.__tw.plotMs = performance.now() - started; // the first draw is done
        const ctx = u.ctx;
        for (const [t, color] of marks) {
          const x = u.valToPos(t, "x", true);
          if (!Number.isFinite(x)) continue;
          ctx.save();
          ctx.strokeStyle = color;
          ctx.lineWidth = 2 * devicePixelRatio;
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.restore();
        }
      }],
    },
  };
  const xs = data[0];
  const lo = Math.min(xs[0] ?? incident.opened_at, incident.opened_at) - 60;
  const hi = Math.max(xs.at(-1) ?? incident.opened_at, incident.resolved_at || incident.opened_at) + 60;
  const opts = {
    width: Math.max(320, box.clientWidth - 32), height: 300, plugins: [markers],
    scales: { x: { time: true, range: [lo, hi] } },
    series: [{}, { label: "observed", stroke: COLORS.observed, width: 2, points: { show: true, size: 4 } },
      { label: "baseline", stroke: COLORS.baseline, width: 1.5 },
      { label: "band low", stroke: "rgba(46,125,50,0.35)", width: 1 },
      { label: "band high", stroke: "rgba(46,125,50,0.35)", width: 1 },
      { label: "threshold", stroke: COLORS.threshold, width: 1.5, dash: [6, 4] }],
    bands: [{ series: [4, 3], fill: COLORS.band }],
  };
  window.__tw.plotMs = 0;
  started = performance.now();
  const u = new window.uPlot(opts, data, box);
  window.__tw.plot = u;
  return { box, u };
}

export { flash };
