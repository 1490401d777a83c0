// connect.mjs - the dashboard's OAuth "Connect" of a tenant's remote MCP
// server, in Debian's chromium (headless, through playwright-core),
// against test_dashboard_connect.py's control plane and local OAuth
// server: the Tools tab shows Connect for the server with oauth; the
// click opens the authorization page in a window of its own, which the
// authorization server sends back to the control plane's callback; the
// tab follows the flow and says it is connected.
//
// usage: node connect.mjs URL TOKEN_FILE SCREENSHOT_DIR SLUG SERVER
import { join } from "node:path";
import { run } from "./session.mjs";

await run("connect", "SLUG SERVER", 2, async ({ page, browser, url, shots, args, check }) => {
  const [slug, server] = args;
  console.log("step: open the tenant's Tools tab");
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
});
