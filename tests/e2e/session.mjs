// session.mjs - what the dashboard's smaller browser scripts share
// (approvals.mjs, connect.mjs, persona_chat.mjs): Debian's chromium,
// headless through playwright-core, in a throwaway profile; signed in with
// the admin token; the page's script errors collected; a failure's
// screenshot taken and the exit status set.
//
// usage: await run(NAME, usageText, argc, async ({ page, browser, url,
//   shots, args, check }) => { ... })
// env: CHROMIUM (default /usr/bin/chromium)
import { chromium } from "playwright-core";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const check = (cond, what) => { if (!cond) throw new Error("check failed: " + what); };

// argv: URL TOKEN_FILE SCREENSHOT_DIR and argc more; steps get them.
export async function run(name, usage, argc, steps) {
  const argv = process.argv.slice(2);
  if (argv.length < 3 + argc) {
    console.error("usage: node " + name + ".mjs URL TOKEN_FILE SCREENSHOT_DIR " + usage);
    process.exit(2);
  }
  const [url, tokenFile, shots, ...args] = argv;
  const token = readFileSync(tokenFile, "utf8").trim();
  const profile = mkdtempSync(join(tmpdir(), "claw-e2e-" + name + "-"));
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
    console.log("step: sign in");
    await page.goto(url + "/", { waitUntil: "load" });
    await page.fill("#token", token);
    await page.click("#signin");
    await page.waitForSelector("#tenants-table");
    await steps({ page, browser, url, shots, args, check });
    check(errors.length === 0, "no page errors: " + errors.join("; "));
  } catch (e) {
    console.error(String(e && e.stack || e));
    await page.screenshot({ path: join(shots, name + "-failure.png"), fullPage: true }).catch(() => {});
    status = 1;
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
  process.exit(status);
}
