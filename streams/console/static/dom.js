// DOM and API helpers. Everything shown comes from traces (attacker-controlled): text goes in with
// textContent / DOM nodes only, never as HTML, and only http(s) links this console builds itself.

const TOKEN_KEY = "tracewatch.token";

/** el("td", {class: "x", title: t}, "text", child) — attributes set one by one, children as text nodes. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A link inside the console: the path is built here and every id in it percent-encoded. */
export function link(path, ...children) {
  return el("a", { href: path }, ...children);
}

export function incidentPath(id) {
  return "/incidents/" + encodeURIComponent(id);
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** fetch JSON from the API; the token (if typed) goes in the Authorization header, never a cookie. */
export async function api(path, { method = "GET", body = undefined } = {}) {
  const headers = { Accept: "application/json" };
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, { method, headers, credentials: "omit", cache: "no-store",
                                   body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    return { ok: false, status: 0, data: { error: "the worker did not answer: " + err.message } };
  }
  let data = null;
  try { data = await response.json(); } catch { data = { error: `HTTP ${response.status}` }; }
  return { ok: response.ok, status: response.status, data };
}

export function flash(message, isError = false) {
  const box = document.getElementById("flash");
  const item = el("div", { class: isError ? "error" : "note", "data-flash": isError ? "error" : "ok" }, message);
  box.replaceChildren(item);
}

export function reason(result) {
  const d = result.data || {};
  return [d.error || `HTTP ${result.status}`, d.hint].filter(Boolean).join(" — ");
}

export function when(t) {
  if (t === null || t === undefined) return "–";
  const d = new Date(t * 1000);
  return d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

export function age(t, now) {
  if (t === null || t === undefined) return "–";
  const s = Math.max(0, Math.round(now - t));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
}

export function num(x) {
  if (x === null || x === undefined) return "–";
  if (typeof x !== "number") return String(x);
  return Math.abs(x) >= 1000 || Number.isInteger(x) ? x.toLocaleString("en") : x.toPrecision(4);
}

/** Ask, then call; the answer (or the refusal's reason) is flashed, ``then`` runs after a success (redraw). */
export async function confirmAndCall(question, path, options, then = null) {
  if (!window.confirm(question)) return null;
  const result = await api(path, options);
  if (result.ok) {
    flash("done: " + question.replace(/\?$/, ""));
    if (then) await then();
  }
  if (!result.ok) flash("refused: " + reason(result) + (token() ? "" : " (no API token typed above)"), true);
  return result;
}

/** Poll the change counter every second; call onChange when it moved (and once at the start). */
export function watch(onChange, intervalMs = 1000) {
  let last = null;
  let stopped = false;
  async function tick() {
    if (stopped) return;
    const r = await api("/v1/console");
    if (r.ok && r.data.version !== last) {
      last = r.data.version;
      try { await onChange(r.data); } catch (err) { console.error(err); }
    }
    if (!stopped) setTimeout(tick, intervalMs);
  }
  tick();
  return () => { stopped = true; };
}
