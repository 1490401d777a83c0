// dashboard.mjs - drives Debian's chromium (headless, through
// playwright-core) against a running control plane that serves the
// dashboard: sign in with a pasted token, create a tenant, see it listed,
// define a plan on the Plans page, set the tenant's bounds (plan, egress,
// self-pause, node labels, channel base URLs) with its bounds form, set a
// secret (its value never shown), deploy it with one click and watch it
// reach healthy, suspend and resume it, redeploy it with a git workspace
// (resolving, then the pinned commit), see the node, see the audit rows
// and verify the chain (and how a failed checkpoint is shown), the fleet
// overview (failing tenants first, node capacity), live events, the log
// viewer following a log, a real rollout followed to completed, the usage
// the node reported, plan quotas, issue and revoke a token; the agent
// setup of a second tenant (a Telegram bot connected through the Channels
// form and its webhook URL shown after Redeploy now, a wrong-shaped token
// refused with its field, the persona's versions and line diff, the model
// form with its 422 and Test this key, the tools list), sign out.
// What the tree cannot produce on cue (a halted or paused rollout, many
// hours of usage, a failed tenant) and the chat relay, which is not in the
// tree yet, are drawn from the contract's JSON, answered by this script
// through page.route (playwright's request interception), as are the
// relay's answers to Test this key once the real refusal was shown (the
// fake node runs no agent). The test that runs this plays the node
// (tests/integration/cli/fakenode.py). Exits 0 when every step passed, 1
// with the failing step.
//
// usage: node dashboard.mjs URL TOKEN_FILE SCREENSHOT_DIR
// env: CHROMIUM (default /usr/bin/chromium); E2E_WS_REPO, E2E_WS_COMMIT
// (a local git repository and its main's commit, for the workspace step)
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, tokenFile, shots] = process.argv.slice(2);
if (!url || !tokenFile || !shots) {
  console.error("usage: node dashboard.mjs URL TOKEN_FILE SCREENSHOT_DIR");
  process.exit(2);
}
const token = readFileSync(tokenFile, "utf8").trim();
const slug = "e2e-" + process.pid;
const plan = "e2e-plan-" + process.pid;
// a git repository a redeploy names as its workspace (optional)
const wsRepo = process.env.E2E_WS_REPO || "";
const wsCommit = process.env.E2E_WS_COMMIT || "";
const canary = "canary-value-" + process.pid + "-never-shown";
const profile = mkdtempSync(join(tmpdir(), "claw-e2e-chromium-"));
rmSync(join(shots, "failure.png"), { force: true }); // a previous run's

function step(name) {
  console.log("step: " + name);
}

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
}

// The Plans form: fill the fields given (plan-KEY inputs), then Create.
async function createPlan(fields) {
  for (const [k, v] of Object.entries(fields)) await page.fill("#plan-" + k, v);
  await page.click("#create-plan");
}

// The text of a plan's row, once it is listed.
async function planListed(name) {
  await page.waitForSelector(`#plans-table :text-is('${name}')`);
  return page.textContent(`#plans-table tr:has-text('${name}')`);
}

// A form's fields by name (or aria-label): text filled, a word selected.
async function formFill(form, fields) {
  for (const [name, v] of Object.entries(fields)) {
    const el = page.locator(`${form} [name="${name}"], ${form} [aria-label="${name}"]`).first();
    if (await el.evaluate((e) => e.tagName === "SELECT")) await el.selectOption(v);
    else await el.fill(v);
  }
}

// The API, called by this script (as the admin) beside the browser.
async function apiCall(method, path, body) {
  const r = await fetch(url + path, { method, headers: { Authorization: "Bearer " + token,
    "Content-Type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { json = null; }
  return { status: r.status, json };
}

// A rollout as the contract (notes of issue 12) describes it, for the
// pages whose API is not in this tree yet: the test answers for it.
const rolloutId = "ro_0123abcd";
function rolloutFixture(over) {
  const t = (tenant, state, batch, error) => ({ tenant, state, batch, deployment: state === "pending" ? null : "dep_" + tenant,
    previous_deployment: "dep_old_" + tenant, error: error || null });
  return Object.assign({ id: rolloutId, state: "running", created_at: "2026-12-06T09:00:00Z",
    updated_at: "2026-12-06T09:05:00Z", created_by: "tok_admin", selector: { plan: "default" },
    images: { runtime: "localhost/claw-rt:v2" }, max_unavailable: 2, failure_threshold: 2,
    total: 5, succeeded: 2, failed: 0, rolled_back: 1, pending: 1, in_progress: 1, batch: 2, reason: null,
    tenants: [t("t1", "healthy", 1), t("t2", "healthy", 1), t("t3", "deploying", 2),
      t("t4", "rolled_back", 2, "image pull failed: manifest unknown"), t("t5", "pending", 3)] }, over);
}

// A new, empty profile directory (playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 860 },
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
    "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
  ],
});
let status = 0;
const page = browser.pages()[0] || await browser.newPage();
const consoleErrors = [];
page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
page.on("pageerror", (e) => consoleErrors.push(String(e)));
// the token goes in a header only, streams included (never in a URL)
const urlsWithToken = [];
page.on("request", (r) => { if (r.url().includes(token)) urlsWithToken.push(r.url()); });
try {
  step("open the dashboard: the sign-in form");
  await page.goto(url + "/", { waitUntil: "load" });
  await page.waitForSelector("#token");
  check((await page.title()) === "claw dashboard", "page title");

  step("a wrong token is refused with the API's message");
  await page.fill("#token", "claw_wrong");
  await page.click("#signin");
  await page.waitForSelector("#flash .msg.error");
  const refused = await page.textContent("#flash");
  check(/unauthorized, HTTP 401, request id [0-9a-f]+/.test(refused), "401 shown: " + refused);
  await page.waitForSelector("#token");

  step("sign in with the admin token");
  await page.fill("#token", token);
  await page.click("#signin");
  await page.waitForSelector("#tenants-table");
  check(await page.evaluate(() => sessionStorage.getItem("claw.token") !== null), "token in sessionStorage");
  check(await page.evaluate(() => localStorage.length === 0), "nothing in localStorage");

  step("create a tenant and see it listed");
  await page.fill("#new-slug", slug);
  await page.fill("#new-name", "E2E Corp");
  await page.click("#create-tenant");
  await page.waitForSelector(`#tenants-table a[href="#/tenants/${slug}"]`);
  const flash = await page.textContent("#flash");
  check(flash.includes("tenant " + slug + " created"), "created flash: " + flash);
  const row = await page.textContent(`#tenants-table tr:has(a[href="#/tenants/${slug}"])`);
  check(row.includes("E2E Corp") && row.includes("active"), "row shows name and status: " + row);
  await page.screenshot({ path: join(shots, "tenants.png"), fullPage: true });

  step("creating it again shows the API's conflict error");
  await page.fill("#new-slug", slug);
  await page.click("#create-tenant");
  await page.waitForSelector("#flash .msg.error");
  const dup = await page.textContent("#flash");
  check(dup.includes("slug_taken") && dup.includes("HTTP 409"), "409 shown: " + dup);

  step("the plans page: the built-in plan, and a new plan listed");
  await page.click('#nav a[data-nav="plans"]');
  await page.waitForSelector("#plans-table :text-is('default')");
  await createPlan({ name: plan, cpus_milli: "500", memory_mb: "256", pids: "128", disk_mb: "1024" });
  const planRow = await planListed(plan);
  check(planRow.includes("1024") && planRow.includes("128"), "plan row: " + planRow);
  check((await page.textContent("#flash")).includes("plan " + plan + " created"), "plan created flash");
  await createPlan({ name: "Bad_Name", cpus_milli: "500", memory_mb: "256", pids: "128" });
  await page.waitForSelector("#flash .msg.error");
  check((await page.textContent("#flash")).includes("invalid_field"), "bad plan name refused");
  await page.screenshot({ path: join(shots, "plans.png"), fullPage: true });

  step("the tenant's bounds form: plan, egress, self-pause, node labels, base URLs");
  await page.click('#nav a[data-nav="tenants"]');
  await page.waitForSelector(`#tenants-table a[href="#/tenants/${slug}"]`);
  await page.click(`a[href="#/tenants/${slug}"]`);
  await page.waitForSelector("#bounds-form");
  await page.fill("#bounds-plan", plan);
  await page.fill("#bounds-egress", "api.example.com:443, *.mcp.example.com:443");
  await page.check("#bounds-self-pause");
  await page.fill("#bounds-node-labels", "zone=a, zone=b");
  await page.fill("#bounds-api-base", "https://chat.example.com");
  await page.click("#save-bounds");
  await page.waitForSelector(`#tenant-plan:text-is('${plan}')`);
  check((await page.textContent("#flash")).includes("bounds of " + slug + " saved"), "bounds saved flash");
  check((await page.textContent("#tenant-node-labels")) === "zone=a, zone=b", "node labels shown");
  check((await page.textContent("#tenant-api-base-allow")) === "https://chat.example.com", "base URLs shown");
  check((await page.inputValue("#bounds-node-labels")) === "zone=a, zone=b", "form keeps the labels");
  await page.screenshot({ path: join(shots, "bounds.png"), fullPage: true });
  // refused values: a label without '=' (checked in the page), a base URL
  // that is not http(s) (the API's 422)
  await page.fill("#bounds-node-labels", "zone");
  await page.click("#save-bounds");
  await page.waitForSelector("#flash .msg.error");
  check((await page.textContent("#flash")).includes("LABEL=VALUE"), "bad label refused");
  await page.fill("#bounds-node-labels", "zone=a");
  await page.fill("#bounds-api-base", "ftp://chat.example.com");
  await page.click("#save-bounds");
  await page.waitForSelector("#flash :text('invalid_field')");
  check((await page.textContent("#tenant-api-base-allow")) === "https://chat.example.com", "nothing saved");

  step("open the tenant and set a secret; its value is never shown");
  await page.click('#nav a[data-nav="tenants"]');
  await page.waitForSelector(`#tenants-table a[href="#/tenants/${slug}"]`);
  await page.click(`a[href="#/tenants/${slug}"]`);
  await page.waitForSelector("#secret-name");
  await page.fill("#secret-name", "OPENAI_API_KEY");
  await page.fill("#secret-value", canary);
  await page.click("#set-secret");
  await page.waitForSelector("td:text('OPENAI_API_KEY')");
  check((await page.inputValue("#secret-value")) === "", "value field cleared");
  check(!(await page.content()).includes(canary), "secret value absent from the page");
  await page.screenshot({ path: join(shots, "tenant.png"), fullPage: true });

  step("one-click deploy: its progress reaches healthy");
  await page.click("#deploy");
  await page.waitForSelector('#deploy-progress [data-phase="healthy"]', { timeout: 60000 });
  const steps = await page.textContent("#deploy-steps");
  check(steps.endsWith("healthy"), "phases shown: " + steps);
  await page.waitForSelector('#placement [data-phase="healthy"]');
  await page.waitForSelector('#deployments [data-phase="healthy"]');

  step("kill switch: suspend, then resume");
  await page.click("#suspend");
  await page.waitForSelector("#tenant-state :text-is('suspended')");
  await page.click("#resume");
  await page.waitForSelector("#tenant-state :text-is('running')");
  await page.screenshot({ path: join(shots, "deployed.png"), fullPage: true });

  if (wsRepo) {
    step("a redeploy with a git workspace shows resolving, then the pinned commit");
    // the Deploy button sends {}: this page adds a workspace to its body
    await page.route("**/v1/tenants/*/deploy", (route) => {
      const body = JSON.parse(route.request().postData() || "{}");
      body.workspace = { repo: wsRepo, ref: "main" };
      route.continue({ postData: JSON.stringify(body) });
    });
    await page.click("#deploy");
    await page.waitForFunction(() => {
      const t = (document.querySelector("#deploy-steps") || {}).textContent || "";
      return t.startsWith("resolving") && t.endsWith("healthy");
    }, null, { timeout: 60000 });
    await page.unroute("**/v1/tenants/*/deploy");
    await page.waitForSelector(`#deployments :text('${wsCommit}')`);
    const wsSteps = await page.textContent("#deploy-steps");
    check(wsSteps.startsWith("resolving →"), "resolving shown first: " + wsSteps);
    await page.screenshot({ path: join(shots, "resolved.png"), fullPage: true });
  }

  step("the nodes page lists the node");
  await page.click('#nav a[data-nav="nodes"]');
  await page.waitForSelector("#nodes-table :text-is('e2e-node')");
  const nodeRow = await page.textContent("#nodes-table tr:has-text('e2e-node')");
  check(nodeRow.includes("ready"), "node ready: " + nodeRow);
  await page.screenshot({ path: join(shots, "nodes.png"), fullPage: true });

  step("the audit log lists the creation; the chain verifies");
  await page.click('#nav a[data-nav="audit"]');
  await page.waitForSelector("#audit-table");
  await page.waitForSelector("#audit-table :text-is('tenant.create')");
  const audit = await page.textContent("#audit-table");
  for (const a of ["plan.create", "tenant.update", "secret.put", "deploy", "tenant.suspend",
    "tenant.resume"]) {
    check(audit.includes(a), a + " row listed");
  }
  check(!audit.includes(canary), "secret value absent from the audit view");
  await page.click("#verify");
  await page.waitForSelector("#verify-result .verify-ok");
  const verified = await page.textContent("#verify-result");
  check(/chain intact: \d+ rows checked/.test(verified), "verify: " + verified);
  await page.screenshot({ path: join(shots, "audit.png"), fullPage: true });

  step("a failed checkpoint is shown with its verdict, not as a broken row");
  // the API's answer when rows were cut from the end (the chain itself
  // still verifies, so there is no broken row)
  const tailCut = "checkpoint at line 2 (2026-01-31T00:00:00Z, periodic, key k1): " +
    "tail_deleted: the log has 3 rows, the checkpoint 5";
  await page.route("**/v1/audit/verify", (route) => route.fulfill({
    status: 200, contentType: "application/json",
    body: JSON.stringify({
      ok: false, rows_checked: 3, first_broken_id: null, reason: tailCut,
      head: { last_id: 3, rows: 3, hash: "00" },
      checkpoints: { checked: 2, ok: false, latest: null, failed: {
        line: 2, problem: "tail_deleted", time: "2026-01-31T00:00:00Z",
        event: "periodic", last_id: 5, rows: 5, head: "ab", key_id: "k1",
        reason: "the log has 3 rows, the checkpoint 5" } },
      keys: [] }),
  }));
  await page.click("#verify");
  await page.waitForSelector("#verify-checkpoints");
  const ckShown = await page.textContent("#verify-result");
  check(ckShown.includes(tailCut) && ckShown.includes("tail_deleted") &&
    ckShown.includes("does NOT extend its checkpoints"), "checkpoint verdict: " + ckShown);
  check(!ckShown.includes("null"), "no 'row null': " + ckShown);
  await page.screenshot({ path: join(shots, "audit-checkpoint.png"), fullPage: true });
  await page.unroute("**/v1/audit/verify");

  step("filter the audit log by tenant and action");
  await page.fill("#audit-tenant", slug);
  await page.fill("#audit-action", "tenant.create");
  await page.click("#audit-filter");
  await page.waitForFunction(() => location.hash.includes("action=tenant.create"));
  await page.waitForSelector("#audit-table :text-is('tenant.create')");
  const rows = await page.$$eval("#audit-table tbody tr", (trs) => trs.length);
  check(rows === 1, "one tenant.create row for the tenant, got " + rows);

  step("the fleet overview: tenants by phase (failing first), node capacity, live");
  // a second tenant whose placement the test answers as failed: it is
  // listed before the healthy one
  const other = await apiCall("POST", "/v1/tenants", { slug: "ov-" + process.pid, name: "Overview" });
  check(other.status === 201, "second tenant created: " + other.status);
  await page.route(`**/v1/tenants/${other.json.id}/placement`, (route) => route.fulfill({
    status: 200, contentType: "application/json",
    body: JSON.stringify({ tenant_id: other.json.id, deployment_id: "dep_x", state: "running",
      node_id: null, node_name: "e2e-node", phase: "failed", generation: 1,
      reason: "runtime crash-looped: exit 1", observed: {}, updated_at: "2026-12-06T10:00:00Z" }),
  }));
  await page.click('#nav a[data-nav="overview"]');
  await page.waitForSelector(`#overview-tenants a[href="#/tenants/${slug}"]`);
  const ovRows = await page.$$eval("#overview-tenants tbody tr", (trs) => trs.map((t) => t.textContent));
  check(ovRows[0].includes("ov-" + process.pid) && ovRows[0].includes("failed") &&
    ovRows[0].includes("crash-looped"), "the failing tenant first: " + ovRows.join(" | "));
  check(ovRows.some((r) => r.includes(slug) && r.includes("healthy")), "healthy tenant listed");
  const groups = await page.$$eval("#overview-phases [data-group]", (els) => els.map((e) => e.dataset.group));
  check(groups[0] === "failed" && groups.includes("healthy"), "phase counts, failed first: " + groups);
  const nodeCap = await page.textContent("#overview-nodes tr:has-text('e2e-node')");
  check(/\/ 4000 m/.test(nodeCap) && /\/ 8192 MB/.test(nodeCap), "node capacity: " + nodeCap);
  check(await page.$$eval("#overview-nodes svg.bar", (b) => b.length) >= 2, "capacity bars drawn");
  await page.waitForSelector("#overview-live:text-is('live')");
  await page.unroute(`**/v1/tenants/${other.json.id}/placement`);
  // rollouts in progress: this tree's (none running), then nothing (and
  // no error) from a control plane without the rollouts API (the router's
  // 404 not_found), then a running one
  await page.waitForSelector("#overview-rollouts :text('no rollout is running')");
  const noRoute404 = (route) => route.fulfill({ status: 404, contentType: "application/json",
    body: JSON.stringify({ error: { code: "not_found", message: "no such resource; check the path and the id",
      request_id: "0" } }) });
  await page.route("**/v1/rollouts?state=running", noRoute404);
  await page.click('#nav a[data-nav="tenants"]');
  await page.click('#nav a[data-nav="overview"]');
  await page.waitForSelector("#overview-nodes");
  await page.waitForSelector(`#overview-tenants a[href="#/tenants/${slug}"]`);
  check(!(await page.$("#overview-rollouts")), "no rollouts panel without the API");
  check((await page.textContent("#flash")).trim() === "", "no error for a missing rollouts API");
  await page.unroute("**/v1/rollouts?state=running");
  await page.route("**/v1/rollouts?state=running", (route) => route.fulfill({
    status: 200, contentType: "application/json",
    body: JSON.stringify({ items: [rolloutFixture({})].map((r) => { delete r.tenants; return r; }) }),
  }));
  await page.click('#nav a[data-nav="tenants"]');
  await page.click('#nav a[data-nav="overview"]');
  await page.waitForSelector(`#overview-rollouts a[href="#/rollouts/${rolloutId}"]`);
  check((await page.textContent("#overview-rollouts")).includes("2/5 done"), "rollout progress listed");
  await page.screenshot({ path: join(shots, "overview.png"), fullPage: true });
  await page.unroute("**/v1/rollouts?state=running");

  step("live events: a suspend and a resume show up as they happen");
  await page.click('#nav a[data-nav="events"]');
  await page.waitForSelector("#events-live:text-is('live')");
  check((await apiCall("POST", `/v1/tenants/${slug}/suspend`)).status < 300, "suspend through the API");
  check((await apiCall("POST", `/v1/tenants/${slug}/resume`)).status < 300, "resume through the API");
  await page.waitForFunction((s) => [...document.querySelectorAll("#events-table tbody tr[data-type]")]
    .filter((tr) => tr.textContent.includes(s)).length >= 2, slug, { timeout: 20000 });
  const evText = await page.textContent("#events-table");
  check(evText.includes("tenant."), "tenant events listed: " + evText.slice(0, 400));
  await page.screenshot({ path: join(shots, "events.png"), fullPage: true });

  step("the log viewer: a refusal says what to do; a followed log grows until Stop");
  await page.click('#nav a[data-nav="logs"]');
  await page.fill("#logs-tenant", "ov-" + process.pid);
  await page.click("#logs-show");
  await page.waitForSelector("#flash .msg.error");
  const notRunning = await page.textContent("#flash");
  check(notRunning.includes("not_running") && notRunning.includes("deploy or start"),
    "not running shown with what to do: " + notRunning);
  await page.fill("#logs-tenant", slug);
  await page.click("#logs-show");
  await page.waitForSelector("#log-output:has-text('line 1 from the runtime of " + slug + "')", { timeout: 30000 });
  await page.waitForSelector("#log-output:has-text('followed line 2')", { timeout: 30000 });
  check((await page.textContent("#log-output")).includes("line 2 <img id=xss src=x>") && !(await page.$("#xss")),
    "log text shown as text, never as markup");
  check((await page.textContent("#logs-status")).startsWith("following"), "following shown");
  await page.screenshot({ path: join(shots, "logs.png"), fullPage: true });
  await page.click("#logs-stop");
  await page.waitForSelector("#logs-status:text-is('stopped')");

  step("rollouts (the contract's answers): list, detail, live progress, pause/resume/abort");
  let ro = rolloutFixture({});
  let detailReads = 0;
  let nextPause = null;
  await page.route("**/v1/rollouts**", (route) => {
    const req = route.request();
    const u = new URL(req.url());
    const reply = (status, body) => route.fulfill({ status, contentType: "application/json",
      body: JSON.stringify(body) });
    if (req.method() === "GET" && u.pathname === "/v1/rollouts") {
      const { tenants, ...row } = ro;
      return reply(200, { items: [row, Object.assign({}, row, { id: "ro_0ld", state: "completed",
        succeeded: 5, pending: 0, in_progress: 0 })] });
    }
    if (req.method() === "GET") {
      // after the first read, a tenant became healthy (as its event said)
      if (++detailReads === 2) ro = rolloutFixture({ succeeded: 3, in_progress: 1, pending: 1 });
      return reply(200, ro);
    }
    const op = u.pathname.split("/").pop();
    if (nextPause) { const r = nextPause; nextPause = null; return reply(r.status, r.body); }
    ro = Object.assign({}, ro, { state: { pause: "paused", resume: "running", abort: "aborted" }[op],
      reason: op === "abort" ? "aborted by tok_admin" : null });
    return reply(200, ro);
  });
  // the event stream carries one rollout.tenant event for it (then ends;
  // the page reconnects to the real stream)
  await page.route("**/v1/events**", (route) => route.fulfill({
    status: 200, contentType: "text/event-stream",
    body: "id: 999999\nevent: rollout.tenant\ndata: " + JSON.stringify({ id: 999999,
      type: "rollout.tenant", time: "2026-12-06T10:00:00Z", tenant: "t3",
      data: { rollout: rolloutId, tenant: "t3", state: "healthy", succeeded: 3 } }) + "\n\n",
  }));
  await page.click('#nav a[data-nav="rollouts"]');
  await page.waitForSelector(`#rollouts-table a[href="#/rollouts/${rolloutId}"]`);
  const roList = await page.textContent("#rollouts-table");
  check(roList.includes("running") && roList.includes("completed") &&
    roList.includes("runtime localhost/claw-rt:v2"), "rollouts listed: " + roList);
  await page.screenshot({ path: join(shots, "rollouts.png"), fullPage: true });
  await page.click(`#rollouts-table a[href="#/rollouts/${rolloutId}"]`);
  await page.waitForSelector("#rollout-progress");
  await page.waitForSelector("#rollout-progress:has-text('3 succeeded')");
  await page.unroute("**/v1/events**");
  const roTenants = await page.textContent("#rollout-tenants");
  check(roTenants.includes("t4") && roTenants.includes("rolled_back") && roTenants.includes("image pull failed"),
    "per-tenant states: " + roTenants);
  check(await page.$$eval("#rollout-bar rect", (r) => r.length) >= 4, "progress bar segments");
  await page.screenshot({ path: join(shots, "rollout.png"), fullPage: true });
  await page.click("#rollout-pause");
  await page.waitForSelector("#rollout-state [data-state='paused']");
  await page.waitForSelector("#rollout-resume");
  check(!(await page.$("#rollout-pause")), "no pause button while paused");
  nextPause = { status: 409, body: { error: { code: "rollout_state",
    message: "the rollout is paused, not running", request_id: "abc123" } } };
  await page.click("#rollout-resume");
  await page.waitForSelector("#flash .msg.error");
  const roErr = await page.textContent("#flash");
  check(roErr.includes("rollout_state") && roErr.includes("reload the rollout"), "409 with what to do: " + roErr);
  await page.click("#rollout-resume");
  await page.waitForSelector("#rollout-state [data-state='running']");
  page.once("dialog", (d) => d.accept());
  await page.click("#rollout-abort");
  await page.waitForSelector("#rollout-state [data-state='aborted']");
  check((await page.textContent("#rollout-reason")).includes("aborted by"), "abort reason shown");
  check(!(await page.$("#rollout-abort")), "no buttons once aborted");
  await page.unroute("**/v1/rollouts**");

  step("a real rollout of the tenant: listed, followed live to completed");
  const created = await apiCall("POST", "/v1/rollouts", { selector: { tenants: [slug] },
    images: { runtime: "localhost/claw-rt:e2e" }, max_unavailable: 1 });
  check(created.status === 201, "rollout created: " + created.status + " " + JSON.stringify(created.json));
  const realId = created.json.id;
  await page.click('#nav a[data-nav="rollouts"]');
  await page.waitForSelector(`#rollouts-table a[href="#/rollouts/${realId}"]`);
  await page.click(`#rollouts-table a[href="#/rollouts/${realId}"]`);
  await page.waitForSelector("#rollout-state [data-state='completed']", { timeout: 60000 });
  const realTenants = await page.textContent("#rollout-tenants");
  check(realTenants.includes(slug) && realTenants.includes("healthy"), "the tenant moved: " + realTenants);
  const realProgress = await page.textContent("#rollout-progress");
  check(realProgress.startsWith("1 succeeded") && realProgress.endsWith("of 1"), "progress: " + realProgress);
  check(!(await page.$("#rollout-pause, #rollout-resume, #rollout-abort")), "no buttons once completed");
  await page.screenshot({ path: join(shots, "rollout-real.png"), fullPage: true });

  step("usage charts (the contract's answer): turns, tokens and mean turn latency per hour, drawn in SVG");
  let usageQuery = null;
  await page.route("**/v1/tenants/*/usage?*", (route) => {
    usageQuery = new URL(route.request().url()).searchParams;
    const hour = Math.floor(Date.now() / 3600e3) * 3600e3;
    const b = (ago, turns, inp, out) => ({ start: new Date(hour - ago * 3600e3).toISOString().replace(".000Z", "Z"),
      turns, messages_in: turns, messages_out: turns, tool_calls: 1, tool_errors: 0,
      turn_ms: turns * 400, input_tokens: inp, output_tokens: out, providers: {} });
    route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({
      tenant: slug, granularity: "hour", buckets: [b(5, 3, 1200, 300), b(2, 7, 4000, 900), b(0, 1, 100, 50)],
      totals: { turns: 11, messages_in: 11, messages_out: 11, tool_calls: 3, tool_errors: 0,
        input_tokens: 5300, output_tokens: 1250, providers: {} },
      quota: { turns_per_day: { limit: 10, used: 11 }, tokens_per_month: { limit: null, used: 6550 } } }) });
  });
  await page.goto(url + "/#/tenants/" + slug);
  await page.click("#tenant-links a:text-is('Usage')");
  await page.waitForSelector("#usage-turns svg");
  check(usageQuery.get("granularity") === "hour" && usageQuery.get("since") && usageQuery.get("until"),
    "usage asked by hour over a range: " + usageQuery);
  const turnBars = await page.$$eval("#usage-turns svg rect title", (t) => t.map((e) => e.textContent));
  check(turnBars.length === 3 && turnBars.some((t) => t.endsWith("turns 7")), "turn bars: " + turnBars);
  check(await page.$$eval("#usage-tokens svg rect", (r) => r.length) === 6, "input and output token bars");
  const latency = await page.$$eval("#usage-latency svg rect title", (t) => t.map((e) => e.textContent));
  check(latency.length === 3 && latency.every((t) => t.endsWith("mean turn (ms) 400")),
    "mean turn latency bars (turn_ms / turns): " + latency);
  check((await page.textContent("#usage-totals")).includes("5300"), "totals shown");
  const quotaShown = await page.textContent("#usage-quota");
  check(quotaShown.includes("11 / 10 (exhausted)") && quotaShown.includes("no limit"), "quotas: " + quotaShown);
  await page.screenshot({ path: join(shots, "usage.png"), fullPage: true });
  await page.unroute("**/v1/tenants/*/usage?*");
  await page.route("**/v1/usage?*", (route) => route.fulfill({ status: 200, contentType: "application/json",
    body: JSON.stringify({ tenants: [{ tenant: slug, totals: { turns: 11, input_tokens: 5300,
      output_tokens: 1250, tool_calls: 3 } }], totals: { turns: 11, input_tokens: 5300, output_tokens: 1250 } }) }));
  await page.fill("#usage-tenant", "");
  await page.click("#usage-show");
  await page.waitForSelector(`#usage-fleet a:text-is('${slug}')`);
  await page.screenshot({ path: join(shots, "usage-fleet.png"), fullPage: true });
  await page.unroute("**/v1/usage?*");
  // this tree's answer: what the node reported when the tenant turned
  // healthy (test_dashboard.py's LogNode: 7 turns, 1200 + 300 tokens)
  await page.goto(url + "/#/usage?tenant=" + slug);
  await page.waitForSelector("#usage-turns svg");
  const realTotals = await page.$$eval("#usage-totals dd", (dds) => dds.map((d) => d.dataset.k + "=" + d.textContent).join(" "));
  check(["turns=7", "tool_calls=2", "input_tokens=1200", "output_tokens=300"].every((kv) => realTotals.includes(kv)),
    "reported usage: " + realTotals);
  check(await page.$$eval("#usage-tokens svg rect title", (t) => t.length) >= 2, "reported tokens drawn");
  await page.screenshot({ path: join(shots, "usage-reported.png"), fullPage: true });
  // a control plane without usage collection: the page says so
  await page.route("**/v1/tenants/*/usage?*", noRoute404);
  await page.click("#usage-show");
  await page.waitForSelector("#usage-missing");
  check((await page.textContent("#usage-missing")).includes("Upgrade the control plane"), "what to do");
  await page.unroute("**/v1/tenants/*/usage?*");

  step("the chat panel: hidden without the relay; through it, a conversation");
  await page.goto(url + "/#/tenants/" + slug);
  await page.waitForSelector("#deployments [data-phase]");
  const relay = await apiCall("GET", `/v1/tenants/${slug}/chat/models`);
  if (relay.status === 404 && relay.json.error.code === "not_found") {
    check(await page.$eval("#chat-panel", (p) => p.hidden), "chat panel hidden without the relay");
  }
  let chatBody = null;
  await page.route("**/v1/tenants/*/chat/models", (route) => route.fulfill({ status: 200,
    contentType: "application/json", body: JSON.stringify({ object: "list",
      data: [{ id: "claw", object: "model", owned_by: "claw" }] }) }));
  await page.route("**/v1/tenants/*/chat/completions", (route) => {
    chatBody = JSON.parse(route.request().postData());
    const last = chatBody.messages[chatBody.messages.length - 1].content;
    if (last === "fail") {
      return route.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: {
        message: "the tenant is suspended; resume it first", type: "server_error", code: "tenant_suspended" } }) });
    }
    route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({
      id: "chatcmpl-1", object: "chat.completion", created: 1, model: chatBody.model,
      choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: "hello from " + slug } }] }) });
  });
  await page.reload();
  await page.waitForSelector("#chat-panel:not([hidden]) #chat-model option[value='claw']", { state: "attached" });
  await page.fill("#chat-input", "hi there");
  await page.click("#chat-send");
  await page.waitForSelector(`#chat-log :text('hello from ${slug}')`);
  check(chatBody.model === "claw" && chatBody.messages.length === 1 && chatBody.messages[0].content === "hi there",
    "chat request: " + JSON.stringify(chatBody));
  await page.fill("#chat-input", "and again");
  await page.click("#chat-send");
  await page.waitForFunction(() => document.querySelectorAll("#chat-log .say.assistant").length === 2);
  check(chatBody.messages.length === 3, "the conversation is sent along");
  await page.screenshot({ path: join(shots, "chat.png"), fullPage: true });
  await page.fill("#chat-input", "fail");
  await page.click("#chat-send");
  await page.waitForSelector("#flash .msg.error");
  check((await page.textContent("#flash")).includes("resume it first"), "chat error shown");
  await page.unroute("**/v1/tenants/*/chat/models");
  await page.unroute("**/v1/tenants/*/chat/completions");

  step("plans and quotas: set with a plan, listed; a bad one refused by the page, a huge one by the API");
  await page.click('#nav a[data-nav="plans"]');
  await page.waitForSelector("#plans-table :text-is('default')");
  check((await page.textContent("#plans-table tr:has-text('default')")).includes("no limit"), "no quota: no limit");
  const quotaPlan = "quota-ok-" + process.pid;
  await createPlan({ name: quotaPlan, cpus_milli: "500", memory_mb: "256", pids: "64", turns_per_day: "ten" });
  await page.waitForSelector("#flash .msg.error");
  check((await page.textContent("#flash")).includes("turns_per_day must be a whole number"),
    "bad quota refused in the page");
  await createPlan({ turns_per_day: "50", tokens_per_month: "100000" });
  const quotaRow = await planListed(quotaPlan);
  check(quotaRow.includes("50") && quotaRow.includes("100k"), "quotas listed: " + quotaRow);
  await page.screenshot({ path: join(shots, "plans-quotas.png"), fullPage: true });
  await createPlan({ name: "quota-huge-" + process.pid, cpus_milli: "500", memory_mb: "256", pids: "64",
    turns_per_day: "9000000000000000" });
  await page.waitForSelector("#flash .msg.error");
  const huge = await page.textContent("#flash");
  check(huge.includes("HTTP 422"), "a huge quota refused by the API: " + huge);


  step("issue a tenant token: shown once; then revoke it");
  await page.click('#nav a[data-nav="tokens"]');
  await page.waitForSelector("#token-role");
  await page.selectOption("#token-role", "tenant");
  await page.fill("#token-tenant", slug);
  await page.fill("#token-name", "e2e-ci");
  await page.click("#issue-token");
  await page.waitForSelector("#new-token");
  const issued = (await page.textContent("#new-token")).trim();
  check(issued.length >= 20, "token shown: " + issued);
  await page.waitForSelector("#tokens-table :text-is('e2e-ci')");
  check(!(await page.textContent("#tokens-table")).includes(issued), "token absent from the list");
  await page.screenshot({ path: join(shots, "tokens.png"), fullPage: true });
  page.once("dialog", (d) => d.accept());
  await page.click("#tokens-table tr:has-text('e2e-ci') button");
  await page.waitForSelector("#flash :text('revoked')");
  // the list is read again after the flash: wait for the new rows
  await page.waitForSelector("#tokens-table tr:has-text('e2e-ci'):not(:has(button))");
  const revoked = await page.textContent("#tokens-table tr:has-text('e2e-ci')");
  check(!revoked.includes("Revoke"), "revoked row has no revoke button: " + revoked);

  // ---- agent setup (issue 18): channels, persona, model, tools on a
  // tenant of their own, deployed through the API first so that each
  // change answers redeploy_required.
  const setupSlug = "setup-" + process.pid;
  const tgToken = "123456789:AAF-never-shown-" + "x".repeat(20) + process.pid;
  const setupTenant = await apiCall("POST", "/v1/tenants", { slug: setupSlug, name: "Setup Corp" });
  check(setupTenant.status === 201, "setup tenant created: " + setupTenant.status);
  const setupBase = "/v1/tenants/" + setupTenant.json.id;
  const firstDeploy = await apiCall("POST", setupBase + "/deploy", {});
  check(firstDeploy.status === 202, "setup tenant deployed: " + firstDeploy.status);

  step("channels: a Telegram token of the wrong shape is refused with its field, nothing stored");
  await page.goto(url + "/#/tenants/" + setupSlug);
  await page.waitForSelector("#channel-form");
  await page.waitForSelector("#channels-list table");
  await page.selectOption("#channel-kind", "telegram");
  await formFill("#channel-form", { "settings.mode": "webhook", "credentials.bot_token": "12:short" });
  await page.click("#channel-save");
  await page.waitForSelector('#channel-form .field-error[data-field="credentials.bot_token"]');
  check(await page.getAttribute('#channel-form [name="credentials.bot_token"]', "aria-invalid") === "true",
    "the refused field is marked");
  const refusal = await page.textContent("#flash");
  check(refusal.includes("credentials.bot_token") && refusal.includes("invalid_field, HTTP 422"),
    "the 422 shown with its field: " + refusal);
  check((await page.inputValue('#channel-form [name="credentials.bot_token"]')) === "",
    "the credential input cleared");
  check((await apiCall("GET", setupBase + "/channels")).json.items.length === 0, "nothing stored");
  await page.screenshot({ path: join(shots, "setup-422.png"), fullPage: true });

  step("channels: connect a Telegram bot; the redeploy banner, then the webhook URL");
  await formFill("#channel-form", { "credentials.bot_token": tgToken,
    "credentials.webhook_secret": "hook-secret-" + process.pid });
  await page.click("#channel-save");
  await page.waitForSelector("#channels-list td strong:text-is('telegram')");
  check((await page.$$('#channel-form .field-error')).length === 0, "the earlier mark is gone");
  const saved = await page.textContent("#flash");
  check(saved.includes("telegram_bot_token") && saved.includes("telegram_webhook_secret"),
    "credentials stored as secrets: " + saved);
  check(!(await page.content()).includes(tgToken), "the bot token is nowhere in the page");
  check((await page.textContent('[data-conn="telegram"]')) === "unknown", "connection state unknown");
  await page.waitForSelector("td:text-is('telegram_bot_token')"); // the secrets list, redrawn
  await page.waitForSelector("#redeploy-now");
  // The redeploy composes the tenant's resources: the stored channel is
  // in the deployed gateway config, so its webhook URL is listed.
  await page.click("#redeploy-now");
  await page.waitForSelector('#deploy-progress [data-phase="healthy"]', { timeout: 60000 });
  const hook = "https://" + setupSlug + ".claw.test/telegram/webhook";
  await page.waitForSelector(`code.webhook[data-kind="telegram"]:text-is('${hook}')`);
  // the connection state the node reported for the deployed channel
  // (the tab opened again reads the list anew)
  await page.click("#tab-channels-btn");
  await page.waitForSelector('[data-conn="telegram"]:text-is("webhook")');
  await page.screenshot({ path: join(shots, "channels.png"), fullPage: true });

  step("persona: two versions listed, a line diff between the first and the edit");
  await page.click("#tab-persona-btn");
  await page.waitForSelector("#persona-versions table");
  await page.fill("#persona-soul", "You are Ada.\nBe brief.\nAnswer in English.\n<img id=xss-soul src=x>");
  await page.click("#persona-save");
  await page.waitForSelector('#persona-versions [data-version="1"]');
  await page.waitForSelector("#redeploy-now");
  await page.fill("#persona-soul", "You are Ada.\nBe kind and brief.\nAnswer in English.\n<img id=xss-soul src=x>\nSign with A.");
  await page.click("#persona-save");
  await page.waitForSelector('#persona-versions [data-version="2"]');
  await page.click('#persona-versions [data-diff="1"]');
  await page.waitForSelector("#persona-diff");
  const sum = await page.textContent("#persona-diff-sum");
  check(sum.startsWith("+2 −1"), "diff counts: " + sum);
  const del = await page.$$eval("#persona-diff .dl.del", (e) => e.map((x) => x.textContent));
  const add = await page.$$eval("#persona-diff .dl.add", (e) => e.map((x) => x.textContent));
  check(JSON.stringify(del) === JSON.stringify(["- Be brief."]), "removed: " + JSON.stringify(del));
  check(JSON.stringify(add) === JSON.stringify(["+ Be kind and brief.", "+ Sign with A."]),
    "added: " + JSON.stringify(add));
  check(await page.$("#xss-soul") === null, "the persona's markup shown as text");
  // the diff is bounded: past 4e6 cells the differing part is shown
  // removed, then added, instead of an LCS table of that size
  const big = await page.evaluate(() => {
    const a = Array.from({ length: 3000 }, (_, i) => "line " + i);
    const d = lineDiff(["head"].concat(a, ["tail"]), ["head"].concat(a.map((x) => x + "!"), ["tail"]));
    const small = lineDiff(["a", "b", "c"], ["a", "c", "d"]).map((x) => x.op + x.line).join(",");
    return [d.coarse, d.length, d[0].op, d[d.length - 1].op, small];
  });
  check(JSON.stringify(big) === JSON.stringify([true, 6002, " ", " ", " a,-b, c,+d"]), "bounded diff: " + big);
  await page.screenshot({ path: join(shots, "persona.png"), fullPage: true });
  // the banner's Redeploy: a new deployment, followed to healthy (which
  // persona it runs is up to the deploy's composition, not this page)
  await page.click("#redeploy-now");
  await page.waitForSelector("#deployments tbody tr:nth-child(3) [data-phase='healthy']", { timeout: 60000 });
  check(await page.isHidden("#redeploy-banner"), "the banner is gone after the redeploy");

  step("model: a URL that is not http(s) refused by field; saved; Test this key");
  await page.click("#tab-model-btn");
  await page.waitForSelector("#model-form");
  await formFill("#model-form", { kind: "openai", base_url: "ftp://models.example.com", model: "gpt-4o-mini",
    api_key: canary });
  await page.click("#model-save");
  await page.waitForSelector('#model-form .field-error[data-field="base_url"]');
  check((await page.inputValue('#model-form [name="api_key"]')) === "", "the key input cleared");
  check((await apiCall("GET", setupBase + "/model")).status === 404, "no model stored");
  await formFill("#model-form", { base_url: "https://api.example.com/v1", api_key: canary });
  await page.click("#model-save");
  await page.waitForSelector("#flash :text('model_api_key')");
  check((await page.inputValue('#model-form [name="api_key_secret"]')) === "model_api_key",
    "the key is named, never shown");
  // the real relay: the deployed gateway has no openai channel
  await page.click("#key-test-run");
  await page.waitForSelector('#key-test [data-result="chat_no_openai"]');
  check((await page.textContent("#key-test")).includes("connect the openai channel"),
    "the refusal says what to do");
  // a deployed tenant that answers: this tree's fake node runs no agent, so
  // the relay's answers are the test's (page.route)
  await page.route("**/v1/tenants/*/chat/models", (route) => route.fulfill({ status: 200,
    contentType: "application/json", body: JSON.stringify({ object: "list", data: [{ id: "claw" }] }) }));
  let keyTestBody = null;
  await page.route("**/v1/tenants/*/chat/completions", (route) => {
    keyTestBody = JSON.parse(route.request().postData());
    route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({
      object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: "p" } }] }) });
  });
  await page.click("#key-test-run");
  await page.waitForSelector('#key-test [data-result="ok"]');
  check(/answered in \d+ ms/.test(await page.textContent("#key-test")), "latency shown");
  check(keyTestBody.max_tokens === 1 && keyTestBody.messages.length === 1 && keyTestBody.model === "claw",
    "one tiny call: " + JSON.stringify(keyTestBody));
  await page.unroute("**/v1/tenants/*/chat/models");
  await page.unroute("**/v1/tenants/*/chat/completions");
  await page.screenshot({ path: join(shots, "model.png"), fullPage: true });

  step("tools: a secret the tenant lacks refused; a server added, listed, removed");
  await page.click("#tab-tools-btn");
  await page.waitForSelector("#tools-list table");
  await formFill("#tool-form", { "tool name": "search", "tool url": "https://mcp.example.com/mcp",
    "tool secrets": "Authorization=SEARCH_TOKEN" });
  await page.click("#tool-add");
  await page.waitForSelector("#flash :text('missing_secrets')");
  await page.fill('#tool-form [aria-label="tool secrets"]', "");
  await page.click("#tool-add");
  await page.waitForSelector('#tools-list [data-remove-tool="search"]');
  await page.screenshot({ path: join(shots, "tools.png"), fullPage: true });
  page.once("dialog", (d) => d.accept());
  await page.click('#tools-list [data-remove-tool="search"]');
  await page.waitForSelector("#tools-list :text('no tools')");
  check(!(await page.content()).includes(canary), "the model key is nowhere in the page");

  step("tools: a sandboxed server, redeployed, shown as its node reports it");
  await formFill("#tool-form", { "tool name": "files", "tool image": "registry.test/claw/mcp/fs:1" });
  await page.click("#tool-add");
  await page.waitForSelector('#tools-list [data-remove-tool="files"]');
  const deps = async () => ((await apiCall("GET", setupBase + "/deployments")).json.items || []);
  const known = new Set((await deps()).map((d) => d.id));
  await page.click("#redeploy-now");
  // the new deployment, followed through the API (the page's own
  // progress line may still show the previous one)
  for (let i = 0; ; i++) {
    const fresh = (await deps()).filter((d) => !known.has(d.id));
    if (fresh.length && fresh[0].phase === "healthy") break;
    check(i < 120, "the redeploy with the tool server became healthy");
    await page.waitForTimeout(500);
  }
  await page.reload();
  await page.waitForSelector('[data-tool-server="files"]:text-is("files: ready")', { timeout: 30000 });
  await page.screenshot({ path: join(shots, "tool-servers.png"), fullPage: true });

  check(urlsWithToken.length === 0, "the token in no URL: " + urlsWithToken.length);
  step("sign out forgets the token");
  await page.click("#signout");
  await page.waitForSelector("#token");
  check(await page.evaluate(() => sessionStorage.getItem("claw.token") === null), "token removed");
  // expected: the wrong token's 401, the duplicate's 409, the placement
  // of a tenant not deployed yet (404), the refused plan and base URL
  // (422), the chat's refusal answered by the test (503), and a stream
  // cut by chromium when the machine's networks change (another test's
  // containers; the page reconnects, and every step above still passed);
  // anything else is a script error
  check(consoleErrors.filter((e) => !/status of (4(0[149]|22)|503) |net::ERR_NETWORK_CHANGED/.test(e))
    .length === 0,
    "no script errors: " + consoleErrors.join(" | "));
  console.log("dashboard e2e: all steps passed");
} catch (e) {
  status = 1;
  console.error("FAILED: " + e.message);
  try {
    await page.screenshot({ path: join(shots, "failure.png"), fullPage: true });
    console.error("page text: " + (await page.textContent("body")).slice(0, 2000));
  } catch (e2) {
    console.error("no screenshot: " + e2.message);
  }
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(status);
