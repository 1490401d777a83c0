// approvals.mjs - the dashboard's Approvals view in Debian's chromium
// (headless, through playwright-core) against a running control plane
// whose fake node plays the tenants' runtimes (test_dashboard_approvals.py):
// sign in, open Approvals, see the fleet's pending request of SLUG with
// its redacted arguments, approve it with a reason (the prompt), see the
// decision flashed and the row gone; the tenant filter; a second decision
// of the same request refused with the runtime's 409 shown.
//
// usage: node approvals.mjs URL TOKEN_FILE SCREENSHOT_DIR SLUG APPROVAL_ID
import { join } from "node:path";
import { run } from "./session.mjs";

await run("approvals", "SLUG APPROVAL_ID", 2, async ({ page, shots, args, check }) => {
  const [slug, id] = args;
  console.log("step: open Approvals");
  await page.click('#nav a[data-nav="approvals"]');
  const row = `#approvals-table tr:has(button[data-approval="${id}"])`;
  await page.waitForSelector(row);
  const text = await page.textContent(row);
  check(text.includes(slug) && text.includes("shell.exec"), "the row: " + text);
  check(text.includes("[redacted]"), "arguments shown redacted: " + text);
  await page.screenshot({ path: join(shots, "approvals.png"), fullPage: true });

  console.log("step: approve with a reason");
  page.once("dialog", (d) => d.accept("checked by e2e"));
  await page.click(`${row} button[data-decision="approve"]`);
  await page.waitForSelector("#flash .msg");
  const flashed = await page.textContent("#flash");
  check(flashed.includes(id) && flashed.includes("approved"), "flash: " + flashed);
  await page.waitForSelector(row, { state: "detached" });

  console.log("step: one tenant's list; a second decision is refused (409)");
  await page.fill("#approvals-tenant", slug);
  await page.click("form.row button[type=submit]");
  await page.waitForFunction(() => location.hash.startsWith("#/approvals?tenant="));
  await page.waitForSelector("#approvals-table");
  const r = await page.evaluate(async ([s, a]) => {
    const resp = await fetch("/v1/tenants/" + s + "/approvals/" + a, {
      method: "POST", headers: { "Content-Type": "application/json",
        Authorization: "Bearer " + sessionStorage.getItem("claw.token") },
      body: JSON.stringify({ decision: "deny" }) });
    return [resp.status, (await resp.json()).error.code];
  }, [slug, id]);
  check(r[0] === 409 && r[1] === "approval_decided", "second decision: " + r);
});
