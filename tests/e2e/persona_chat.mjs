// persona_chat.mjs - the dashboard's persona editor changes what the
// tenant says, in Debian's chromium (headless, through playwright-core),
// against the real stack of test_dashboard_persona_chat.py (control
// plane, node agent, Caddy, the tenant's real gateway and runtime, the
// scripted LLM): the chat panel asks "show system prompt" and sees the
// first persona; the Persona tab saves a new one and the banner's
// Redeploy rolls it out; the same question in the chat panel then shows
// the new persona.
//
// usage: node persona_chat.mjs URL TOKEN_FILE SCREENSHOT_DIR SLUG SOUL_ONE SOUL_TWO
import { join } from "node:path";
import { run } from "./session.mjs";

/* Ask the chat panel for the system prompt until an answer naming soul
 * comes (the first answers of a fresh pair may still be the old one's
 * while the edge switches); the number of answers seen. */
async function askUntil(page, soul, seen) {
  for (let i = 0; i < 10; i++) {
    await page.fill("#chat-input", "show system prompt");
    await page.click("#chat-send");
    seen += 1;
    await page.waitForFunction((n) => document.querySelectorAll("#chat-log .say.assistant").length >= n,
      seen, { timeout: 60000 });
    const last = await page.$$eval("#chat-log .say.assistant", (e) => e[e.length - 1].textContent);
    if (last.includes("system: " + soul)) return seen;
    await page.waitForTimeout(1000);
  }
  throw new Error("check failed: the chat never showed the persona " + JSON.stringify(soul));
}

await run("persona-chat", "SLUG SOUL_ONE SOUL_TWO", 3, async ({ page, url, shots, args, check }) => {
  const [slug, one, two] = args;
  console.log("step: open the tenant; the chat shows the first persona");
  await page.goto(url + "/#/tenants/" + slug);
  await page.waitForSelector("#chat-panel:not([hidden]) #chat-model option", { state: "attached", timeout: 60000 });
  let seen = await askUntil(page, one, 0);
  await page.screenshot({ path: join(shots, "persona-chat-1.png"), fullPage: true });

  console.log("step: a new persona in the Persona tab, redeployed from the banner");
  await page.click("#tab-persona-btn");
  await page.waitForSelector("#persona-versions table");
  await page.fill("#persona-soul", two);
  await page.click("#persona-save");
  await page.waitForSelector('#persona-versions [data-version="2"]');
  await page.waitForSelector("#redeploy-now");
  await page.click("#redeploy-now");
  await page.waitForSelector('#deploy-progress [data-phase="healthy"]', { timeout: 120000 });

  console.log("step: the same question; the chat shows the new persona");
  seen = await askUntil(page, two, seen);
  const all = await page.$$eval("#chat-log .say.assistant", (e) => e.map((x) => x.textContent));
  check(all.some((t) => t.includes("system: " + one)), "the first persona was answered before");
  await page.screenshot({ path: join(shots, "persona-chat-2.png"), fullPage: true });
});
