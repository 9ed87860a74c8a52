// Drives the data browser at BROWSER_URL/_edgekv/ in headless Chromium (Debian's, through
// playwright-core): list namespaces, page and search keys, open text / JSON / binary entries, edit
// with a stale ETag (refused), edit with the current one (saved), delete, checking each change
// through the Cloudflare API on BASE_URL (the main port). Screenshots go to OUT_DIR.
//
// usage: node browser_flow.mjs BASE_URL BROWSER_URL API_TOKEN CF_ACCOUNT_ID NAMESPACE_ID OUT_DIR
// Exits non-zero with a message on the first failed check.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import assert from "node:assert/strict";

const [base, browserBase, token, account, nsId, outDir] = process.argv.slice(2);
mkdirSync(outDir, { recursive: true });
const cf = `${base}/client/v4/accounts/${account}/storage/kv/namespaces/${nsId}/values/`;
const auth = { authorization: `Bearer ${token}` };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
let step = 0;
try {
  const context = await browser.newContext({ httpCredentials: { username: "edgekv", password: token }, viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const origins = new Set();
  page.on("request", (r) => origins.add(new URL(r.url()).origin));
  const shot = async (name) => page.screenshot({ path: `${outDir}/${String(++step).padStart(2, "0")}-${name}.png`, fullPage: true });
  const status = () => page.getByTestId("entry-status").textContent();

  await page.goto(`${browserBase}/_edgekv/`);
  const nsRow = page.locator(`#namespaces tr[data-id="${nsId}"]`);
  await nsRow.waitFor();
  const cells = await nsRow.locator("td").allTextContents();
  assert.equal(cells[0], "browse-me");
  assert.equal(cells[1], "cloudflare");
  assert.equal(cells[2], "63", "item count");
  await shot("namespaces");

  // Keys page 50 at a time; the next page brings the rest.
  await nsRow.click();
  await page.locator("#keys tr").first().waitFor();
  assert.equal(await page.locator("#keys tr").count(), 50);
  assert.ok(await page.getByTestId("more").isVisible());
  await page.getByTestId("more").click();
  await page.waitForFunction(() => document.querySelectorAll("#keys tr").length === 63);
  assert.ok(await page.getByTestId("more").isHidden());

  // Prefix search.
  await page.getByTestId("prefix").fill("user/0");
  await page.getByTestId("search").click();
  await page.waitForFunction(() => document.querySelectorAll("#keys tr").length === 10);
  const names = await page.locator("#keys tr td.key").allTextContents();
  assert.deepEqual(names, Array.from({ length: 10 }, (_, i) => `user/0${i}`));
  await shot("prefix-search");

  // JSON pretty-printed, metadata and content type shown.
  await page.getByTestId("prefix").fill("");
  await page.getByTestId("search").click();
  await page.locator('#keys tr[data-key="config"]').click();
  await page.getByTestId("entry-key").getByText("config").waitFor();
  assert.equal(await page.getByTestId("entry-view").textContent(), "json");
  assert.equal(await page.getByTestId("entry-value").textContent(), JSON.stringify({ a: 1, b: [true, null] }, null, 2));
  assert.deepEqual(JSON.parse(await page.getByTestId("entry-metadata").textContent()), { owner: "ops" });
  assert.equal(await page.locator("#e-ctype").textContent(), "application/json");
  await shot("json-entry");

  // Binary as hex.
  await page.locator('#keys tr[data-key="blob"]').click();
  await page.getByTestId("entry-key").getByText("blob").waitFor();
  assert.equal(await page.getByTestId("entry-view").textContent(), "hex");
  assert.ok((await page.getByTestId("entry-value").textContent()).startsWith("00000000  00 ff 10 80"));
  assert.ok(await page.getByTestId("edit").isDisabled());
  await shot("binary-entry");

  // Open greeting, then someone else writes it: the edit with the stale ETag is refused.
  await page.locator('#keys tr[data-key="greeting"]').click();
  await page.getByTestId("entry-key").getByText("greeting").waitFor();
  assert.equal(await page.getByTestId("entry-view").textContent(), "text");
  assert.equal(await page.getByTestId("entry-value").textContent(), "hello");
  const staleEtag = await page.getByTestId("entry-etag").textContent();
  const other = await fetch(cf + "greeting", { method: "PUT", headers: auth, body: "changed elsewhere" });
  assert.equal(other.status, 200);
  await page.getByTestId("edit").click();
  await page.getByTestId("edit-value").fill("from the browser (stale)");
  await page.getByTestId("save").click();
  await page.getByTestId("entry-status").getByText("Not saved").waitFor();
  assert.match(await status(), /conflict/);
  assert.equal(await (await fetch(cf + "greeting", { headers: auth })).text(), "changed elsewhere");
  await shot("stale-etag-refused");

  // Reopen: the current ETag saves.
  await page.locator('#keys tr[data-key="greeting"]').click();
  await page.getByTestId("entry-value").getByText("changed elsewhere").waitFor();
  assert.notEqual(await page.getByTestId("entry-etag").textContent(), staleEtag);
  await page.getByTestId("edit").click();
  await page.getByTestId("edit-value").fill("from the browser");
  await page.getByTestId("edit-metadata").fill('{"edited": true}');
  await page.getByTestId("save").click();
  await page.getByTestId("entry-status").getByText("Saved").waitFor();
  assert.equal(await (await fetch(cf + "greeting", { headers: auth })).text(), "from the browser");
  const meta = await (await fetch(`${base}/client/v4/accounts/${account}/storage/kv/namespaces/${nsId}/metadata/greeting`, { headers: auth })).json();
  assert.deepEqual(meta.result, { edited: true });
  await shot("saved");

  // Delete (two clicks), then it is gone everywhere.
  await page.getByTestId("delete").click();
  await page.getByTestId("confirm-delete").click();
  await page.getByTestId("entry-status").getByText("Deleted greeting").waitFor();
  assert.equal((await fetch(cf + "greeting", { headers: auth })).status, 404);
  assert.equal(await page.locator('#keys tr[data-key="greeting"]').count(), 0);
  await page.waitForFunction((id) => document.querySelector(`#namespaces tr[data-id="${id}"] td:nth-child(3)`)?.textContent === "62", nsId);
  await shot("deleted");

  // Nothing was loaded from anywhere but the browser's own listener.
  assert.deepEqual([...origins], [new URL(browserBase).origin]);
  console.log(`browser flow passed; ${step} screenshots in ${outDir}`);
} finally {
  await browser.close();
}
