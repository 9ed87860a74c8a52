// A signed-in browser opens a page a guest serves: signs headless Chromium (Debian's, through
// playwright-core) in to the data browser, checks the browser works, then opens ATTACK_URL (a
// hostile page, tests/node/attack_page.html, stored and served by a guest) in the same browser and
// prints, as the last line, {"signed_in": bool, "attempts": [...]}: what the page's script got.
// The credentials are answered to any origin that asks for them, the worst case for the server.
//
// usage: node browser_attack.mjs BROWSER_URL ATTACK_URL API_TOKEN

import { chromium } from "playwright-core";

const [browserBase, attackUrl, token] = process.argv.slice(2);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const context = await browser.newContext({ httpCredentials: { username: "edgekv", password: token } });
  const ui = await context.newPage();
  await ui.goto(`${browserBase}/_edgekv/`);
  await ui.locator("#namespaces tr").first().waitFor({ timeout: 30000 });
  const signedIn = (await ui.locator("#namespaces tr").count()) > 0;

  const page = await context.newPage();
  await page.goto(attackUrl);
  await page.waitForFunction(() => document.title === "done", null, { timeout: 120000 });
  const attempts = JSON.parse(await page.locator("#report").textContent());
  console.log(JSON.stringify({ signed_in: signedIn, attempts }));
} finally {
  await browser.close();
}
