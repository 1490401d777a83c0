/*
 * app.js - the claw dashboard: a client of the control plane's REST API and
 * nothing else (docs/dashboard.md).
 *
 * The operator signs in by pasting an API token; it is kept in
 * sessionStorage (gone when the tab closes) and sent as
 * "Authorization: Bearer TOKEN". Views are drawn from hash routes
 * (#/tenants, #/tenants/SLUG, #/nodes, #/plans, #/tokens, #/audit). Every value from the API
 * is put in the page as text (textContent), never as HTML. API errors are
 * shown from the shared error shape {"error":{"code","message",
 * "request_id"}}. Secret values are write-only: the form sends them and
 * clears itself; no view ever shows one.
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
    throw new ApiError(0, "unreachable",
      "the control plane did not answer; check that it is running", null);
  }
  const text = await resp.text();
  let json = null;
  if (text) {
    try { json = JSON.parse(text); } catch (e) { json = null; }
  }
  if (resp.ok) return json;
  const err = json && json.error ? json.error : {};
  throw new ApiError(resp.status, err.code || "http_" + resp.status,
    err.message || "the control plane answered HTTP " + resp.status,
    err.request_id || resp.headers.get("X-Request-Id"));
}

/* Show an API failure; a refused token sends the operator back to sign
 * in. */
function fail(e) {
  if (!(e instanceof ApiError)) {
    flash("error", "unexpected error: " + e.message);
    return;
  }
  const detail = "(" + e.code + (e.status ? ", HTTP " + e.status : "") +
    (e.requestId ? ", request id " + e.requestId : "") + ")";
  if (e.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    renderSignin();
  }
  flash("error", e.message, detail);
}

function q(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) u.set(k, v);
  const s = u.toString();
  return s ? "?" + s : "";
}

/* A paged list: fetches pages of path+params, draws them with draw(items)
 * into holder, and offers "Load more" while next_cursor is set. */
async function pagedList(holder, path, params, draw) {
  let items = [];
  let cursor = null;
  const more = h("button.btn.secondary.more", { type: "button" }, "Load more");
  async function load() {
    try {
      const page = await api("GET", path + q(Object.assign({}, params, { cursor })));
      items = items.concat(page.items || []);
      cursor = page.next_cursor || null;
      holder.replaceChildren(draw(items), cursor ? more : "");
    } catch (e) { fail(e); }
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
      h("dt", {}, "Webhooks"), h("dd.mono", { id: "tenant-webhooks" },
        Object.keys(t.webhooks || {}).length
          ? h("ul.plain", {}, ...Object.entries(t.webhooks).map(([ch, url]) =>
            h("li", {}, ch + ": " + url)))
          : "-"),
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
  const deployment = deleted ? h("p.muted", {}, "the tenant is deleted")
    : deploymentSection(t, base);
  show(h("p", {}, h("a", { href: "#/tenants" }, "← Tenants")),
    h("h1", {}, t.name + " (" + t.slug + ")"), info,
    h("h2", {}, "Deployment"), deployment,
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
  return h("div", {}, h("div.card", {}, where), progress, history);
}

/* ---------------------------------------------------------------- plans */

async function renderPlans() {
  const holder = h("div", {}, h("p.muted", {}, "Loading…"));
  const f = {};
  for (const [k, ph] of [["name", "small"], ["cpus_milli", "500"], ["memory_mb", "256"],
    ["pids", "256"], ["disk_mb", "0"]]) {
    f[k] = h("input", { id: "plan-" + k, placeholder: ph, "aria-label": k,
      required: k !== "disk_mb" });
  }
  const form = h("form.card", {
    onsubmit: async (ev) => {
      ev.preventDefault();
      const body = { name: f.name.value.trim() };
      for (const k of ["cpus_milli", "memory_mb", "pids", "disk_mb"]) {
        if (f[k].value.trim()) body[k] = Number(f[k].value.trim());
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
    h("p.muted", {}, "A tenant's own token deploys within its plan; put a tenant on a plan on its page."),
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

/* ---------------------------------------------------------------- routes */

function route() {
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
  return renderTenants();
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("signout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    clearFlash();
    renderSignin();
  });
  window.addEventListener("hashchange", () => { clearFlash(); route(); });
  route();
});
