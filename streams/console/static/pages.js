// Blocks, prompts, runbooks and detectors.
import { api, confirmAndCall, el, flash, incidentPath, link, num, reason, watch, when } from "/console/dom.js";

const enc = encodeURIComponent;

function table(id, headers, rows) {
  return el("table", { id }, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))), el("tbody", {}, rows));
}

async function load(main, title, path, render) {
  const r = await api(path);
  if (!r.ok) {
    main.replaceChildren(el("h1", {}, title), el("p", { class: "error" }, reason(r)));
    return;
  }
  main.replaceChildren(el("h1", {}, title), ...[render(r.data)].flat());
  window.__tw.ready = true;
}

export function showBlocks(main) {
  const draw = async () => {
    const [blocks, pins] = await Promise.all([api("/v1/blocks"), api("/v1/models")]);
    if (!blocks.ok) return flash(reason(blocks), true);
    const incident = (id) => (id ? link(incidentPath(id), id) : "–");
    main.replaceChildren(
      el("h1", {}, "Blocks"),
      table("blocks", ["subject", "reason", "by", "incident", "since", "expires", ""], blocks.data.blocks.map((b) =>
        el("tr", { "data-subject": b.subject }, el("td", {}, b.subject), el("td", {}, b.reason), el("td", {}, b.created_by),
          el("td", {}, incident(b.incident_id)), el("td", {}, when(b.created_at)), el("td", {}, when(b.expires_at)),
          el("td", {}, el("button", { type: "button", onclick: () => confirmAndCall(`Unblock ${b.subject}?`,
            `/v1/blocks/${enc(b.subject)}`, { method: "DELETE", body: { by: "console", reason: "unblocked from the console" } },
            draw) }, "Unblock"))))),
      el("h1", {}, "Model pins"),
      table("pins", ["model", "use instead", "reason", "incident", "expires", ""], (pins.ok ? pins.data.models : []).map((p) =>
        el("tr", {}, el("td", {}, p.value), el("td", {}, p.use), el("td", {}, p.reason), el("td", {}, incident(p.incident_id)),
          el("td", {}, when(p.expires_at)),
          el("td", {}, el("button", { type: "button", onclick: () => confirmAndCall(`Unpin ${p.value}?`,
            `/v1/models/${enc(p.value)}`, { method: "DELETE", body: { by: "console" } }, draw) }, "Unpin"))))));
    window.__tw.ready = true;
  };
  watch(draw);
}

export function showPrompts(main) {
  const draw = async () => {
    const r = await api("/v1/prompts");
    if (!r.ok) return flash(reason(r), true);
    const cards = await Promise.all(r.data.prompts.map(async (p) => {
      const detail = await api("/v1/prompts/" + enc(p.prompt_id));
      const history = detail.ok ? detail.data.history : [];
      const act = (label, question, action) => el("button", { type: "button", onclick: () => confirmAndCall(question,
        `/v1/prompts/${enc(p.prompt_id)}/${action}`, { method: "POST", body: { by: "console", reason: "from the console" } },
        draw) }, label);
      return el("div", { class: "card", "data-prompt": p.prompt_id },
        el("h2", {}, p.prompt_id),
        el("p", {}, "labels: ", Object.entries(p.labels).map(([k, v]) => el("span", { class: "tag" }, `${k} → ${v}`)),
          " versions: ", p.versions.join(", ")),
        el("div", { class: "actions" }, act("Roll back", `Roll ${p.prompt_id} back to its previous production version?`, "rollback"),
          act("Roll forward", `Promote the newest version of ${p.prompt_id} to production?`, "promote")),
        table("", ["when", "label", "from", "to", "kind", "by", "reason", "incident"], history.slice(-20).reverse().map((m) =>
          el("tr", {}, el("td", {}, when(m.at)), el("td", {}, m.label), el("td", {}, m.from_version ?? "–"),
            el("td", {}, m.to_version), el("td", {}, m.kind), el("td", {}, m.by), el("td", {}, m.reason),
            el("td", {}, m.incident_id ? link(incidentPath(m.incident_id), m.incident_id) : "–")))));
    }));
    main.replaceChildren(el("h1", {}, "Prompts"), ...(cards.length ? cards : [el("p", { class: "muted" }, "no prompts registered")]));
    window.__tw.ready = true;
  };
  watch(draw);
}

export function showRunbooks(main) {
  load(main, "Runbooks", "/v1/runbooks", (d) => d.runbooks.map((rb) => el("div", { class: "card", "data-runbook": rb.name },
    el("h2", {}, rb.name), rb.description ? el("p", {}, rb.description) : null,
    el("p", {}, "when: ", el("code", {}, JSON.stringify(rb.trigger))),
    el("p", {}, "what it would do:"),
    el("ol", {}, rb.steps.map((s) => el("li", {}, `${s.type}${s.name ? " (" + s.name + ")" : ""}`,
      s.when ? el("span", { class: "muted" }, ` when ${s.when}`) : null,
      s.params && Object.keys(s.params).length ? el("pre", {}, JSON.stringify(s.params)) : null))),
    el("p", {}, "last runs:"),
    rb.last_runs.length ? el("ul", {}, rb.last_runs.map((x) => el("li", {}, `${when(x.created_at)} ${x.event}: ${x.status} — `,
      link(incidentPath(x.incident_id), x.incident_id)))) : el("p", { class: "muted" }, "none yet"))));
}

export function showDetectors(main) {
  load(main, "Detectors", "/v1/detectors", (d) => table("detectors",
    ["name", "kind", "series", "window", "series tracked here", "findings / hour", "incidents", "open", "false-page rate"],
    d.detectors.map((x) => el("tr", {}, el("td", {}, x.name), el("td", {}, x.kind), el("td", {}, x.series),
      el("td", { class: "num" }, `${num(x.window_s)} s`), el("td", { class: "num" }, num(x.series_count)),
      el("td", { class: "num" }, num(x.findings_per_hour)), el("td", { class: "num" }, num(x.incidents)),
      el("td", { class: "num" }, num(x.open_incidents)),
      el("td", { class: "num", title: "nobody records yet whether a page was false" }, x.false_page_rate ?? "not known")))));
}
