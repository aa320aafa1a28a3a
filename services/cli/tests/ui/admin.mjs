// An admin's dashboard: signs in, starts the next iteration of iteration 1 with its button and
// sees iteration 2 listed, then settles the one disputed prefix as math. Prints JSON. Usage: node admin.mjs BASE_URL ADMIN_TOKEN SHOTS_DIR
import { join } from "node:path";
import { launch, fail, checkContrast } from "./browser.mjs";

const [base, token, shots] = process.argv.slice(2);
const context = await launch({ width: 1280, height: 700 });
try {
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(base + "/ui/login");
  await page.fill("#token", token);
  await page.click("button[type=submit]");
  await page.waitForSelector("#iterations");
  // The start form refuses a body naming a file that is not there, and says which field.
  await page.click("details#start summary");
  await page.fill("#start-form textarea", JSON.stringify({ input: ["/nonexistent/*.warc.gz"], model: "/nonexistent/m.bin" }));
  await page.click("#start-form button[type=submit]");
  await page.waitForFunction(() => document.getElementById("action-status").textContent.startsWith("input:"));
  const next = page.locator("button[data-action='/api/v1/iterations/1/next']");
  if ((await next.count()) !== 1) fail("an admin sees the next-iteration button of a done iteration");
  await next.click();
  await page.waitForSelector("#iterations a[href='/ui/iterations/2']", { timeout: 30000 });
  const state = await page.textContent("#iterations tbody tr:first-child .state");
  await page.screenshot({ path: join(shots, "dashboard-admin.png"), fullPage: true });
  await checkContrast(page, "the admin's dashboard");
  // One disputed prefix, settled as math with its button.
  await page.goto(base + "/ui/disputes");
  await page.waitForSelector("#disputes");
  if ((await page.locator("#disputes tbody tr").count()) !== 1) fail("one disputed prefix is listed");
  if (!(await page.textContent("#agreement"))?.includes("ada")) fail("the agreement table names the annotators");
  await page.screenshot({ path: join(shots, "disputes.png"), fullPage: true });
  await checkContrast(page, "the disputes page");
  await page.click("#disputes button[data-label=math]");
  await page.waitForFunction(() => !document.querySelector("#disputes"));
  // The dashboard follows iteration 2 as it runs: its row's state and shards, read on each reload,
  // move until it is done; then its page charts retention across the chain.
  const seen = [];
  for (let i = 0; i < 600; i++) {
    await page.goto(base + "/ui/iterations");
    const row = page.locator("#iterations tbody tr", { has: page.locator("a[href='/ui/iterations/2']") });
    const now = (await row.locator(".state").textContent()) + " " + (await row.locator("td:nth-child(4)").innerText()).replace(/\s+/g, " ");
    if (seen[seen.length - 1] !== now) seen.push(now);
    if (/awaiting_annotation|complete/.test(now)) break;
    if (/failed|cancelled/.test(now)) fail("iteration 2 ended " + now);
    await page.waitForTimeout(100);
  }
  if (seen.length < 2 || !/awaiting_annotation|complete/.test(seen[seen.length - 1])) fail("the dashboard shows iteration 2 move to done: " + JSON.stringify(seen));
  await page.goto(base + "/ui/iterations/2");
  await page.waitForSelector("#convergence circle");
  await page.screenshot({ path: join(shots, "chain.png") });
  await checkContrast(page, "the convergence chart");
  // Keyboard alone: 50 labels on iteration 1's second host, each timed from the key press to the
  // label stored (the UI's own latency per key press).
  await page.goto(base + "/ui/iterations/1");
  await page.click("#proposals tbody tr:nth-child(2) td:first-child a");
  await page.waitForSelector("#paths");
  const ms = [];
  for (let i = 0; i < 50; i++) {
    const before = Number((await page.getAttribute("body", "data-saved")) || 0);
    const t = performance.now();
    await page.keyboard.press(i % 2 ? "n" : "m");
    await page.waitForFunction((b) => Number(document.body.dataset.saved || 0) > b, before);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const total = ms.reduce((a, b) => a + b, 0);
  console.log(JSON.stringify({ second: 2, state, progress: seen, labels: ms.length, total_ms: total, p50_ms: ms[24], p99_ms: ms[49] }));
} finally {
  await context.close();
}
