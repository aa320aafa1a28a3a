// Signs in to the web UI with a token, opens the first proposed host of iteration 1 and labels
// two prefixes with the keyboard (m, then n), as an annotator would. Prints what it labelled as
// JSON; screenshots go to SHOTS. Usage: node annotate.mjs BASE_URL TOKEN SHOTS_DIR
import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, token, shots] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), "cm-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 900 },
});
const fail = (msg) => { console.error(msg); process.exit(1); };
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base + "/ui/iterations");
  if (!page.url().endsWith("/ui/login")) fail("without a session the UI asks to sign in, got " + page.url());
  await page.fill("#token", "cm_not-a-token");
  await page.click("button[type=submit]");
  if (!(await page.textContent("p.error"))?.includes("Unknown or revoked")) fail("a wrong token is refused");
  await page.fill("#token", token);
  await page.click("button[type=submit]");
  await page.waitForSelector("#iterations");
  await page.screenshot({ path: join(shots, "iterations.png"), fullPage: true });
  await page.click("#iterations a[href='/ui/iterations/1']");
  await page.waitForSelector("#proposals");
  const host = await page.textContent("#proposals tbody tr:first-child td:first-child a");
  await page.click("#proposals tbody tr:first-child td:first-child a");
  await page.waitForSelector("#paths");
  const selected = () => page.getAttribute("tr.prefix.selected", "data-prefix");
  const first = await selected();
  await page.keyboard.press("m");
  await page.waitForFunction((p) => document.querySelector(`tr.prefix[data-prefix="${p}"]`)?.dataset.label === "math", first);
  const second = await selected();
  if (second === first) fail("after a label the next unlabelled prefix is selected");
  await page.keyboard.press("n");
  await page.waitForFunction((p) => document.querySelector(`tr.prefix[data-prefix="${p}"]`)?.dataset.label === "nonmath", second);
  await page.keyboard.press("?");
  if (!(await page.isVisible("#help"))) fail("? opens the help");
  await page.screenshot({ path: join(shots, "host-help.png"), fullPage: true });
  await page.keyboard.press("Escape");
  await page.screenshot({ path: join(shots, "host.png"), fullPage: true });
  // A page's text, from a sample link.
  await page.click("tr.prefix td:last-child a >> nth=0");
  await page.waitForSelector("pre.text, p.muted");
  await page.screenshot({ path: join(shots, "page.png"), fullPage: true });
  if (errors.length) fail("script errors: " + errors.join("; "));
  console.log(JSON.stringify({ host, labelled: [[first, "math"], [second, "nonmath"]] }));
} finally {
  await context.close();
}
