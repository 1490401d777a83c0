// dashboard.mjs - drives Debian's chromium (headless, through
// playwright-core) against a running control plane that serves the
// dashboard: sign in with a pasted token, create a tenant, see it listed,
// define a plan on the Plans page, set the tenant's bounds (plan, egress,
// self-pause, node labels, channel base URLs) with its bounds form, set a
// secret (its value never shown), deploy it with one click and watch it
// reach healthy, suspend and resume it, redeploy it with a git workspace
// (resolving, then the pinned commit), see the node, see the audit rows
// and verify the chain (and how a failed checkpoint is shown), issue and
// revoke a token, sign out. The test that runs this plays the node
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

function step(name) {
  console.log("step: " + name);
}

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
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
  await page.fill("#plan-name", plan);
  await page.fill("#plan-cpus_milli", "500");
  await page.fill("#plan-memory_mb", "256");
  await page.fill("#plan-pids", "128");
  await page.fill("#plan-disk_mb", "1024");
  await page.click("#create-plan");
  await page.waitForSelector(`#plans-table :text-is('${plan}')`);
  const planRow = await page.textContent(`#plans-table tr:has-text('${plan}')`);
  check(planRow.includes("1024") && planRow.includes("128"), "plan row: " + planRow);
  check((await page.textContent("#flash")).includes("plan " + plan + " created"), "plan created flash");
  await page.fill("#plan-name", "Bad_Name");
  await page.fill("#plan-cpus_milli", "500");
  await page.fill("#plan-memory_mb", "256");
  await page.fill("#plan-pids", "128");
  await page.click("#create-plan");
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
  const revoked = await page.textContent("#tokens-table tr:has-text('e2e-ci')");
  check(!revoked.includes("Revoke"), "revoked row has no revoke button: " + revoked);

  step("sign out forgets the token");
  await page.click("#signout");
  await page.waitForSelector("#token");
  check(await page.evaluate(() => sessionStorage.getItem("claw.token") === null), "token removed");
  // expected: the wrong token's 401, the duplicate's 409, the placement
  // of a tenant not deployed yet (404), the refused plan and base URL
  // (422); anything else is a script error
  check(consoleErrors.filter((e) => !/status of 4(0[149]|22) /.test(e)).length === 0,
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
