/*
 * app.js - the claw dashboard: a client of the control plane's REST API and
 * nothing else (docs/dashboard.md).
 *
 * The operator signs in by pasting an API token; it is kept in
 * sessionStorage (gone when the tab closes) and sent as
 * "Authorization: Bearer TOKEN". Views are drawn from hash routes
 * (#/overview, #/tenants, #/tenants/SLUG, #/nodes, #/rollouts[/ID],
 * #/events, #/logs, #/usage, #/approvals, #/plans, #/tokens, #/audit); a
 * tenant's page also sets up its agent (channels, persona, model, tools: tabs over the
 * resources of docs/resources.md). Streams (events,
 * logs) are read with fetch(), as EventSource cannot send the token, and
 * stop when their view is left. Charts are inline SVG drawn here. Every
 * value from the API is put in the page as text (textContent), never as
 * HTML. API errors are shown from the shared error shape
 * {"error":{"code","message","request_id"}}. Secret values are
 * write-only: the form sends them and clears itself; no view ever shows
 * one.
 */
"use strict";

const TOKEN_KEY = "claw.token";

/* ---------------------------------------------------------------- DOM */

/* h("tag.class", {attr: value, onclick: fn}, child, ...): children are
 * nodes or text (never parsed as HTML). */
function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag);
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function show(...nodes) {
  const main = document.getElementById("main");
  main.replaceChildren(...nodes);
}

function flash(kind, text, detail) {
  const box = document.getElementById("flash");
  box.replaceChildren(h("div.msg." + kind, {}, text,
    detail ? h("span.detail", {}, detail) : null));
}

function clearFlash() {
  document.getElementById("flash").replaceChildren();
}

function fmtTime(s) {
  if (!s) return "-";
  const d = new Date(s);
  return isNaN(d) ? s : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function cell(v) {
  if (v === null || v === undefined || v === "") return "-";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/* A table: cols is [{title, get(item) -> node|text, cls}]; cls styles
 * the column's cells ("nowrap", "wrap"). */
function table(cols, items, emptyText) {
  const body = items.length
    ? items.map((it) => h("tr", {}, cols.map((c) => h("td" + (c.cls ? "." + c.cls : ""), {}, c.get(it)))))
    : [h("tr", {}, h("td.empty", { colspan: cols.length }, emptyText))];
  return h("div.tablewrap", {},
    h("table", {}, h("thead", {}, h("tr", {}, cols.map((c) => h("th", {}, c.title)))),
      h("tbody", {}, body)));
}

/* ---------------------------------------------------------------- API */

class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function unreachable() {
  return new ApiError(0, "unreachable",
    "the control plane did not answer; check that it is running, then reload", null);
}

/* Call the API; resolves with the parsed JSON (null for 204), rejects
 * with an ApiError carrying the error shape's fields. */
async function api(method, path, body, headers) {
  const hdrs = Object.assign({ Accept: "application/json" }, headers || {});
  const t = token();
  if (t) hdrs.Authorization = "Bearer " + t;
  const init = { method, headers: hdrs, cache: "no-store" };
  if (body !== undefined) {
    hdrs["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    /* a read is tried once more: the browser drops requests when the
     * machine's networks change */
    if (method !== "GET") throw unreachable();
    await new Promise((r) => setTimeout(r, 500));
    try { resp = await fetch(path, init); } catch (e2) { throw unreachable(); }
  }
  const text = await resp.text();
  const json = parseJson(text);
  if (resp.ok) return json;
  throw apiError(resp, json);
}

function parseJson(text) {
  if (!text) return null;
  try { return JSON.parse(text); } catch (e) { return null; }
}

/* The ApiError of a failed answer from its error shape (json: the parsed
 * body, or null). */
function apiError(resp, json) {
  const err = json && json.error ? json.error : {};
  return new ApiError(resp.status, err.code || "http_" + resp.status,
    err.message || "the control plane answered HTTP " + resp.status,
    err.request_id || resp.headers.get("X-Request-Id"));
}

/* A 404 from the router itself (code not_found): the route is not in this
 * control plane (a missing resource has its own code, tenant_not_found...). */
function noRoute(e) {
  return e instanceof ApiError && e.status === 404 && e.code === "not_found";
}

/* What to do, for codes whose message may only say what went wrong. */
const HINTS = {
  not_running: "deploy or start the tenant first",
  rollout_state: "reload the rollout to see its state now",
  node_unavailable: "check the tenant's node on the Nodes page",
};

/* Show an API failure (with its hint); a refused token sends the operator
 * back to sign in. */
function fail(e) {
  if (!(e instanceof ApiError)) {
    flash("error", "unexpected error in the dashboard: " + e.message + "; reload the page");
    return;
  }
  const hint = HINTS[e.code];
  const text = hint && !e.message.includes(hint) ? e.message + "; " + hint : e.message;
  const detail = "(" + e.code + (e.status ? ", HTTP " + e.status : "") +
    (e.requestId ? ", request id " + e.requestId : "") + ")";
  if (e.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    renderSignin();
  }
  flash("error", text, detail);
}

function q(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) u.set(k, v);
  const s = u.toString();
  return s ? "?" + s : "";
}

/* A paged list: fetches pages of path+params, draws them with draw(items)
 * into holder, and offers "Load more" while next_cursor is set. */
async function pagedList(holder, path, params, draw, rethrow) {
  let items = [];
  let cursor = null;
  let first = true;
  const more = h("button.btn.secondary.more", { type: "button" }, "Load more");
  async function load() {
    try {
      const page = await api("GET", path + q(Object.assign({}, params, { cursor })));
      items = items.concat(page.items || []);
      cursor = page.next_cursor || null;
      holder.replaceChildren(draw(items), cursor ? more : "");
    } catch (e) {
      if (rethrow && first) throw e;
      fail(e);
    } finally { first = false; }
  }
  more.addEventListener("click", load);
  await load();
}

/* ---------------------------------------------------------------- views */

function renderSignin() {
  document.getElementById("nav").hidden = true;
  document.getElementById("signout").hidden = true;
  const input = h("input.wide", { type: "password", id: "token", autocomplete: "off",
    placeholder: "claw_...", "aria-label": "API token" });
  const form = h("form.card.signin", {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const t = input.value.trim();
      if (!t) { flash("error", "paste a token first"); return; }
      sessionStorage.setItem(TOKEN_KEY, t);
      input.value = "";
      clearFlash();
      if (location.hash === "" || location.hash === "#/") location.hash = "#/tenants";
      else route();
    },
  },
  h("h1", {}, "Sign in"),
  h("p.muted", {}, "Paste an API token (the admin token is in the control plane's " +
    "DATA_DIR/admin.token). It stays in this tab only and is sent to the API " +
    "as a bearer token."),
  h("div.row", {}, input, h("button.btn", { type: "submit", id: "signin" }, "Sign in")));
  show(form);
  input.focus();
}

function statusBadge(s) {
  return h("span.badge." + (s || "none"), {}, s || "-");
}

async function renderTenants() {
  const status = h("select", { id: "tenant-status", "aria-label": "status" },
    ["active", "deleted", "all"].map((s) => h("option", { value: s }, s)));
  const slug = h("input", { id: "new-slug", placeholder: "acme", required: true,
    pattern: "[a-z0-9]([a-z0-9\\-]{0,61}[a-z0-9])?", "aria-label": "slug" });
  const name = h("input", { id: "new-name", placeholder: "Acme Inc.", "aria-label": "name" });
  const holder = h("div", {}, h("p.muted", {}, "Loading…"));
  const create = h("form.card", {
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const t = await api("POST", "/v1/tenants",
          { slug: slug.value.trim(), name: name.value.trim() || slug.value.trim() });
        flash("info", "tenant " + t.slug + " created");
        slug.value = "";
        name.value = "";
        load();
      } catch (e) { fail(e); }
    },
  },
  h("h2", {}, "Create a tenant"),
  h("div.row", {},
    h("label", {}, "Slug (a-z, 0-9, -)", slug),
    h("label", {}, "Name", name),
    h("button.btn", { type: "submit", id: "create-tenant" }, "Create")));
  const cols = [
    { title: "Slug", get: (t) => h("a", { href: "#/tenants/" + encodeURIComponent(t.slug) }, t.slug) },
    { title: "Name", get: (t) => t.name },
    { title: "Status", get: (t) => statusBadge(t.status) },
    { title: "Version", get: (t) => cell(t.version) },
    { title: "Created", get: (t) => fmtTime(t.created_at), cls: "nowrap" },
    { title: "Id", get: (t) => h("span.mono", {}, t.id) },
  ];
  function load() {
    holder.replaceChildren(h("p.muted", {}, "Loading…"));
    return pagedList(holder, "/v1/tenants", { status: status.value, limit: "50" },
      (items) => h("div", { id: "tenants-table" }, table(cols, items, "no tenants yet")));
  }
  status.addEventListener("change", load);
  show(h("h1", {}, "Tenants"), create,
    h("div.row.filters", {}, h("label", {}, "Show", status)), holder);
  await load();
}

async function renderTenant(slug) {
  let t;
  try {
    t = await api("GET", "/v1/tenants/" + encodeURIComponent(slug));
  } catch (e) {
    fail(e);
    show(h("p", {}, h("a", { href: "#/tenants" }, "← Tenants")));
    return;
  }
  const base = "/v1/tenants/" + encodeURIComponent(t.id);
  const newName = h("input", { value: t.name, "aria-label": "new name" });
  const rename = h("form.row", {
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        await api("PATCH", base, { name: newName.value.trim() },
          { "If-Match": '"' + t.version + '"' });
        flash("info", "tenant renamed");
        renderTenant(slug);
      } catch (e) { fail(e); }
    },
  }, h("label", {}, "Display name", newName),
  h("button.btn.secondary", { type: "submit" }, "Rename"));
  const deleted = t.status === "deleted";
  const lifecycle = h("button.btn" + (deleted ? ".secondary" : ".danger"), {
    type: "button",
    onclick: async () => {
      if (!deleted && !confirm("Delete tenant " + t.slug + "? It can be restored until purged.")) return;
      try {
        if (deleted) await api("POST", base + "/restore");
        else await api("DELETE", base, undefined, { "If-Match": '"' + t.version + '"' });
        flash("info", "tenant " + t.slug + (deleted ? " restored" : " deleted"));
        renderTenant(slug);
      } catch (e) { fail(e); }
    },
  }, deleted ? "Restore" : "Delete");

  const info = h("div.card", {},
    h("dl.kv", {},
      h("dt", {}, "Slug"), h("dd", {}, t.slug),
      h("dt", {}, "Name"), h("dd", {}, t.name),
      h("dt", {}, "Status"), h("dd", {}, statusBadge(t.status)),
      h("dt", {}, "Public URL"), h("dd", { id: "tenant-public-url" }, t.public_url
        ? h("a.mono", { href: t.public_url, rel: "noopener noreferrer", target: "_blank" }, t.public_url)
        : h("span.muted", {}, "- (the fleet has no base-domain)")),
      h("dt", {}, "Webhooks"), h("dd.mono", { id: "tenant-webhooks" }, webhooksList(t.webhooks)),
      h("dt", {}, "Plan"), h("dd", { id: "tenant-plan" }, cell(t.plan)),
      h("dt", {}, "Egress bound"), h("dd.mono", {}, (t.egress_allow || []).join(", ") || "-"),
      h("dt", {}, "Self-pause"), h("dd", {}, t.self_pause ? "allowed" : "not allowed"),
      h("dt", {}, "Node labels"), h("dd.mono", { id: "tenant-node-labels" }, labelsText(t.node_labels) || "-"),
      h("dt", {}, "Channel base URLs"), h("dd.mono", { id: "tenant-api-base-allow" },
        (t.api_base_allow || []).join(", ") || "-"),
      h("dt", {}, "Suspended by"), h("dd", { id: "tenant-suspended-by" }, cell(t.suspended_by)),
      h("dt", {}, "Version"), h("dd", {}, cell(t.version)),
      h("dt", {}, "Id"), h("dd.mono", {}, t.id),
      h("dt", {}, "Created"), h("dd", {}, fmtTime(t.created_at)),
      h("dt", {}, "Updated"), h("dd", {}, fmtTime(t.updated_at))),
    h("div.row", {}, rename, lifecycle), boundsForm(t, base, slug));

  const secretsHolder = h("div", {}, h("p.muted", {}, "Loading…"));
  const sName = h("input", { id: "secret-name", placeholder: "OPENAI_API_KEY", required: true,
    "aria-label": "secret name" });
  const sValue = h("input.wide", { id: "secret-value", type: "password", autocomplete: "new-password",
    required: true, placeholder: "value (write-only)", "aria-label": "secret value" });
  const secretForm = h("form.row", {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const name = sName.value.trim();
      const value = sValue.value;
      sValue.value = "";
      try {
        const m = await api("PUT", base + "/secrets/" + encodeURIComponent(name), { value });
        flash("info", "secret " + m.name + " stored (version " + m.version + ")");
        sName.value = "";
        loadSecrets();
      } catch (e) { fail(e); }
    },
  }, h("label", {}, "Name", sName), h("label", {}, "Value", sValue),
  h("button.btn", { type: "submit", id: "set-secret" }, "Set"));
  const sCols = [
    { title: "Name", get: (s) => s.name },
    { title: "Version", get: (s) => cell(s.version) },
    { title: "Created", get: (s) => fmtTime(s.created_at) },
    { title: "Updated", get: (s) => fmtTime(s.updated_at) },
    { title: "", get: (s) => h("button.btn.danger", { type: "button", onclick: async () => {
      if (!confirm("Delete secret " + s.name + "?")) return;
      try {
        await api("DELETE", base + "/secrets/" + encodeURIComponent(s.name));
        flash("info", "secret " + s.name + " deleted");
        loadSecrets();
      } catch (e) { fail(e); }
    } }, "Delete") },
  ];
  function loadSecrets() {
    return pagedList(secretsHolder, base + "/secrets", { limit: "100" },
      (items) => table(sCols, items, "no secrets"));
  }
  /* Custom domains (docs/fleet.md, "Public addresses"): claimed here,
   * routed by every node's edge, certificates on first use. */
  const domainsHolder = h("div", { id: "domains" }, h("p.muted", {}, "Loading…"));
  const dName = h("input.wide", { id: "domain-name", placeholder: "chat.example.com", required: true,
    "aria-label": "domain" });
  const domainForm = h("form.row", {
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const d = await api("PUT", base + "/domains/" + encodeURIComponent(dName.value.trim()));
        flash("info", "domain " + d.domain + " claimed");
        dName.value = "";
        loadDomains();
      } catch (e) { fail(e); }
    },
  }, h("label", {}, "Domain", dName),
  h("button.btn", { type: "submit", id: "add-domain" }, "Add"));
  const dCols = [
    { title: "Domain", get: (d) => h("span.mono", {}, d.domain) },
    { title: "Claimed", get: (d) => fmtTime(d.created_at) },
    { title: "", get: (d) => h("button.btn.danger", { type: "button", "data-domain": d.domain,
      onclick: async () => {
        if (!confirm("Release domain " + d.domain + "?")) return;
        try {
          await api("DELETE", base + "/domains/" + encodeURIComponent(d.domain));
          flash("info", "domain " + d.domain + " released");
          loadDomains();
        } catch (e) { fail(e); }
      } }, "Remove") },
  ];
  async function loadDomains() {
    try {
      const r = await api("GET", base + "/domains");
      domainsHolder.replaceChildren(table(dCols, r.items, "no custom domains"));
    } catch (e) { fail(e); }
  }
  const auditLink = h("a", { href: "#/audit?tenant=" + encodeURIComponent(t.id) },
    "Audit rows of this tenant →");
  const links = h("p.links", { id: "tenant-links" },
    h("a", { href: "#/logs" + q({ tenant: t.slug }) }, "Logs"),
    h("a", { href: "#/usage" + q({ tenant: t.slug }) }, "Usage"),
    h("a", { href: "#/events" + q({ tenant: t.slug }) }, "Events"));
  const deployment = deleted ? h("p.muted", {}, "the tenant is deleted")
    : deploymentSection(t, base);
  show(h("p", {}, h("a", { href: "#/tenants" }, "← Tenants")),
    h("h1", {}, t.name + " (" + t.slug + ")"), links, info,
    h("h2", {}, "Deployment"), deployment, deleted ? "" : chatPanel(base),
    ...(deleted ? [] : [h("h2", {}, "Agent setup"), setupSection(t, base, deployment, () => loadSecrets())]),
    h("h2", {}, "Domains"),
    h("p.muted", {}, "Point the domain's DNS at the fleet's nodes, then add it: every node's edge routes it and gets its certificate on first use."),
    h("div.card", {}, domainForm), domainsHolder,
    h("h2", {}, "Secrets"),
    h("p.muted", {}, "Values are write-only: they are sealed by the control plane and never shown here."),
    h("div.card", {}, secretForm), secretsHolder,
    h("p", {}, auditLink));
  if (!deleted) await loadDomains();
  else domainsHolder.replaceChildren(h("p.muted", {}, "the tenant is deleted"));
  if (!deleted) await loadSecrets();
  else secretsHolder.replaceChildren(h("p.muted", {}, "the tenant is deleted"));
}

/* Each enabled channel's webhook URL on the tenant's public address. */
function webhooksList(w) {
  return Object.keys(w || {}).length
    ? h("ul.plain", {}, ...Object.entries(w).map(([ch, url]) => h("li", {}, ch + ": " + url)))
    : "-";
}

/* A node_labels bound as text: "zone=a, zone=b, gpu=yes" (one entry per
 * allowed value), and back. */
function labelsText(o) {
  const out = [];
  for (const [k, v] of Object.entries(o || {})) {
    for (const val of Array.isArray(v) ? v : [v]) out.push(k + "=" + val);
  }
  return out.join(", ");
}

function labelsParse(text) {
  const o = {};
  for (const e of text.split(/[\s,]+/).filter(Boolean)) {
    const i = e.indexOf("=");
    if (i < 1) throw new Error("node labels are LABEL=VALUE entries: '" + e + "' is not one");
    const k = e.slice(0, i), v = e.slice(i + 1);
    if (!(k in o)) o[k] = v;
    else o[k] = [].concat(o[k], v);
  }
  return o;
}

/* What an admin or operator allows the tenant: its plan, its egress bound,
 * whether its own token may suspend and resume it, the node labels its
 * own deploys may ask for, and the channel base URLs its gateway config
 * may set (the gateway calls those directly, outside its egress proxy). */
function boundsForm(t, base, slug) {
  const plan = h("input", { id: "bounds-plan", value: t.plan || "default", "aria-label": "plan" });
  const egress = h("input.wide", { id: "bounds-egress", value: (t.egress_allow || []).join(", "),
    placeholder: "api.example.com:443, *.mcp.example.com:443", "aria-label": "egress bound" });
  const selfPause = h("input", { id: "bounds-self-pause", type: "checkbox", checked: t.self_pause,
    "aria-label": "self-pause" });
  const labels = h("input", { id: "bounds-node-labels", value: labelsText(t.node_labels),
    placeholder: "zone=a, zone=b", "aria-label": "node labels" });
  const bases = h("input.wide", { id: "bounds-api-base", value: (t.api_base_allow || []).join(", "),
    placeholder: "https://chat.example.com", "aria-label": "channel base URLs" });
  return h("form.row", {
    id: "bounds-form",
    onsubmit: async (ev) => {
      ev.preventDefault();
      let body;
      try {
        body = {
          plan: plan.value.trim() || "default",
          egress_allow: egress.value.split(/[\s,]+/).filter(Boolean),
          self_pause: selfPause.checked,
          node_labels: labelsParse(labels.value),
          api_base_allow: bases.value.split(/[\s,]+/).filter(Boolean),
        };
      } catch (e) { flash("error", e.message); return; }
      try {
        await api("PATCH", base, body, { "If-Match": '"' + t.version + '"' });
        flash("info", "bounds of " + t.slug + " saved");
        renderTenant(slug);
      } catch (e) { fail(e); }
    },
  }, h("label", {}, "Plan", plan), h("label", {}, "Egress bound", egress),
  h("label", {}, "Self-pause", selfPause), h("label", {}, "Node labels", labels),
  h("label", {}, "Channel base URLs", bases),
  h("button.btn.secondary", { type: "submit", id: "save-bounds" }, "Save bounds"));
}

/* ------------------------------------------------- deployment of a tenant */

const SETTLED = { healthy: true, failed: true };

function phaseBadge(p) {
  const cls = p === "healthy" ? "ok" : p === "failed" ? "bad" : "busy";
  return h("span.badge." + cls, { "data-phase": p || "" }, p || "-");
}

/* The tenant's placement, its one-click deploy with live progress, the
 * kill switch and the other state changes, and its deployments. */
function deploymentSection(t, base) {
  const where = h("div", { id: "placement" }, h("p.muted", {}, "Loading…"));
  const progress = h("div", { id: "deploy-progress" });
  const history = h("div", { id: "deployments" });
  let following = null;

  async function loadPlacement() {
    let p = null;
    try {
      p = await api("GET", base + "/placement");
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) { fail(e); return; }
    }
    const buttons = [];
    const act = (label, path, id, cls) => h("button.btn" + (cls || ".secondary"), {
      type: "button", id,
      onclick: async () => {
        try {
          await api("POST", base + path);
          flash("info", "tenant " + t.slug + ": " + label.toLowerCase() + " requested");
          loadPlacement();
        } catch (e) { fail(e); }
      },
    }, label);
    buttons.push(h("button.btn", { type: "button", id: "deploy", onclick: () => start("/deploy") },
      p ? "Redeploy" : "Deploy"));
    if (p) {
      if (p.state === "suspended") buttons.push(act("Resume", "/resume", "resume"));
      else buttons.push(act("Suspend", "/suspend", "suspend", ".danger"));
      if (p.state === "stopped") buttons.push(act("Start", "/start", "start"));
      else if (p.state !== "suspended") buttons.push(act("Stop", "/stop", "stop"));
      buttons.push(h("button.btn.secondary", { type: "button", id: "rollback",
        onclick: () => start("/rollback") }, "Roll back"));
    }
    where.replaceChildren(p
      ? h("dl.kv", {},
        h("dt", {}, "State"), h("dd", { id: "tenant-state" }, h("strong", {}, cell(p.state))),
        h("dt", {}, "Phase"), h("dd", {}, phaseBadge(p.phase)),
        h("dt", {}, "Node"), h("dd", {}, cell(p.node_name)),
        h("dt", {}, "Deployment"), h("dd.mono", {}, cell(p.deployment_id)),
        h("dt", {}, "Reason"), h("dd", {}, cell(p.reason)),
        h("dt", {}, "Tool servers"), h("dd", { id: "tool-servers" }, toolServers(p)),
        h("dt", {}, "Updated"), h("dd", {}, fmtTime(p.updated_at)))
      : h("p.muted", {}, "Not deployed. Deploy runs the default images and plan."),
    h("div.row", {}, buttons));
  }

  /* Deploy (or roll back) and follow the new deployment's phase. */
  async function start(path) {
    let d;
    try {
      d = await api("POST", base + path, path === "/deploy" ? {} : undefined);
    } catch (e) { fail(e); return; }
    flash("info", "deployment " + d.id + " started");
    follow(d);
  }

  function follow(d) {
    if (following) clearTimeout(following);
    /* the creation's phase first: resolving may be over by the first poll */
    const seen = d.phase ? [d.phase] : [];
    async function tick() {
      if (!progress.isConnected) return; /* the page was left */
      try {
        d = await api("GET", base + "/deployments/" + encodeURIComponent(d.id));
      } catch (e) { fail(e); return; }
      if (seen[seen.length - 1] !== d.phase) seen.push(d.phase);
      progress.replaceChildren(h("div.card", {},
        h("strong", {}, "Deployment "), h("span.mono", {}, d.id), " ",
        phaseBadge(d.phase), d.reason ? h("span.muted", {}, " " + d.reason) : "",
        h("div.muted", { id: "deploy-steps" }, seen.join(" → "))));
      if (SETTLED[d.phase]) {
        following = null;
        loadPlacement();
        loadHistory();
        if (progress.parentNode && progress.parentNode.onSettled) progress.parentNode.onSettled();
      } else {
        following = setTimeout(tick, 1000);
      }
    }
    tick();
  }

  const cols = [
    { title: "Id", get: (d) => h("span.mono", {}, d.id) },
    { title: "Phase", get: (d) => phaseBadge(d.phase) },
    { title: "Reason", get: (d) => cell(d.reason), cls: "wrap" },
    { title: "Rollback of", get: (d) => h("span.mono", {}, cell(d.rollback_of)) },
    { title: "Commit", get: (d) => h("span.mono", {}, cell(((d.spec || {}).workspace || {}).commit)) },
    { title: "Runtime image", get: (d) => h("span.mono", {}, cell((d.images || {}).runtime || (d.spec || {}).runtime_image)), cls: "wrap" },
    { title: "Created", get: (d) => fmtTime(d.created_at), cls: "nowrap" },
  ];
  function loadHistory() {
    return pagedList(history, base + "/deployments", { limit: "10" },
      (items) => table(cols, items, "no deployments yet"));
  }
  loadPlacement();
  loadHistory();
  const el = h("div", {}, h("div.card", {}, where), progress, history);
  /* for the setup's "Redeploy now"; onSettled is called when a followed
   * deployment settles */
  el.deploy = () => start("/deploy");
  el.onSettled = null;
  return el;
}

/* ---------------------------------------------------------------- plans */

/* A quota of a plan: absent or null is no limit. */
function quota(v) {
  return v === null || v === undefined ? h("span.muted", {}, "no limit") : fmtNum(v);
}

async function renderPlans() {
  const holder = h("div", {}, h("p.muted", {}, "Loading…"));
  const f = {};
  const optional = { disk_mb: true, turns_per_day: true, tokens_per_month: true };
  for (const [k, ph] of [["name", "small"], ["cpus_milli", "500"], ["memory_mb", "256"],
    ["pids", "256"], ["disk_mb", "0"], ["turns_per_day", "no limit"], ["tokens_per_month", "no limit"]]) {
    f[k] = h("input", { id: "plan-" + k, placeholder: ph, "aria-label": k,
      required: !optional[k] });
  }
  const form = h("form.card", {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const body = { name: f.name.value.trim() };
      for (const k of ["cpus_milli", "memory_mb", "pids", "disk_mb", "turns_per_day", "tokens_per_month"]) {
        const v = f[k].value.trim();
        if (!v) continue;
        if (!/^[0-9]+$/.test(v)) {
          flash("error", k + " must be a whole number (0 or more): '" + v + "' is not; correct it and create again");
          return;
        }
        /* the quotas are one object: {"quota": {"turns_per_day": N, ...}} */
        if (k in optional && k !== "disk_mb") body.quota = Object.assign(body.quota || {}, { [k]: Number(v) });
        else body[k] = Number(v);
      }
      try {
        const p = await api("POST", "/v1/plans", body);
        flash("info", "plan " + p.name + " created");
        for (const el of Object.values(f)) el.value = "";
        load();
      } catch (e) { fail(e); }
    },
  }, h("h2", {}, "Create a plan"),
  h("div.row", {}, Object.entries(f).map(([k, el]) => h("label", {}, k, el)),
    h("button.btn", { type: "submit", id: "create-plan" }, "Create")));
  const cols = [
    { title: "Name", get: (p) => h("strong", {}, p.name) },
    { title: "CPU (m)", get: (p) => cell(p.cpus_milli) },
    { title: "Memory (MB)", get: (p) => cell(p.memory_mb) },
    { title: "Pids", get: (p) => cell(p.pids) },
    { title: "Disk (MB)", get: (p) => p.disk_mb ? cell(p.disk_mb) : "no limit" },
    { title: "Turns / day", get: (p) => quota((p.quota || {}).turns_per_day) },
    { title: "Tokens / month", get: (p) => quota((p.quota || {}).tokens_per_month) },
    { title: "Tenants", get: (p) => cell(p.tenants) },
    { title: "", get: (p) => p.builtin ? h("span.muted", {}, "built in (control plane options)")
      : h("button.btn.danger", { type: "button", onclick: async () => {
        if (!confirm("Delete plan " + p.name + "?")) return;
        try {
          await api("DELETE", "/v1/plans/" + encodeURIComponent(p.name));
          flash("info", "plan " + p.name + " deleted");
          load();
        } catch (e) { fail(e); }
      } }, "Delete") },
  ];
  function load() {
    return pagedList(holder, "/v1/plans", {},
      (items) => h("div", { id: "plans-table" }, table(cols, items, "no plans")));
  }
  show(h("h1", {}, "Plans"),
    h("p.muted", {}, "A tenant's own token deploys within its plan; put a tenant on a plan on its page. " +
      "Quotas (turns per day, tokens per month) apply at once, without a redeploy; empty is no limit."),
    form, holder);
  await load();
}

/* ---------------------------------------------------------------- nodes */

async function renderNodes() {
  const holder = h("div", {}, h("p.muted", {}, "Loading…"));
  const change = (n, op) => h("button.btn.secondary", { type: "button", onclick: async () => {
    try {
      await api("POST", "/v1/nodes/" + encodeURIComponent(n.id) + "/" + op);
      flash("info", "node " + n.name + ": " + op + " done");
      load();
    } catch (e) { fail(e); }
  } }, op);
  const cols = [
    { title: "Name", get: (n) => n.name },
    { title: "Status", get: (n) => h("span.badge." + (n.status === "ready" ? "ok" : "bad"), {}, cell(n.status)) },
    { title: "Tenants", get: (n) => cell((n.allocated || {}).tenants) },
    { title: "CPU (m)", get: (n) => cell((n.allocated || {}).cpus_milli) + " / " + cell((n.capacity || {}).cpus_milli) },
    { title: "Memory (MB)", get: (n) => cell((n.allocated || {}).memory_mb) + " / " + cell((n.capacity || {}).memory_mb) },
    { title: "Flags", get: (n) => [n.cordoned ? "cordoned" : "", n.draining ? "draining" : ""].filter(Boolean).join(", ") || "-" },
    { title: "Heartbeat", get: (n) => fmtTime(n.last_heartbeat), cls: "nowrap" },
    { title: "", get: (n) => h("div.row", {}, n.cordoned ? change(n, "uncordon") : change(n, "cordon"),
      n.draining ? "" : change(n, "drain")) },
  ];
  function load() {
    return pagedList(holder, "/v1/nodes", {},
      (items) => h("div", { id: "nodes-table" }, table(cols, items,
        "no nodes have joined; start a node agent with a join token ('clawctl nodes join-token')")));
  }
  show(h("h1", {}, "Nodes"), holder);
  await load();
}

async function renderTokens() {
  const role = h("select", { id: "token-role", "aria-label": "role" },
    ["tenant", "operator", "auditor", "admin", "node"].map((r) => h("option", { value: r }, r)));
  const tenant = h("input", { id: "token-tenant", placeholder: "tenant slug (role tenant)",
    "aria-label": "tenant" });
  const name = h("input", { id: "token-name", placeholder: "label", "aria-label": "token name" });
  const once = h("div");
  const holder = h("div");
  const form = h("form.card", {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const body = { role: role.value };
      if (tenant.value.trim()) body.tenant = tenant.value.trim();
      if (name.value.trim()) body.name = name.value.trim();
      try {
        const t = await api("POST", "/v1/tokens", body);
        once.replaceChildren(h("div.once", {},
          h("strong", {}, "New " + t.role + " token (shown only this once): "),
          h("code", { id: "new-token" }, t.token)));
        tenant.value = "";
        name.value = "";
        load();
      } catch (e) { fail(e); }
    },
  }, h("h2", {}, "Issue a token"),
  h("div.row", {}, h("label", {}, "Role", role), h("label", {}, "Tenant", tenant),
    h("label", {}, "Name", name), h("button.btn", { type: "submit", id: "issue-token" }, "Issue")), once);
  const cols = [
    { title: "Id", get: (t) => h("span.mono", {}, t.id) },
    { title: "Role", get: (t) => t.role },
    { title: "Tenant", get: (t) => h("span.mono", {}, cell(t.tenant_id)) },
    { title: "Name", get: (t) => cell(t.name) },
    { title: "Created", get: (t) => fmtTime(t.created_at), cls: "nowrap" },
    { title: "Expires", get: (t) => fmtTime(t.expires_at), cls: "nowrap" },
    { title: "Revoked", get: (t) => fmtTime(t.revoked_at), cls: "nowrap" },
    { title: "", get: (t) => t.revoked_at ? "" : h("button.btn.danger", { type: "button", onclick: async () => {
      if (!confirm("Revoke token " + t.id + "? Calls made with it fail at once.")) return;
      try {
        await api("DELETE", "/v1/tokens/" + encodeURIComponent(t.id));
        flash("info", "token " + t.id + " revoked");
        load();
      } catch (e) { fail(e); }
    } }, "Revoke") },
  ];
  function load() {
    return pagedList(holder, "/v1/tokens", { limit: "100" },
      (items) => h("div", { id: "tokens-table" }, table(cols, items, "no tokens")));
  }
  show(h("h1", {}, "API tokens"), form, holder);
  await load();
}

/* The verdict of GET /v1/audit/verify: the hash chain (broken at a row),
 * and the signed checkpoints outside the database (a deleted tail, a
 * rewound or rewritten head, a forged or foreign checkpoint: the chain
 * itself may still be intact, then there is no broken row to name). */
function verifyView(v) {
  const ck = v.checkpoints || {};
  const latest = ck.latest;
  const ckText = ck.checked
    ? "; " + ck.checked + " checkpoint" + (ck.checked === 1 ? "" : "s") + " checked" +
      (latest ? " (latest: row " + latest.last_id + ", " + latest.rows + " rows, " + fmtTime(latest.time) + ")" : "")
    : "";
  if (v.ok) {
    return h("span.verify-ok", {}, "chain intact: " + v.rows_checked + " rows checked" + ckText);
  }
  if (v.first_broken_id !== null && v.first_broken_id !== undefined) {
    return h("span.verify-bad", {}, "chain BROKEN at row " + v.first_broken_id + ": " +
      cell(v.reason) + " (" + v.rows_checked + " rows checked)");
  }
  const f = ck.failed;
  return h("div.verify-bad", { id: "verify-checkpoints" },
    h("div", {}, "the audit log does NOT extend its checkpoints: " + cell(v.reason) +
      " (" + v.rows_checked + " rows checked)"),
    f ? table([
      { title: "Line", get: (c) => cell(c.line) },
      { title: "Verdict", get: (c) => h("strong", {}, cell(c.problem)) },
      { title: "Time", get: (c) => fmtTime(c.time), cls: "nowrap" },
      { title: "Event", get: (c) => cell(c.event) },
      { title: "Row", get: (c) => cell(c.last_id) },
      { title: "Rows", get: (c) => cell(c.rows) },
      { title: "Key", get: (c) => h("span.mono", {}, cell(c.key_id)) },
      { title: "Why", get: (c) => cell(c.reason), cls: "wrap" },
    ], [f], "") : null);
}

async function renderAudit(params) {
  const f = {};
  for (const k of ["tenant", "actor", "action", "since", "until"]) {
    f[k] = h("input", { id: "audit-" + k, value: params.get(k) || "", "aria-label": k,
      placeholder: { tenant: "slug or id", actor: "tok_…", action: "tenant.create",
        since: "2026-01-31T00:00:00Z", until: "2026-02-01T00:00:00Z" }[k] });
  }
  const result = h("div", { id: "verify-result" });
  const verify = h("button.btn.secondary", { type: "button", id: "verify", onclick: async () => {
    result.replaceChildren("checking…");
    try {
      const v = await api("GET", "/v1/audit/verify");
      result.replaceChildren(verifyView(v));
    } catch (e) { result.replaceChildren(); fail(e); }
  } }, "Verify chain");
  const holder = h("div");
  const form = h("form.card", {
    onsubmit: (ev) => {
      ev.preventDefault();
      const p = {};
      for (const [k, el] of Object.entries(f)) p[k] = el.value.trim();
      location.hash = "#/audit" + q(p);
    },
  }, h("div.row", {}, Object.entries(f).map(([k, el]) => h("label", {}, k, el)),
    h("button.btn", { type: "submit", id: "audit-filter" }, "Filter")),
  h("div.row", {}, verify, result));
  const cols = [
    { title: "#", get: (r) => cell(r.id) },
    { title: "Time", get: (r) => fmtTime(r.time), cls: "nowrap" },
    { title: "Actor", get: (r) => h("span.mono", {}, cell(r.actor_id)), cls: "wrap" },
    { title: "Role", get: (r) => cell(r.actor_role) },
    { title: "Action", get: (r) => h("strong", {}, r.action), cls: "nowrap" },
    { title: "Target", get: (r) => h("span.mono", {}, cell(r.target)), cls: "wrap" },
    { title: "Details", get: (r) => h("span.mono", {}, cell(r.details)), cls: "wrap" },
    { title: "Source", get: (r) => cell(r.source_addr) },
  ];
  show(h("h1", {}, "Audit log"), form, holder);
  const p = { limit: "100" };
  for (const k of Object.keys(f)) p[k] = params.get(k);
  await pagedList(holder, "/v1/audit", p,
    (items) => h("div", { id: "audit-table" }, table(cols, items, "no audit rows match")));
}

/* ------------------------------------------------------------- streams */

/* Every stream and timer of a view stops when the view is left: route()
 * aborts the previous view's signal. */
let viewCtl = new AbortController();

function viewSignal() {
  return viewCtl.signal;
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

/* Read the server-sent events of path with fetch(): EventSource cannot
 * send the Authorization header the API needs. Calls onEvent({event, id,
 * data}) for each event; resolves when the stream ends or signal aborts;
 * rejects with an ApiError when the API refuses the request or the
 * connection breaks. */
async function sseRead(path, signal, onEvent) {
  const hdrs = { Accept: "text/event-stream" };
  const t = token();
  if (t) hdrs.Authorization = "Bearer " + t;
  let resp;
  try {
    resp = await fetch(path, { headers: hdrs, cache: "no-store", signal });
  } catch (e) {
    if (signal.aborted) return;
    throw unreachable();
  }
  if (!resp.ok) throw apiError(resp, parseJson(await resp.text()));
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = "";
  let ev = { event: "message", id: null, data: [] };
  function line(l) {
    if (l === "") {
      if (ev.data.length) onEvent({ event: ev.event, id: ev.id, data: ev.data.join("\n") });
      ev = { event: "message", id: ev.id, data: [] };
      return;
    }
    if (l[0] === ":") return; /* a comment: keep-alive */
    const c = l.indexOf(":");
    const field = c < 0 ? l : l.slice(0, c);
    let val = c < 0 ? "" : l.slice(c + 1);
    if (val[0] === " ") val = val.slice(1);
    if (field === "event") ev.event = val;
    else if (field === "data") ev.data.push(val);
    else if (field === "id") ev.id = val;
  }
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        line(buf.slice(0, nl).replace(/\r$/, ""));
        buf = buf.slice(nl + 1);
      }
    }
  } catch (e) {
    if (signal.aborted) return;
    throw new ApiError(0, "stream_broken",
      "the connection to the control plane broke off; check that it is running", null);
  }
}

/* Follow the fleet's events (GET /v1/events) until signal aborts:
 * onEvent(parsed event JSON); onStatus(text, bad) tells how the stream is.
 * A stream that ends or breaks is resumed after the last event seen
 * (?since=ID), so nothing is missed; a refusal by the API (a 4xx) stops
 * it and is shown. */
async function followEvents(params, signal, onEvent, onStatus) {
  let last = params.since || null;
  while (!signal.aborted) {
    onStatus("live", false);
    try {
      await sseRead("/v1/events" + q(Object.assign({}, params, { since: last })), signal, (m) => {
        if (m.id) last = m.id;
        const ev = parseJson(m.data);
        if (ev) onEvent(ev);
      });
      if (signal.aborted) return;
      onStatus("the stream ended; reconnecting in 3 s", true);
    } catch (e) {
      if (e.status >= 400) {
        onStatus("stopped: " + e.message, true);
        fail(e);
        return;
      }
      onStatus(e.message + "; reconnecting in 3 s", true);
    }
    await sleep(3000, signal);
  }
}

/* A status line for a stream ("live", "reconnecting..."). */
function streamStatus(id) {
  const el = h("span.stream", { id });
  return {
    el,
    set(text, bad) {
      el.className = "stream " + (bad ? "bad" : "ok");
      el.textContent = text;
    },
  };
}

/* ------------------------------------------------------------- charts */

const SVG_NS = "http://www.w3.org/2000/svg";

/* sv("tag", {attr: value}, child...): an SVG element (attributes, not
 * style: the CSP allows no inline style). */
function sv(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/* A horizontal bar of segments [{value, cls, label}] out of total: the
 * rollout progress bar, node capacity. */
function segBar(segments, total, id) {
  const sum = total > 0 ? total : 1;
  let x = 0;
  const rects = [];
  for (const sg of segments) {
    const w = Math.max(0, Math.min(100 - x, (100 * (sg.value || 0)) / sum));
    if (w > 0) {
      rects.push(sv("rect", { x, y: 0, width: w, height: 10, class: sg.cls },
        sv("title", {}, sg.label + ": " + sg.value)));
    }
    x += w;
  }
  return sv("svg", Object.assign({ class: "bar", viewBox: "0 0 100 10", preserveAspectRatio: "none",
    role: "img", "aria-label": segments.map((g) => g.label + " " + (g.value || 0)).join(", ") +
      " of " + total }, id ? { id } : {}),
  sv("rect", { x: 0, y: 0, width: 100, height: 10, class: "bar-bg" }), rects);
}

function fmtNum(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(1).replace(/\.0$/, "") + "G";
  if (n >= 1e6) return (n / 1e6).toFixed(1).replace(/\.0$/, "") + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(1).replace(/\.0$/, "") + "k";
  return String(n);
}

/* The top of a chart's y axis: 1, 2 or 5 times a power of ten, at least
 * max (so the middle line is a round number too). */
function niceMax(max) {
  if (max <= 1) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(max)));
  for (const f of [1, 2, 5, 10]) if (f * p >= max) return f * p;
  return 10 * p;
}

/* A stacked bar chart: points [{t (ms), values: [n, ...]}], series
 * [{name, cls}] in the order of values. Drawn as inline SVG: y axis from
 * 0 to the largest stack, the first, middle and last bucket's time on the
 * x axis, each bar's numbers in its tooltip. */
function barChart(id, points, series, fmtT) {
  const W = 720, H = 190, L = 48, B = 22, T = 8;
  const max = niceMax(Math.max(0, ...points.map((p) => p.values.reduce((a, b) => a + b, 0))));
  const bw = (W - L) / Math.max(1, points.length);
  const y = (v) => T + (H - B - T) * (1 - v / max);
  const kids = [];
  for (const v of [0, max / 2, max]) {
    kids.push(sv("line", { x1: L, x2: W, y1: y(v), y2: y(v), class: "grid" }));
    kids.push(sv("text", { x: L - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" },
      Number.isInteger(v) ? fmtNum(v) : v.toFixed(1)));
  }
  points.forEach((p, i) => {
    let base = 0;
    const tip = fmtT(p.t) + ": " + series.map((sr, j) => sr.name + " " + p.values[j]).join(", ");
    p.values.forEach((v, j) => {
      if (v > 0) {
        kids.push(sv("rect", { x: L + i * bw + bw * 0.1, width: Math.max(0.5, bw * 0.8),
          y: y(base + v), height: y(base) - y(base + v), class: series[j].cls },
        sv("title", {}, tip)));
      }
      base += v;
    });
  });
  const ticks = points.length ? [0, Math.floor((points.length - 1) / 2), points.length - 1] : [];
  for (const i of [...new Set(ticks)]) {
    const anchor = i === 0 ? "start" : i === points.length - 1 ? "end" : "middle";
    const x = anchor === "start" ? L + i * bw : anchor === "end" ? L + (i + 1) * bw : L + i * bw + bw / 2;
    kids.push(sv("text", { x, y: H - 6, class: "axis", "text-anchor": anchor }, fmtT(points[i].t)));
  }
  return h("figure.chart", { id },
    sv("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": series.map((sr) => sr.name).join(", ") }, kids),
    h("figcaption", {}, series.map((sr) => h("span.legend", {}, h("i." + sr.cls), sr.name))));
}

/* ------------------------------------------------------------- overview */

/* Tenant groups of the overview, failing first: a tenant's group is its
 * placement's phase while it runs, else its state; unknown phases sort
 * with the failing ones (they need a look). */
const GROUPS = ["failed", "pending", "resolving", "pulling", "starting", "suspended", "stopped",
  "healthy", "not deployed"];
const OVERVIEW_TENANTS_MAX = 500;

function groupOf(p) {
  if (!p) return "not deployed";
  if (p.state === "suspended" || p.state === "stopped") return p.state;
  return p.phase || "pending";
}

function groupBadge(g) {
  const cls = { failed: "bad", healthy: "ok", suspended: "none", stopped: "none", "not deployed": "none" }[g];
  return h("span.badge." + (cls || (GROUPS.includes(g) ? "busy" : "bad")), { "data-phase": g }, g);
}

function groupRank(g) {
  const i = GROUPS.indexOf(g);
  return i < 0 ? 0.5 : i;
}

/* Run fn(item) for every item, at most n at once. */
async function eachLimit(items, n, fn) {
  let next = 0;
  async function worker() {
    while (next < items.length) await fn(items[next++]);
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

/* The tenants (up to max), following next_cursor. */
async function listAll(path, params, max) {
  let items = [];
  let cursor = null;
  do {
    const page = await api("GET", path + q(Object.assign({}, params, { cursor })));
    items = items.concat(page.items || []);
    cursor = page.next_cursor || null;
  } while (cursor && items.length < max);
  return { items: items.slice(0, max), more: !!cursor || items.length > max };
}

async function overviewTenants(holder) {
  const { items, more } = await listAll("/v1/tenants", { limit: "100" }, OVERVIEW_TENANTS_MAX);
  const rows = items.map((t) => ({ t, p: null }));
  await eachLimit(rows, 6, async (r) => {
    try {
      r.p = await api("GET", "/v1/tenants/" + encodeURIComponent(r.t.id) + "/placement");
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    }
    r.g = groupOf(r.p);
  });
  rows.sort((a, b) => groupRank(a.g) - groupRank(b.g) || a.t.slug.localeCompare(b.t.slug));
  const counts = {};
  for (const r of rows) counts[r.g] = (counts[r.g] || 0) + 1;
  const summary = h("div.row", { id: "overview-phases" }, Object.keys(counts)
    .sort((a, b) => groupRank(a) - groupRank(b))
    .map((g) => h("span.count", { "data-group": g }, groupBadge(g), " " + counts[g])));
  holder.replaceChildren(summary,
    more ? h("p.muted", {}, "showing the first " + OVERVIEW_TENANTS_MAX +
      " tenants; clawctl lists them all") : "",
    h("div", { id: "overview-tenants" }, table([
      { title: "Tenant", get: (r) => h("a", { href: "#/tenants/" + encodeURIComponent(r.t.slug) }, r.t.slug) },
      { title: "Phase", get: (r) => groupBadge(r.g) },
      { title: "Node", get: (r) => cell(r.p && r.p.node_name) },
      { title: "Reason", get: (r) => cell(r.p && r.p.reason), cls: "wrap" },
      { title: "Updated", get: (r) => fmtTime(r.p && r.p.updated_at), cls: "nowrap" },
    ], rows, "no tenants yet: create one on the Tenants page")));
}

function capacityBar(n, key, unit) {
  const used = (n.allocated || {})[key] || 0;
  const cap = (n.capacity || {})[key] || 0;
  return h("div.cap", {}, segBar([{ value: used, cls: used > cap ? "seg-bad" : "seg-ok", label: "allocated" }], cap),
    h("span.muted", {}, used + " / " + cap + " " + unit));
}

async function overviewNodes(holder) {
  const { items } = await listAll("/v1/nodes", {}, 1000);
  holder.replaceChildren(h("div", { id: "overview-nodes" }, table([
    { title: "Node", get: (n) => n.name },
    { title: "Status", get: (n) => h("span.badge." + (n.status === "ready" ? "ok" : "bad"), {}, cell(n.status)) },
    { title: "Tenants", get: (n) => cell((n.allocated || {}).tenants) },
    { title: "CPU", get: (n) => capacityBar(n, "cpus_milli", "m") },
    { title: "Memory", get: (n) => capacityBar(n, "memory_mb", "MB") },
    { title: "Flags", get: (n) => [n.cordoned ? "cordoned" : "", n.draining ? "draining" : ""].filter(Boolean).join(", ") || "-" },
  ], items, "no nodes have joined; start a node agent with a join token ('clawctl nodes join-token')")));
}

/* A rollout's progress: succeeded, failed, rolled back, in progress, of
 * its total. */
function rolloutBar(r, id) {
  return segBar([
    { value: r.succeeded, cls: "seg-ok", label: "succeeded" },
    { value: r.failed, cls: "seg-bad", label: "failed" },
    { value: r.rolled_back, cls: "seg-warn", label: "rolled back" },
    { value: r.in_progress, cls: "seg-busy", label: "in progress" },
  ], r.total, id);
}

function rolloutBadge(state) {
  const cls = { completed: "ok", running: "busy", paused: "busy", halted: "bad", aborted: "bad" }[state];
  return h("span.badge." + (cls || "none"), { "data-state": state || "" }, state || "-");
}

function imagesText(images) {
  return Object.entries(images || {}).map(([k, v]) => k + " " + v).join(", ") || "-";
}

const ROLLOUT_COLS = [
  { title: "Rollout", get: (r) => h("a.mono", { href: "#/rollouts/" + encodeURIComponent(r.id) }, r.id) },
  { title: "State", get: (r) => rolloutBadge(r.state) },
  { title: "Progress", get: (r) => h("div.cap", {}, rolloutBar(r),
    h("span.muted", {}, (r.succeeded || 0) + "/" + (r.total || 0) + " done, batch " + cell(r.batch))) },
  { title: "Failed", get: (r) => cell(r.failed) },
  { title: "Images", get: (r) => h("span.mono", {}, imagesText(r.images)), cls: "wrap" },
  { title: "By", get: (r) => h("span.mono", {}, cell(r.created_by)) },
  { title: "Created", get: (r) => fmtTime(r.created_at), cls: "nowrap" },
];

/* The running rollouts; nothing at all (no error) when this control plane
 * has no rollouts API. */
async function overviewRollouts(holder) {
  let r;
  try {
    r = await api("GET", "/v1/rollouts" + q({ state: "running" }));
  } catch (e) {
    if (noRoute(e)) { holder.replaceChildren(); return; }
    throw e;
  }
  holder.replaceChildren(h("h2", {}, "Rollouts in progress"),
    h("div", { id: "overview-rollouts" }, table(ROLLOUT_COLS, r.items || [], "no rollout is running")));
}

async function renderOverview() {
  const tenants = h("div", {}, h("p.muted", {}, "Loading…"));
  const nodes = h("div", {}, h("p.muted", {}, "Loading…"));
  const rollouts = h("div");
  const live = streamStatus("overview-live");
  show(h("h1", {}, "Fleet overview ", live.el), rollouts,
    h("h2", {}, "Tenants by phase"), tenants, h("h2", {}, "Node capacity"), nodes);
  const signal = viewSignal();
  async function load() {
    await Promise.all([overviewTenants(tenants), overviewNodes(nodes), overviewRollouts(rollouts)]
      .map((p) => p.catch(fail)));
  }
  await load();
  /* redrawn (at most every 5 s) when the fleet's events say it changed */
  let due = null;
  followEvents({}, signal, () => {
    if (due) return;
    due = setTimeout(async () => { due = null; if (!signal.aborted) await load(); }, 5000);
  }, live.set);
}

/* ------------------------------------------------------------- events */

const EVENTS_KEPT = 300;

function eventBadge(type) {
  const bad = /(failed|down|halted|aborted|revoked|restart)$/.test(type);
  return h("span.badge." + (bad ? "bad" : /healthy|ready|completed/.test(type) ? "ok" : "none"), {}, type);
}

/* What an event is about: its tenant, else its rollout, else its node. */
function eventSubject(ev) {
  const ro = (ev.data || {}).rollout;
  if (ev.tenant) return h("a", { href: "#/tenants/" + encodeURIComponent(ev.tenant) }, ev.tenant);
  if (ro) return h("a.mono", { href: "#/rollouts/" + encodeURIComponent(ro) }, ro);
  return cell(ev.node);
}

function renderEvents(params) {
  const tenant = h("input", { id: "events-tenant", value: params.get("tenant") || "",
    placeholder: "slug or id (all tenants when empty)", "aria-label": "tenant" });
  const live = streamStatus("events-live");
  const body = h("tbody");
  const empty = h("tr", {}, h("td.empty", { colspan: 5 }, "waiting for events… (the stream starts at the newest event)"));
  body.append(empty);
  const form = h("form.card", {
    onsubmit: (ev) => {
      ev.preventDefault();
      location.hash = "#/events" + q({ tenant: tenant.value.trim() });
    },
  }, h("div.row", {}, h("label", {}, "Tenant", tenant),
    h("button.btn", { type: "submit", id: "events-filter" }, "Filter")));
  show(h("h1", {}, "Events ", live.el), form,
    h("div.tablewrap", {}, h("table", { id: "events-table" },
      h("thead", {}, h("tr", {}, ["#", "Time", "Type", "About", "Data"].map((c) => h("th", {}, c)))),
      body)));
  followEvents({ tenant: params.get("tenant") }, viewSignal(), (ev) => {
    empty.remove();
    body.prepend(h("tr", { "data-type": ev.type },
      h("td", {}, cell(ev.id)), h("td.nowrap", {}, fmtTime(ev.time)), h("td.nowrap", {}, eventBadge(ev.type)),
      h("td", {}, eventSubject(ev)),
      h("td.wrap", {}, h("span.mono", {}, cell(ev.data)))));
    while (body.rows.length > EVENTS_KEPT) body.lastElementChild.remove();
  }, live.set);
}

/* ------------------------------------------------------------- logs */

const LOG_KEPT = 512 * 1024; /* characters kept in the viewer */

function renderLogs(params) {
  const tenant = h("input", { id: "logs-tenant", value: params.get("tenant") || "", required: true,
    placeholder: "slug", "aria-label": "tenant" });
  const role = h("select", { id: "logs-role", "aria-label": "role" },
    ["runtime", "gateway"].map((r) => h("option", { value: r, selected: params.get("role") === r }, r)));
  const tail = h("input", { id: "logs-tail", value: params.get("tail") || "200", "aria-label": "tail" });
  const follow = h("input", { id: "logs-follow", type: "checkbox",
    checked: params.get("follow") !== "0", "aria-label": "follow" });
  const status = streamStatus("logs-status");
  const out = h("pre.log", { id: "log-output" });
  const ctl = new AbortController();
  viewSignal().addEventListener("abort", () => ctl.abort(), { once: true });
  const stop = h("button.btn.secondary", { type: "button", id: "logs-stop", disabled: true,
    onclick: () => { ctl.abort(); status.set("stopped", false); stop.disabled = true; } }, "Stop");
  const form = h("form.card", {
    onsubmit: (ev) => {
      ev.preventDefault();
      location.hash = "#/logs" + q({ tenant: tenant.value.trim(), role: role.value,
        tail: tail.value.trim(), follow: follow.checked ? "1" : "0" });
    },
  }, h("div.row", {}, h("label", {}, "Tenant", tenant), h("label", {}, "Container", role),
    h("label", {}, "Last lines", tail), h("label", {}, "Follow", follow),
    h("button.btn", { type: "submit", id: "logs-show" }, "Show"), stop, status.el));
  show(h("h1", {}, "Logs"), form, out);
  const slug = params.get("tenant");
  if (!slug) {
    status.set("name a tenant to read its log", false);
    return;
  }
  function append(text) {
    const atEnd = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
    let all = out.textContent + text;
    if (all.length > LOG_KEPT) all = all.slice(all.length - LOG_KEPT);
    out.textContent = all;
    if (atEnd) out.scrollTop = out.scrollHeight;
  }
  stop.disabled = false;
  status.set(follow.checked ? "following…" : "reading…", false);
  sseRead("/v1/tenants/" + encodeURIComponent(slug) + "/logs" + q({ role: role.value,
    tail: tail.value.trim(), follow: follow.checked ? "1" : "0" }), ctl.signal, (m) => {
    if (m.event === "log") append(m.data);
    else if (m.event === "end") status.set("the log ended", false);
    else if (m.event === "error") {
      const e = parseJson(m.data) || {};
      status.set("stopped", true);
      flash("error", (e.message || "the node could not read the log") +
        "; check the node on the Nodes page, then try again", "(" + (e.code || "error") + ")");
    }
  }).then(() => {
    stop.disabled = true;
    if (!ctl.signal.aborted && status.el.textContent !== "stopped") status.set("the log ended", false);
  }, (e) => { stop.disabled = true; status.set("stopped", true); fail(e); });
}

/* ------------------------------------------------------------- usage */

const USAGE_RANGES = {
  "24h": { ms: 24 * 3600e3, granularity: "hour" },
  "7d": { ms: 7 * 24 * 3600e3, granularity: "hour" },
  "30d": { ms: 30 * 24 * 3600e3, granularity: "day" },
};

/* Every bucket of the range, the API's or zero (a bucket without usage
 * may be absent from the answer). */
function usagePoints(r, since, until, step) {
  const byStart = new Map((r.buckets || []).map((b) => [Date.parse(b.start), b]));
  const first = Math.floor(since / step) * step;
  const pts = [];
  for (let t = first; t < until; t += step) {
    const b = byStart.get(t) || {};
    pts.push({ t, b });
  }
  return pts;
}

function usageTotals(tot) {
  const keys = ["turns", "messages_in", "messages_out", "tool_calls", "tool_errors", "turn_ms",
    "input_tokens", "output_tokens"];
  return h("dl.kv", { id: "usage-totals" }, keys.flatMap((k) => [h("dt", {}, k.replace("_", " ")),
    h("dd", { "data-k": k }, cell((tot || {})[k] || 0))]));
}

/* The plan's quotas and what is used of them: {"turns_per_day": {limit,
 * used}, "tokens_per_month": {...}}; a null limit is no quota. */
function usageQuota(qo) {
  const rows = [["turns_per_day", "Turns today"], ["tokens_per_month", "Tokens this month"]].map(([k, title]) => {
    const v = (qo || {})[k] || {};
    const used = v.used || 0;
    const lim = v.limit;
    return h("tr", { "data-quota": k }, h("td", {}, title),
      h("td", {}, lim === null || lim === undefined
        ? [fmtNum(used) + " used, ", h("span.muted", {}, "no limit")]
        : h("div.cap", {}, segBar([{ value: used, cls: used >= lim ? "seg-bad" : "seg-ok", label: "used" }], lim),
          h("span", {}, fmtNum(used) + " / " + fmtNum(lim) + (used >= lim ? " (exhausted)" : "")))));
  });
  return h("div.tablewrap", { id: "usage-quota" }, h("table", {}, h("tbody", {}, rows)));
}

function usageMissing(holder) {
  holder.replaceChildren(h("p.notice", { id: "usage-missing" },
    "This control plane does not collect usage yet (GET /v1/…/usage answered 404). " +
    "Upgrade the control plane to a version with usage collection."));
}

async function renderUsage(params) {
  const slug = params.get("tenant") || "";
  const rangeKey = USAGE_RANGES[params.get("range")] ? params.get("range") : "24h";
  const range = USAGE_RANGES[rangeKey];
  const tenant = h("input", { id: "usage-tenant", value: slug, placeholder: "slug (fleet when empty)",
    "aria-label": "tenant" });
  const sel = h("select", { id: "usage-range", "aria-label": "range" },
    Object.keys(USAGE_RANGES).map((k) => h("option", { value: k, selected: k === rangeKey },
      "last " + k + " by " + USAGE_RANGES[k].granularity)));
  const form = h("form.card", {
    onsubmit: (ev) => {
      ev.preventDefault();
      location.hash = "#/usage" + q({ tenant: tenant.value.trim(), range: sel.value });
    },
  }, h("div.row", {}, h("label", {}, "Tenant", tenant), h("label", {}, "Range", sel),
    h("button.btn", { type: "submit", id: "usage-show" }, "Show")));
  const holder = h("div", {}, h("p.muted", {}, "Loading…"));
  show(h("h1", {}, slug ? "Usage of " + slug : "Usage of the fleet"), form, holder);
  const until = Date.now();
  const since = until - range.ms;
  const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");
  try {
    if (!slug) {
      const r = await api("GET", "/v1/usage" + q({ since: iso(since), until: iso(until) }));
      holder.replaceChildren(h("h2", {}, "Totals"), usageTotals(r.totals),
        h("div", { id: "usage-fleet" }, table([
          { title: "Tenant", get: (t) => h("a", { href: "#/usage" + q({ tenant: t.tenant, range: rangeKey }) }, t.tenant) },
          { title: "Turns", get: (t) => cell((t.totals || {}).turns || 0) },
          { title: "Input tokens", get: (t) => cell((t.totals || {}).input_tokens || 0) },
          { title: "Output tokens", get: (t) => cell((t.totals || {}).output_tokens || 0) },
          { title: "Tool calls", get: (t) => cell((t.totals || {}).tool_calls || 0) },
        ], r.tenants || [], "no usage reported in this range")));
      return;
    }
    const r = await api("GET", "/v1/tenants/" + encodeURIComponent(slug) + "/usage" +
      q({ since: iso(since), until: iso(until), granularity: range.granularity }));
    const step = range.granularity === "day" ? 24 * 3600e3 : 3600e3;
    const pts = usagePoints(r, since, until, step);
    const fmtT = range.granularity === "day"
      ? (t) => new Date(t).toISOString().slice(5, 10)
      : (t) => new Date(t).toISOString().slice(5, 16).replace("T", " ");
    holder.replaceChildren(
      h("h2", {}, "Turns per " + range.granularity + " (UTC)"),
      barChart("usage-turns", pts.map((p) => ({ t: p.t, values: [p.b.turns || 0] })),
        [{ name: "turns", cls: "s1" }], fmtT),
      h("h2", {}, "Tokens per " + range.granularity + " (UTC)"),
      barChart("usage-tokens", pts.map((p) => ({ t: p.t, values: [p.b.input_tokens || 0, p.b.output_tokens || 0] })),
        [{ name: "input tokens", cls: "s1" }, { name: "output tokens", cls: "s2" }], fmtT),
      // the mean turn of each bucket: its turns' milliseconds over its turns
      h("h2", {}, "Mean turn latency per " + range.granularity + " (ms)"),
      barChart("usage-latency", pts.map((p) => ({ t: p.t,
        values: [p.b.turns ? Math.round((p.b.turn_ms || 0) / p.b.turns) : 0] })),
      [{ name: "mean turn (ms)", cls: "s1" }], fmtT),
      h("h2", {}, "Quotas (the plan's)"), usageQuota(r.quota),
      h("h2", {}, "Totals"), usageTotals(r.totals));
  } catch (e) {
    if (noRoute(e)) usageMissing(holder);
    else { holder.replaceChildren(); fail(e); }
  }
}

/* ------------------------------------------------------------- rollouts */

function rolloutsMissing(holder) {
  holder.replaceChildren(h("p.notice", { id: "rollouts-missing" },
    "This control plane has no rollouts API yet (GET /v1/rollouts answered 404). " +
    "Upgrade the control plane to use rollouts."));
}

async function renderRollouts(params) {
  const state = h("select", { id: "rollouts-state", "aria-label": "state" },
    ["", "running", "paused", "halted", "aborted", "completed"].map((st) =>
      h("option", { value: st, selected: (params.get("state") || "") === st }, st || "all")));
  state.addEventListener("change", () => { location.hash = "#/rollouts" + q({ state: state.value }); });
  const holder = h("div", {}, h("p.muted", {}, "Loading…"));
  show(h("h1", {}, "Rollouts"),
    h("p.muted", {}, "Start a rollout with 'clawctl rollout'; follow and steer it here."),
    h("div.row.filters", {}, h("label", {}, "State", state)), holder);
  try {
    await pagedList(holder, "/v1/rollouts", { state: params.get("state") },
      (items) => h("div", { id: "rollouts-table" }, table(ROLLOUT_COLS, items, "no rollouts")), true);
  } catch (e) {
    if (noRoute(e)) rolloutsMissing(holder);
    else fail(e);
  }
}

const ROLLOUT_TENANT_STATES = { healthy: "ok", failed: "bad", rolled_back: "bad", deploying: "busy" };

async function renderRollout(id) {
  const path = "/v1/rollouts/" + encodeURIComponent(id);
  const live = streamStatus("rollout-live");
  const holder = h("div", { id: "rollout" }, h("p.muted", {}, "Loading…"));
  show(h("p", {}, h("a", { href: "#/rollouts" }, "← Rollouts")), h("h1", {}, "Rollout " + id + " ", live.el), holder);
  const signal = viewSignal();
  let r;
  async function act(op) {
    if (op === "abort" && !confirm("Abort rollout " + id + "? Tenants not moved yet stay as they are.")) return;
    try {
      r = await api("POST", path + "/" + op);
      flash("info", "rollout " + id + ": " + op + " done");
      draw();
    } catch (e) { fail(e); }
  }
  function draw() {
    const btn = (op, label, cls) => h("button.btn" + cls, { type: "button", id: "rollout-" + op,
      onclick: () => act(op) }, label);
    const buttons = [];
    if (r.state === "running") buttons.push(btn("pause", "Pause", ".secondary"));
    if (r.state === "paused") buttons.push(btn("resume", "Resume", ""));
    if (r.state === "running" || r.state === "paused" || r.state === "halted") buttons.push(btn("abort", "Abort", ".danger"));
    holder.replaceChildren(h("div.card", {},
      h("div.cap.wide", {}, rolloutBar(r, "rollout-bar"),
        h("span", { id: "rollout-progress" }, (r.succeeded || 0) + " succeeded, " + (r.failed || 0) + " failed, " +
          (r.rolled_back || 0) + " rolled back, " + (r.in_progress || 0) + " in progress, " +
          (r.pending || 0) + " pending of " + (r.total || 0))),
      h("dl.kv", {},
        h("dt", {}, "State"), h("dd", { id: "rollout-state" }, rolloutBadge(r.state)),
        h("dt", {}, "Reason"), h("dd", { id: "rollout-reason" }, cell(r.reason)),
        h("dt", {}, "Batch"), h("dd", {}, cell(r.batch) + " (" + cell(r.max_unavailable) + " at a time)"),
        h("dt", {}, "Halts after"), h("dd", {}, cell(r.failure_threshold) + " failed"),
        h("dt", {}, "Selector"), h("dd.mono", {}, cell(r.selector)),
        h("dt", {}, "Images"), h("dd.mono", {}, imagesText(r.images)),
        h("dt", {}, "Created"), h("dd", {}, fmtTime(r.created_at) + " by " + cell(r.created_by)),
        h("dt", {}, "Updated"), h("dd", {}, fmtTime(r.updated_at))),
      h("div.row", {}, buttons)),
    h("h2", {}, "Tenants"),
    h("div", { id: "rollout-tenants" }, table([
      { title: "Tenant", get: (t) => h("a", { href: "#/tenants/" + encodeURIComponent(t.tenant) }, t.tenant) },
      { title: "State", get: (t) => h("span.badge." + (ROLLOUT_TENANT_STATES[t.state] || "none"),
        { "data-state": t.state }, t.state) },
      { title: "Batch", get: (t) => cell(t.batch) },
      { title: "Deployment", get: (t) => h("span.mono", {}, cell(t.deployment)) },
      { title: "Previous", get: (t) => h("span.mono", {}, cell(t.previous_deployment)) },
      { title: "Error", get: (t) => cell(t.error), cls: "wrap" },
    ], r.tenants || [], "no tenants")));
  }
  async function load() {
    try {
      r = await api("GET", path);
      draw();
    } catch (e) {
      if (noRoute(e)) rolloutsMissing(holder);
      else { holder.replaceChildren(h("p.muted", {}, "the rollout could not be read")); fail(e); }
      return false;
    }
    return true;
  }
  if (!(await load())) return;
  /* live: redrawn on this rollout's events */
  followEvents({}, signal, (ev) => {
    if (/^rollout\./.test(ev.type) && (ev.data || {}).rollout === id) load();
  }, live.set);
}

/* ------------------------------------------------------- agent setup */

/* A tenant's agent set up as resources (docs/resources.md): channels,
 * persona, model and tools, each under the tenant. Each change answers
 * redeploy_required when a deployment is in place that the change reaches
 * only on the next deploy: the banner then offers "Redeploy now". */

/* The gateway's keys of each channel kind (controlplane/resources.c,
 * docs/gateway.md "Config"): [key, type, required]; type "str", "int",
 * "bool", "list" (comma separated) or a list of words. base: api_base
 * absent (""), optional ("opt") or required ("req"). creds: the kind's
 * credentials, stored as the tenant secrets KIND_NAME. */
const CHANNELS = {
  telegram: { base: "opt", keys: [["mode", ["webhook", "polling"]], ["bot_username", "str"], ["webhook_url", "str"]],
    creds: ["bot_token", "webhook_secret"] },
  slack: { base: "opt", keys: [["mode", ["events", "socket"]], ["bot_user_id", "str"]],
    creds: ["bot_token", "signing_secret", "app_token"] },
  discord: { base: "opt", keys: [["public_key", "str", true], ["application_id", "str", true], ["gateway", "bool"]],
    creds: ["bot_token"] },
  whatsapp: { base: "opt", keys: [["phone_number_id", "str", true], ["api_version", "str"]],
    creds: ["app_secret", "verify_token", "access_token"] },
  webchat: { base: "", keys: [], creds: [] },
  openai: { base: "", keys: [["models", "list"]], creds: ["api_token"] },
  line: { base: "opt", keys: [], creds: ["channel_secret", "channel_access_token"] },
  twilio: { base: "opt", keys: [["account_sid", "str", true], ["webhook_url", "str", true],
    ["messaging_service_sid", "str"], ["max_segments", "int"]], creds: ["auth_token"] },
  mattermost: { base: "req", keys: [["mode", ["webhook", "websocket"]], ["bot_username", "str"]],
    creds: ["webhook_token", "bot_token"] },
  teams: { base: "", keys: [["app_id", "str", true], ["openid_metadata_url", "str"], ["token_url", "str"],
    ["service_url_prefixes", "list"]], creds: ["app_password"] },
  googlechat: { base: "opt", keys: [["project_number", "str", true], ["token_url", "str"], ["certs_url", "str"]],
    creds: ["service_account"] },
  feishu: { base: "opt", keys: [["app_id", "str", true], ["bot_open_id", "str"]],
    creds: ["app_secret", "verification_token", "encrypt_key"] },
  matrix: { base: "req", keys: [["mode", ["sync", "appservice"]], ["user_id", "str", true]],
    creds: ["access_token", "as_token", "hs_token"] },
  signal: { base: "req", keys: [["account", "str", true]], creds: [] },
  irc: { base: "", keys: [["server", "str", true], ["nick", "str", true], ["sasl_username", "str"],
    ["channels", "list"], ["flood_burst", "int"], ["flood_interval_ms", "int"]], creds: ["sasl_password"] },
  email: { base: "", keys: [["imap_url", "str", true], ["smtp_url", "str", true], ["address", "str", true],
    ["authserv_id", "str", true], ["username", "str"], ["mailbox", "str"], ["poll_interval_ms", "int"]],
    creds: ["password"] },
};
const CHANNEL_COMMON = [["enabled", "bool"], ["dm_policy", ["open", "allowlist", "pairing"]],
  ["group_policy", ["mention", "all", "off"]], ["allow_from", "list"], ["rate_limit_per_minute", "int"],
  ["max_message_bytes", "int"]];
const CRED_HINTS = {
  "telegram.bot_token": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11 (from BotFather)",
  "telegram.webhook_secret": "A-Z a-z 0-9 _ -, 1..256",
  "slack.bot_token": "xoxb-…", "slack.app_token": "xapp-…", "slack.signing_secret": "32 hex digits",
  "twilio.auth_token": "32 hex digits", "googlechat.service_account": "the JSON key on one line",
};

/* One input for a key of a form: its name is the field's path in the
 * request, so a 422 naming the field marks it. */
function fieldInput(path, type, value) {
  const attrs = { name: path, "aria-label": path };
  if (Array.isArray(type) || type === "bool") {
    const words = type === "bool" ? ["true", "false"] : type;
    return h("select", attrs, h("option", { value: "" }, "(default)"),
      words.map((w) => h("option", { value: w, selected: value !== undefined && String(value) === w }, w)));
  }
  const v = value === undefined || value === null ? "" : Array.isArray(value) ? value.join(", ") : String(value);
  return h("input" + (type === "list" ? ".wide" : ""), Object.assign(attrs, { value: v,
    placeholder: type === "int" ? "a number" : type === "list" ? "a, b" : "" }));
}

/* An input's value as JSON: undefined when empty (the key is not sent).
 * A number that is not one is sent as text, for the API to refuse by
 * its field. */
function fieldValue(el, type) {
  const s = el.value.trim();
  if (!s) return undefined;
  if (type === "bool") return s === "true";
  if (type === "int") return /^-?[0-9]+$/.test(s) ? Number(s) : s;
  if (type === "list") return s.split(/\s*,\s*/).filter(Boolean);
  return s;
}

/* Mark the field a 422 names ("FIELD: why") in form; false when it names
 * none there. Marks of an earlier answer are cleared first. */
function markField(form, e) {
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  if (!(e instanceof ApiError) || e.status !== 422) return false;
  const m = /^([A-Za-z0-9_.#\[\]-]+): (.*)$/s.exec(e.message || "");
  if (!m) return false;
  const el = form.querySelector('[name="' + CSS.escape(m[1]) + '"]');
  if (!el) return false;
  el.setAttribute("aria-invalid", "true");
  el.after(h("span.field-error", { "data-field": m[1] }, m[1] + ": " + m[2]));
  el.focus();
  return true;
}

/* Fail, and mark the field a 422 names. */
function failIn(form, e) {
  markField(form, e);
  fail(e);
}

/* The banner after a change a running deployment reaches only on its
 * next deploy: "Redeploy now" deploys through the deployment section. */
function redeployBanner(deploy) {
  const el = h("div", { id: "redeploy-banner", hidden: true });
  el.changed = (r, what) => {
    if (!r || !r.redeploy_required) return;
    el.hidden = false;
    el.replaceChildren(h("p.notice", {}, what + " saved; the running deployment does not have it yet. ",
      h("button.btn", { type: "button", id: "redeploy-now", onclick: async () => {
        el.hidden = true;
        await deploy();
      } }, "Redeploy now")));
  };
  return el;
}

/* The Channels tab: the tenant's channels (webhook URL from the tenant's
 * deployed config, connection state) and a form per kind. */
function channelsTab(t, base, changed) {
  const list = h("div", { id: "channels-list" }, h("p.muted", {}, "Loading…"));
  const kind = h("select", { id: "channel-kind", "aria-label": "channel kind" },
    Object.keys(CHANNELS).map((k) => h("option", { value: k }, k)));
  const fields = h("div.row", { id: "channel-fields" });
  let inputs = [];
  function draw(current) {
    const spec = CHANNELS[kind.value];
    const s = (current && current.settings) || {};
    const keys = [].concat(spec.base ? [["api_base", "str", spec.base === "req"]] : [], spec.keys, CHANNEL_COMMON);
    inputs = keys.map(([k, type, req]) => ({ k, type, el: fieldInput("settings." + k, type, s[k]), req }));
    const creds = spec.creds.map((c) => ({ c, el: h("input.wide", { type: "password", name: "credentials." + c,
      autocomplete: "new-password", "aria-label": c,
      placeholder: (CRED_HINTS[kind.value + "." + c] || "value") + (current ? " (empty: keep)" : "") }) }));
    inputs.creds = creds;
    fields.replaceChildren(...inputs.map((i) => h("label", {}, i.k + (i.req ? " *" : ""), i.el)),
      ...creds.map((i) => h("label", {}, i.c + " (write-only)", i.el)));
  }
  kind.addEventListener("change", () => draw(null));
  const form = h("form.card", {
    id: "channel-form",
    onsubmit: async (ev) => {
      ev.preventDefault();
      const settings = {};
      for (const i of inputs) {
        const v = fieldValue(i.el, i.type);
        if (v !== undefined) settings[i.k] = v;
      }
      const credentials = {};
      for (const i of inputs.creds) {
        if (i.el.value) credentials[i.c] = i.el.value;
        i.el.value = ""; /* write-only: gone from the page at once */
      }
      const body = { settings };
      if (Object.keys(credentials).length) body.credentials = credentials;
      try {
        const r = await api("PUT", base + "/channels/" + encodeURIComponent(kind.value), body);
        markField(form, null);
        flash("info", "channel " + r.name + " saved (version " + r.version + ")" +
          (r.secrets.length ? "; credentials stored as secrets " + r.secrets.join(", ") : ""));
        changed(r, "channel " + r.name);
        load();
      } catch (e) { failIn(form, e); }
    },
  }, h("h3", {}, "Connect a channel"), h("div.row", {}, h("label", {}, "Kind", kind)), fields,
  h("p.muted", {}, "Credentials are stored as the tenant's secrets at once and never shown again; " +
    "* marks a required setting."),
  h("button.btn", { type: "submit", id: "channel-save" }, "Save channel"));
  draw(null);
  async function load() {
    let r, ten = t;
    try {
      [r, ten] = await Promise.all([api("GET", base + "/channels"), api("GET", base)]);
    } catch (e) { list.replaceChildren(); fail(e); return; }
    const hooks = ten.webhooks || {};
    const dd = document.getElementById("tenant-webhooks");
    if (dd) dd.replaceChildren(webhooksList(hooks));
    list.replaceChildren(table([
      { title: "Kind", get: (c) => h("strong", {}, c.kind) },
      { title: "Version", get: (c) => cell(c.version) },
      { title: "Enabled", get: (c) => (c.settings || {}).enabled === false ? "no" : "yes" },
      { title: "Webhook URL (paste into the platform's console)", cls: "wrap", get: (c) => hooks[c.kind]
        ? h("code.webhook", { "data-kind": c.kind }, hooks[c.kind])
        : h("span.muted", {}, ten.public_url ? "none deployed (deploy to get one; polling and socket modes have none)"
          : "- (the fleet has no base-domain)") },
      { title: "Connection", get: (c) => connBadge(c) },
      { title: "", get: (c) => h("span.row", {},
        h("button.btn.secondary", { type: "button", onclick: () => {
          kind.value = c.kind;
          draw(c);
          form.scrollIntoView();
        } }, "Edit"),
        h("button.btn.danger", { type: "button", "data-remove": c.kind, onclick: async () => {
          if (!confirm("Remove channel " + c.kind + "? Its secrets stay.")) return;
          try {
            const d = await api("DELETE", base + "/channels/" + encodeURIComponent(c.kind));
            flash("info", "channel " + c.kind + " removed");
            changed(d, "removal of channel " + c.kind);
            load();
          } catch (e) { fail(e); }
        } }, "Remove")) },
    ], r.items || [], "no channels yet"));
  }
  load();
  return h("div", { id: "tab-channels" }, list,
    h("p.muted", {}, "Connection: what the tenant's gateway last reported of the channel through its node " +
      "(connected, connecting, retrying; webhook channels: when the platform last reached it)."), form);
}

/* A channel's connection state (GET .../channels: connection) as a
 * badge; its error and times in the tooltip. */
function connBadge(c) {
  const k = c.connection || { state: "unknown" };
  const cls = { connected: "ok", webhook: "ok", connecting: "warn", retrying: "bad", failed: "bad" }[k.state] || "none";
  const tip = [k.error, k.since && "since " + k.since, k.last_event && "last event " + k.last_event]
    .filter(Boolean).join("; ");
  return h("span.badge." + cls, { "data-conn": c.kind, title: tip || k.state }, k.state);
}

/* ---- persona */

const DIFF_MAX_CELLS = 4e6; /* lines × lines of the part that differs */

/* A line diff of a and b (arrays of lines) by longest common subsequence:
 * [{op: " " | "-" | "+", line}]. The common head and tail are cut first;
 * when what is left is over DIFF_MAX_CELLS the middle is shown as removed
 * then added (coarse: true). */
function lineDiff(a, b) {
  let s = 0;
  while (s < a.length && s < b.length && a[s] === b[s]) s++;
  let ea = a.length, eb = b.length;
  while (ea > s && eb > s && a[ea - 1] === b[eb - 1]) { ea--; eb--; }
  const out = a.slice(0, s).map((line) => ({ op: " ", line }));
  const A = a.slice(s, ea), B = b.slice(s, eb);
  const n = A.length, m = B.length;
  let coarse = false;
  if ((n + 1) * (m + 1) > DIFF_MAX_CELLS) {
    coarse = true;
    for (const line of A) out.push({ op: "-", line });
    for (const line of B) out.push({ op: "+", line });
  } else {
    /* L[i][j]: LCS of A[i..] and B[j..]; min(n, m) <= 2000 here, so
     * 16 bits hold it */
    const w = m + 1;
    const L = new Uint16Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--)
      for (let j = m - 1; j >= 0; j--)
        L[i * w + j] = A[i] === B[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
    let i = 0, j = 0;
    while (i < n && j < m) {
      if (A[i] === B[j]) { out.push({ op: " ", line: A[i] }); i++; j++; }
      else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) out.push({ op: "-", line: A[i++] });
      else out.push({ op: "+", line: B[j++] });
    }
    while (i < n) out.push({ op: "-", line: A[i++] });
    while (j < m) out.push({ op: "+", line: B[j++] });
  }
  for (const line of a.slice(ea)) out.push({ op: " ", line });
  out.coarse = coarse;
  return out;
}

/* A persona as one text of lines, file by file, for the diff. */
function personaLines(p) {
  const out = [];
  const add = (name, text) => {
    if (text === undefined || text === null) return;
    out.push("=== " + name);
    out.push(...String(text).split("\n"));
  };
  add("SOUL.md", (p || {}).soul);
  add("AGENTS.md", (p || {}).agents);
  for (const k of Object.keys((p || {}).skills || {}).sort()) add("skills/" + k + "/SKILL.md", p.skills[k]);
  return out;
}

function diffView(d) {
  const added = d.filter((x) => x.op === "+").length, removed = d.filter((x) => x.op === "-").length;
  return h("div", { id: "persona-diff" },
    h("p.muted", { id: "persona-diff-sum" }, "+" + added + " −" + removed + " lines" +
      (d.coarse ? " (too large for a line-by-line diff: the differing part is shown removed, then added)" : "")),
    h("pre.diff", {}, d.map((x) => h("span.dl" + (x.op === "+" ? ".add" : x.op === "-" ? ".del" : ""),
      {}, x.op + " " + x.line))));
}

function personaTab(base, changed) {
  const soul = h("textarea", { id: "persona-soul", name: "soul", rows: 8, "aria-label": "SOUL.md" });
  const agents = h("textarea", { id: "persona-agents", name: "agents", rows: 5, "aria-label": "AGENTS.md" });
  const skills = h("div", { id: "persona-skills" });
  const addSkill = (name, text) => {
    const n = h("input", { value: name || "", placeholder: "name (A-Z a-z 0-9 _ -)", "aria-label": "skill name",
      "data-skill": "name" });
    const tx = h("textarea", { rows: 4, "aria-label": "skill text", "data-skill": "text" });
    tx.value = text || "";
    const row = h("div.card.skill", {}, h("div.row", {}, h("label", {}, "Skill", n),
      h("button.btn.secondary", { type: "button", onclick: () => row.remove() }, "Remove")), tx);
    /* a 422 names a skill as skills.NAME */
    n.addEventListener("input", () => tx.setAttribute("name", "skills." + n.value.trim()));
    tx.setAttribute("name", "skills." + (name || ""));
    skills.append(row);
  };
  const edit = () => {
    const p = { soul: soul.value };
    if (agents.value) p.agents = agents.value;
    const sk = {};
    for (const row of skills.children) {
      const name = row.querySelector('[data-skill="name"]').value.trim();
      if (name) sk[name] = row.querySelector('[data-skill="text"]').value;
    }
    if (Object.keys(sk).length) p.skills = sk;
    return p;
  };
  const diffHolder = h("div");
  const versions = h("div", { id: "persona-versions" });
  const form = h("form.card", {
    id: "persona-form",
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const r = await api("PUT", base + "/persona", edit());
        markField(form, null);
        flash("info", "persona saved as version " + r.version);
        changed(r, "persona version " + r.version);
        loadVersions();
      } catch (e) { failIn(form, e); }
    },
  }, h("label.grow", {}, "SOUL.md", soul), h("label.grow", {}, "AGENTS.md (optional)", agents),
  h("h3", {}, "Skills"), skills,
  h("div.row", {}, h("button.btn.secondary", { type: "button", onclick: () => addSkill() }, "Add a skill"),
    h("button.btn", { type: "submit", id: "persona-save" }, "Save persona")));
  const vcols = [
    { title: "Version", get: (v) => h("strong", { "data-version": v.version }, cell(v.version)) },
    { title: "Saved", get: (v) => fmtTime(v.created_at), cls: "nowrap" },
    { title: "By", get: (v) => h("span.mono", {}, cell(v.created_by)) },
    { title: "Bytes", get: (v) => v.deleted ? "deleted" : cell(v.bytes) },
    { title: "", get: (v) => v.deleted ? "" : h("button.btn.secondary", { type: "button", "data-diff": v.version,
      onclick: async () => {
        try {
          const r = await api("GET", base + "/persona/versions/" + v.version);
          diffHolder.replaceChildren(h("h3", {}, "Version " + v.version + " → the edit"),
            diffView(lineDiff(personaLines(r.body), personaLines(edit()))));
        } catch (e) { fail(e); }
      } }, "Diff with the edit") },
  ];
  function loadVersions() {
    return pagedList(versions, base + "/persona/versions", { limit: "20" },
      (items) => table(vcols, items, "no versions yet"));
  }
  (async () => {
    try {
      const r = await api("GET", base + "/persona");
      soul.value = r.body.soul || "";
      agents.value = r.body.agents || "";
      for (const [k, v] of Object.entries(r.body.skills || {})) addSkill(k, v);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) fail(e);
    }
    loadVersions();
  })();
  return h("div", { id: "tab-persona" }, form, h("h3", {}, "Versions"), versions, diffHolder);
}

/* ---- model */

const PROVIDER_KEYS = [["kind", ["openai", "anthropic"], true], ["base_url", "str", true], ["model", "str", true],
  ["api_key_secret", "str"], ["max_tokens", "int"], ["timeout_ms", "int"], ["max_retries", "int"]];
const LIMIT_KEYS = [["max_steps", "int"], ["context_tokens", "int"], ["turn_timeout_ms", "int"]];

/* What to do after a failed key test, by the relay's code. */
const KEY_TEST_HINTS = {
  not_running: "deploy the tenant (the test goes through its running agent)",
  chat_no_openai: "connect the openai channel (Channels tab) and redeploy",
  chat_no_token: "set the openai channel's api_token and redeploy",
  chat_no_edge: "give the node agent --edge-advertise (and the control plane a --base-domain)",
  chat_upstream: "the model provider or the gateway refused: check the key, base URL and model, save and redeploy",
  rate_limited: "wait, then test again",
};

function modelTab(base, changed) {
  const groups = { main: "", fallback: "fallback." };
  const inputs = [];
  const form = h("form.card", { id: "model-form" });
  const rows = [];
  for (const [g, prefix] of Object.entries(groups)) {
    const els = PROVIDER_KEYS.map(([k, type, req]) => {
      const el = fieldInput(prefix + k, type);
      inputs.push({ g, k, type, el });
      return h("label", {}, k + (req && g === "main" ? " *" : ""), el);
    });
    const key = h("input.wide", { type: "password", name: prefix + "api_key", autocomplete: "new-password",
      "aria-label": prefix + "api_key", placeholder: "the key (write-only; empty: keep)" });
    inputs.push({ g, k: "api_key", type: "secret", el: key });
    rows.push(h("h3", {}, g === "main" ? "Provider" : "Fallback provider (optional)"),
      h("div.row", {}, els, h("label", {}, "api_key", key)));
  }
  const limits = LIMIT_KEYS.map(([k, type]) => ({ k, type, el: fieldInput("limits." + k, type) }));
  rows.push(h("h3", {}, "Limits"), h("div.row", {}, limits.map((l) => h("label", {}, l.k, l.el))));
  const result = h("div", { id: "key-test" });
  const test = h("button.btn.secondary", { type: "button", id: "key-test-run", onclick: async () => {
    test.disabled = true;
    result.replaceChildren(h("p.muted", {}, "calling…"));
    try {
      const models = await api("GET", base + "/chat/models");
      const model = ((models.data || [])[0] || {}).id;
      const t0 = performance.now();
      await api("POST", base + "/chat/completions", { model, max_tokens: 1,
        messages: [{ role: "user", content: "ping" }] });
      result.replaceChildren(h("p.notice.ok", { "data-result": "ok" }, "the key works: one call answered in " +
        Math.round(performance.now() - t0) + " ms (model " + (model || "default") + ")"));
    } catch (e) {
      const hint = noRoute(e) ? "this control plane has no chat relay; upgrade it" : KEY_TEST_HINTS[e.code];
      result.replaceChildren(h("p.notice", { "data-result": e.code || "error" }, "the key test failed: " +
        e.message + " (" + (e.code || "error") + (e.status ? ", HTTP " + e.status : "") + ")" +
        (hint ? " — " + hint : "")));
    }
    test.disabled = false;
  } }, "Test this key");
  form.append(...rows, h("div.row", {}, h("button.btn", { type: "submit", id: "model-save" }, "Save model"), test),
    h("p.muted", {}, "Test this key makes one tiny call (max_tokens 1) through the tenant's running agent and " +
      "its chat relay: it tests the deployed model, so save and redeploy first."), result);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {}, fb = {};
    for (const i of inputs) {
      const v = i.type === "secret" ? (i.el.value || undefined) : fieldValue(i.el, i.type);
      if (i.type === "secret") i.el.value = "";
      if (v !== undefined) (i.g === "main" ? body : fb)[i.k] = v;
    }
    if (Object.keys(fb).length) body.fallback = fb;
    const lim = {};
    for (const l of limits) {
      const v = fieldValue(l.el, l.type);
      if (v !== undefined) lim[l.k] = v;
    }
    if (Object.keys(lim).length) body.limits = lim;
    try {
      const r = await api("PUT", base + "/model", body);
      markField(form, null);
      changed(r, "model");
      // the form shows what was stored (the keys by their secret names)
      // before the page says it is saved
      await load();
      flash("info", "model saved (version " + r.version + ")" +
        (r.secrets.length ? "; keys stored as secrets " + r.secrets.join(", ") : ""));
    } catch (e) { failIn(form, e); }
  });
  async function load() {
    try {
      const r = await api("GET", base + "/model");
      for (const i of inputs) {
        if (i.type === "secret") continue;
        const v = ((i.g === "main" ? r.body : r.body.fallback) || {})[i.k];
        i.el.value = v === undefined ? "" : String(v);
      }
      for (const l of limits) {
        const v = (r.body.limits || {})[l.k];
        l.el.value = v === undefined ? "" : String(v);
      }
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) fail(e);
    }
  }
  load();
  return h("div", { id: "tab-model" }, form);
}

/* ---- tools */

/* "A=B, C=D" as {A: B, C: D}. */
function pairsParse(text) {
  const o = {};
  for (const e of text.split(/\s*,\s*/).filter(Boolean)) {
    const i = e.indexOf("=");
    if (i < 1) throw new Error("'" + e + "' is not NAME=VALUE");
    o[e.slice(0, i).trim()] = e.slice(i + 1).trim();
  }
  return o;
}

function toolsTab(base, changed) {
  const list = h("div", { id: "tools-list" }, h("p.muted", {}, "Loading…"));
  let cur = { servers: [] };
  const f = {
    name: h("input", { name: "servers[N].name", placeholder: "search", "aria-label": "tool name" }),
    url: h("input.wide", { name: "servers[N].url", placeholder: "https://mcp.example.com/mcp (remote)",
      "aria-label": "tool url" }),
    image: h("input.wide", { name: "servers[N].image", placeholder: "or an image (sandboxed)", "aria-label": "tool image" }),
    secrets: h("input.wide", { name: "servers[N].secrets", placeholder: "Authorization=SEARCH_TOKEN",
      "aria-label": "tool secrets" }),
    egress: h("input.wide", { name: "servers[N].egress", placeholder: "api.search.example:443",
      "aria-label": "tool egress" }),
  };
  async function save(servers, what) {
    const body = Object.assign({}, cur, { servers });
    try {
      const r = await api("PUT", base + "/tools", body);
      markField(form, null);
      flash("info", what + " (tools version " + r.version + ")");
      changed(r, "tools");
      await load();
      return true;
    } catch (e) {
      /* the field names the server by its position in the list sent */
      const n = servers.length - 1;
      for (const el of Object.values(f)) el.setAttribute("name", el.getAttribute("name").replace(/\[\d+|\[N/, "[" + n));
      failIn(form, e);
      return false;
    }
  }
  const form = h("form.card", {
    id: "tool-form",
    onsubmit: async (ev) => {
      ev.preventDefault();
      const s = { name: f.name.value.trim() };
      if (f.url.value.trim()) s.url = f.url.value.trim();
      if (f.image.value.trim()) s.image = f.image.value.trim();
      try {
        if (f.secrets.value.trim()) s.secrets = pairsParse(f.secrets.value);
      } catch (e) { flash("error", "secrets: " + e.message + "; write HEADER=SECRET_NAME, ..."); return; }
      if (f.egress.value.trim()) s.egress = f.egress.value.split(/\s*,\s*/).filter(Boolean);
      if (await save((cur.servers || []).concat([s]), "tool " + s.name + " added")) {
        for (const el of Object.values(f)) el.value = "";
      }
    },
  }, h("h3", {}, "Add an MCP server"),
  h("div.row", {}, Object.entries(f).map(([k, el]) => h("label", {}, k, el)),
    h("button.btn", { type: "submit", id: "tool-add" }, "Add")),
  h("p.muted", {}, "A remote server has a url; a sandboxed one an image. Secrets name the tenant's secrets " +
    "(set them on the Secrets section first); egress lists the host:port it needs."));
  async function load() {
    try {
      cur = (await api("GET", base + "/tools")).body || { servers: [] };
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) { fail(e); return; }
      cur = { servers: [] };
    }
    list.replaceChildren(table([
      { title: "Name", get: (s) => h("strong", {}, s.name) },
      { title: "Where", get: (s) => h("span.mono", {}, s.url || s.image), cls: "wrap" },
      { title: "Secrets", get: (s) => h("span.mono", {}, Object.entries(s.secrets || {}).map(([k, v]) => k + "=" + v).join(", ") || "-") },
      { title: "Egress", get: (s) => h("span.mono", {}, (s.egress || []).join(", ") || "-") },
      { title: "", get: (s) => h("span.row", {},
        s.oauth ? h("button.btn.secondary", { type: "button", "data-connect-tool": s.name,
          title: "authorize this server (OAuth) and store its grant as the tenant's secret",
          onclick: () => connectTool(base, s.name) }, "Connect") : "",
        h("button.btn.danger", { type: "button", "data-remove-tool": s.name, onclick: () => {
          if (confirm("Remove tool " + s.name + "?")) save(cur.servers.filter((x) => x !== s), "tool " + s.name + " removed");
        } }, "Remove")) },
    ], cur.servers || [], "no tools"));
  }
  load();
  return h("div", { id: "tab-tools" }, list, form);
}

/* The sandboxed tool servers as the tenant's node reports them (the
 * placement's observed status: node-agent/toolsrv.c): each with its
 * state, restarts and, when it is down, why (its log tail in the
 * tooltip). */
function toolServers(p) {
  const ts = (p.observed && p.observed.tool_servers) || [];
  if (!ts.length) return cell(null);
  return h("span.row", {}, ts.map((t) => h("span.badge." + (t.state === "ready" ? "ok"
    : ["crash_loop", "failed", "server_down"].includes(t.state) ? "bad" : "busy"),
  { "data-tool-server": t.name, title: [t.error, t.log_tail].filter(Boolean).join("\n") || t.state },
  t.name + ": " + t.state + (t.restarts ? " (" + t.restarts + " restarts)" : ""))));
}

/* OAuth "connect" of a remote MCP server (docs/fleet.md, "Connecting an
 * OAuth MCP server"): the control plane starts the flow, the
 * authorization page opens in a window of its own (the authorization
 * server sends the browser back to the control plane's callback, which
 * stores the grant), and this page follows the flow until it ends. The
 * deployed runtime reads the grant after a redeploy. */
async function connectTool(base, name) {
  const at = base + "/mcp/" + encodeURIComponent(name) + "/connect";
  let r;
  try {
    r = await api("POST", at);
  } catch (e) { fail(e); return; }
  window.open(r.authorization_url, "_blank", "noopener");
  flash("info", "authorize " + name + " in the window that opened; waiting for it…");
  const until = Date.now() + 11 * 60 * 1000;
  while (Date.now() < until) {
    await new Promise((res) => setTimeout(res, 1000));
    let f;
    try {
      f = await api("GET", at + "/" + encodeURIComponent(r.flow));
    } catch (e) { fail(e); return; }
    if (f.state === "connected") {
      flash("info", name + " connected: its grant is stored as the tenant's secret; redeploy to use it");
      return;
    }
    if (f.state !== "pending") {
      flash("error", name + " not connected: " + (f.reason || f.state) + "; try Connect again");
      return;
    }
  }
  flash("error", name + ": the authorization was not finished in time; try Connect again");
}

/* The setup of a tenant: tabs over the four resources, one drawn at a
 * time, and the redeploy banner they share. */
function setupSection(t, base, deployment, onChange) {
  const banner = redeployBanner(() => deployment.deploy());
  let current = "channels";
  /* a settled deploy may bring the channels' webhook URLs */
  deployment.onSettled = async () => {
    if (!body.isConnected) return;
    if (current === "channels") { open("channels"); return; }
    try {
      const dd = document.getElementById("tenant-webhooks");
      const ten = await api("GET", base);
      if (dd) dd.replaceChildren(webhooksList(ten.webhooks));
    } catch (e) { fail(e); }
  };
  /* a change may store secrets (credentials, the model's key) */
  const changed = (r, what) => { banner.changed(r, what); onChange(); };
  const tabs = { channels: "Channels", persona: "Persona", model: "Model", tools: "Tools" };
  const make = { channels: () => channelsTab(t, base, changed), persona: () => personaTab(base, changed),
    model: () => modelTab(base, changed), tools: () => toolsTab(base, changed) };
  const body = h("div", { id: "setup-body" });
  const bar = h("div.tabs", { role: "tablist" });
  function open(k) {
    current = k;
    for (const b of bar.children) b.setAttribute("aria-selected", String(b.dataset.tab === k));
    body.replaceChildren(make[k]());
  }
  for (const [k, title] of Object.entries(tabs)) {
    bar.append(h("button.tab", { type: "button", role: "tab", id: "tab-" + k + "-btn", "data-tab": k,
      onclick: () => open(k) }, title));
  }
  open("channels");
  return h("div", { id: "setup" }, banner, bar, body);
}

/* ------------------------------------------------------------- chat */

/* "Try it": chat with the tenant through its OpenAI-compatible endpoint,
 * relayed by the control plane (GET .../chat/models, POST
 * .../chat/completions: the browser can reach neither the tenant's
 * gateway, another origin, nor its openai_api_token). Hidden when the
 * control plane has no such relay. */
function chatPanel(base) {
  const panel = h("div", { id: "chat-panel", hidden: true });
  const model = h("select", { id: "chat-model", "aria-label": "model" });
  const input = h("textarea", { id: "chat-input", rows: 2, placeholder: "Say hello", "aria-label": "message" });
  const log = h("div.chatlog", { id: "chat-log" });
  const send = h("button.btn", { type: "submit", id: "chat-send" }, "Send");
  let history = [];
  const say = (who, text) => log.append(h("div.say." + who, {}, h("strong", {}, who === "user" ? "you" : "tenant"), text));
  const form = h("form", {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      say("user", text);
      history.push({ role: "user", content: text });
      send.disabled = true;
      try {
        const r = await api("POST", base + "/chat/completions", { model: model.value, messages: history });
        const msg = ((r.choices || [])[0] || {}).message || {};
        history.push({ role: "assistant", content: msg.content || "" });
        say("assistant", msg.content || "(an empty answer)");
      } catch (e) { history.pop(); fail(e); }
      send.disabled = false;
    },
  }, h("div.row", {}, h("label", {}, "Model", model), h("label.grow", {}, "Message", input), send,
    h("button.btn.secondary", { type: "button", onclick: () => { history = []; log.replaceChildren(); } }, "Clear")));
  panel.append(h("h2", {}, "Try it"),
    h("p.muted", {}, "Messages go to the tenant's OpenAI-compatible endpoint, through the control plane."),
    h("div.card", {}, log, form));
  (async () => {
    try {
      const m = await api("GET", base + "/chat/models");
      model.replaceChildren(...(m.data || []).map((d) => h("option", { value: d.id }, d.id)));
    } catch (e) {
      if (noRoute(e)) return; /* no relay in this control plane: no panel */
      form.replaceWith(h("p.notice", { id: "chat-unavailable" }, "The chat is not available: " + e.message +
        " (" + e.code + ", HTTP " + e.status + ")"));
    }
    panel.hidden = false;
  })();
  return panel;
}

/* ------------------------------------------------------------ approvals */

/* #/approvals[?tenant=SLUG]: tool calls a tenant's policy holds for a
 * person (docs/fleet.md, "Approvals"): the fleet's pending ones (admin,
 * operator), or one tenant's, each with Approve and Deny (and a reason).
 * Arguments come redacted from the runtime and are shown as text. */
async function renderApprovals(params) {
  const slug = params.get("tenant") || "";
  const tenant = h("input", { id: "approvals-tenant", value: slug, placeholder: "all tenants",
    "aria-label": "tenant" });
  const holder = h("div", {}, h("p.muted", {}, "Loading…"));
  const decide = (a, decision) => h("button.btn" + (decision === "deny" ? ".secondary" : ""), {
    type: "button", "data-approval": a.id, "data-decision": decision, onclick: async () => {
      const reason = window.prompt((decision === "approve" ? "Approve" : "Deny") + " " + a.tool +
        "? Reason (optional, audited):", "");
      if (reason === null) return;
      const body = { decision };
      if (reason.trim()) body.reason = reason.trim();
      try {
        const r = await api("POST", "/v1/tenants/" + encodeURIComponent(a.tenant) + "/approvals/" +
          encodeURIComponent(a.id), body);
        flash("info", "approval " + a.id + ": " + r.state);
      } catch (e) { fail(e); }
      load();
    },
  }, decision === "approve" ? "Approve" : "Deny");
  const cols = [
    { title: "Tenant", get: (a) => h("a", { href: "#/tenants/" + encodeURIComponent(a.tenant) }, a.tenant) },
    { title: "Tool", get: (a) => h("span.mono", {}, cell(a.tool)) },
    { title: "Category", get: (a) => cell(a.category) },
    { title: "Arguments", get: (a) => h("code", {}, JSON.stringify(a.arguments || {})) },
    { title: "Channel", get: (a) => cell(a.channel) },
    { title: "Expires", get: (a) => fmtTime(a.expires), cls: "nowrap" },
    { title: "", get: (a) => h("div.row", {}, decide(a, "approve"), decide(a, "deny")) },
  ];
  async function load() {
    try {
      const r = slug
        ? await api("GET", "/v1/tenants/" + encodeURIComponent(slug) + "/approvals?state=pending")
        : await api("GET", "/v1/approvals");
      const items = (r.approvals || []).map((a) => Object.assign({ tenant: slug }, a));
      const partial = (r.partial || []).map((p) => p.tenant + " (node " + p.node + ": " + p.reason + ")");
      holder.replaceChildren(
        partial.length ? h("p.notice", { id: "approvals-partial" }, "Not answering: " + partial.join(", ")) : "",
        h("div", { id: "approvals-table" }, table(cols, items, "no tool call waits for a decision")));
    } catch (e) {
      holder.replaceChildren();
      fail(e);
    }
  }
  const form = h("form.row", {
    onsubmit: (ev) => {
      ev.preventDefault();
      location.hash = "#/approvals" + q({ tenant: tenant.value.trim() });
    },
  }, h("label", {}, "Tenant", tenant), h("button.btn.secondary", { type: "submit" }, "Show"));
  show(h("h1", {}, "Approvals"), form, holder);
  await load();
}

/* ---------------------------------------------------------------- routes */

function route() {
  viewCtl.abort();
  viewCtl = new AbortController();
  if (!token()) { renderSignin(); return; }
  document.getElementById("nav").hidden = false;
  document.getElementById("signout").hidden = false;
  const hash = location.hash.replace(/^#/, "") || "/tenants";
  const [path, query] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query || "");
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.nav === parts[0]);
  }
  if (parts[0] === "tenants" && parts[1]) return renderTenant(parts[1]);
  if (parts[0] === "tokens") return renderTokens();
  if (parts[0] === "plans") return renderPlans();
  if (parts[0] === "nodes") return renderNodes();
  if (parts[0] === "audit") return renderAudit(params);
  if (parts[0] === "overview") return renderOverview();
  if (parts[0] === "events") return renderEvents(params);
  if (parts[0] === "logs") return renderLogs(params);
  if (parts[0] === "usage") return renderUsage(params);
  if (parts[0] === "approvals") return renderApprovals(params);
  if (parts[0] === "rollouts" && parts[1]) return renderRollout(parts[1]);
  if (parts[0] === "rollouts") return renderRollouts(params);
  return renderTenants();
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("signout").addEventListener("click", () => {
    viewCtl.abort();
    sessionStorage.removeItem(TOKEN_KEY);
    clearFlash();
    renderSignin();
  });
  window.addEventListener("hashchange", () => { clearFlash(); route(); });
  route();
});
