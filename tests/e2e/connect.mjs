// connect.mjs - the dashboard's OAuth "Connect" of a tenant's remote MCP
// server, in Debian's chromium (headless, through playwright-core),
// against test_dashboard_connect.py's control plane and local OAuth
// server: the Tools tab shows Connect for the server with oauth; the
// click opens the authorization page in a window of its own, which the
// authorization server sends back to the control plane's callback; the
// tab follows the flow and says it is connected.
//
// usage: node connect.mjs URL TOKEN_FILE SCREENSHOT_DIR SLUG SERVER
// env: CHROMIUM (default /usr/bin/chromium)
import { chromium } from "playwright-core";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, tokenFile, shots, slug, server] = process.argv.slice(2);
if (!server) {
  console.error("usage: node connect.mjs URL TOKEN_FILE SCREENSHOT_DIR SLUG SERVER");
  process.exit(2);
}
const token = readFileSync(tokenFile, "utf8").trim();
const profile = mkdtempSync(join(tmpdir(), "claw-e2e-connect-"));
const check = (cond, what) => { if (!cond) throw new Error("check failed: " + what); };
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = browser.pages()[0] || await browser.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
let status = 0;
try {
  console.log("step: sign in, open the tenant's Tools tab");
  await page.goto(url + "/", { waitUntil: "load" });
  await page.fill("#token", token);
  await page.click("#signin");
  await page.waitForSelector("#tenants-table");
  await page.goto(url + "/#/tenants/" + slug);
  await page.click("#tab-tools-btn");
  const button = `#tools-list button[data-connect-tool="${server}"]`;
  await page.waitForSelector(button);

  console.log("step: Connect; the authorization window lands on the callback");
  const popup = browser.waitForEvent("page");
  await page.click(button);
  const auth = await popup;
  await auth.waitForLoadState("load");
  await auth.waitForFunction(() => document.body && /connected/i.test(document.body.innerText), null,
    { timeout: 30000 });
  check(auth.url().startsWith(url + "/v1/oauth/callback"), "the window ended on the callback: " + auth.url());
  await auth.screenshot({ path: join(shots, "connect-callback.png"), fullPage: true });

  console.log("step: the tab says it is connected");
  await page.waitForFunction((s) => /connected/.test(document.querySelector("#flash").innerText) &&
    document.querySelector("#flash").innerText.includes(s), server, { timeout: 30000 });
  const text = await page.textContent("#flash");
  check(text.includes("redeploy"), "the next step said: " + text);
  await page.screenshot({ path: join(shots, "connect.png"), fullPage: true });
  check(errors.length === 0, "no page errors: " + errors.join("; "));
} catch (e) {
  console.error(String(e && e.stack || e));
  await page.screenshot({ path: join(shots, "connect-failure.png"), fullPage: true }).catch(() => {});
  status = 1;
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(status);
