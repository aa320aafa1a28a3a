// Signs in to the web UI with a token, opens the first proposed host of iteration 1 and labels
// two prefixes with the keyboard (m, then n), as an annotator would. Prints what it labelled as
// JSON; screenshots go to SHOTS; MATH_PAGE (a page with formulas) must show them as MathML.
// Usage: node annotate.mjs BASE_URL TOKEN SHOTS_DIR MATH_PAGE
import { join } from "node:path";
import { launch, fail, checkContrast } from "./browser.mjs";

const [base, token, shots, mathPage] = process.argv.slice(2);
const context = await launch({ width: 1280, height: 900 });
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(base + "/ui/iterations");
  if (!page.url().endsWith("/ui/login")) fail("without a session the UI asks to sign in, got " + page.url());
  await page.fill("#token", "cm_not-a-token");
  await page.click("button[type=submit]");
  if (!(await page.textContent("p.error"))?.includes("Unknown or revoked")) fail("a wrong token is refused");
  await checkContrast(page, "the sign-in page with its error");
  // By keyboard: the token field has the focus, Enter signs in.
  if (!(await page.evaluate(() => document.activeElement?.id === "token"))) fail("the sign-in page focuses the token field");
  await page.keyboard.type(token);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#iterations");
  await checkContrast(page, "the dashboard");
  await page.screenshot({ path: join(shots, "iterations.png"), fullPage: true });
  await page.click("#iterations a[href='/ui/iterations/1']");
  await page.waitForSelector("#proposals");
  await checkContrast(page, "the iteration page");
  const host = await page.textContent("#proposals tbody tr:first-child td:first-child a");
  await page.click("#proposals tbody tr:first-child td:first-child a");
  await page.waitForSelector("#paths");
  await checkContrast(page, "the host page");
  const selected = () => page.getAttribute("tr.prefix.selected", "data-prefix");
  const first = await selected();
  const t0 = performance.now();
  await page.keyboard.press("m");
  await page.waitForFunction((p) => document.querySelector(`tr.prefix[data-prefix="${p}"]`)?.dataset.label === "math", first);
  const keyMs = [performance.now() - t0];
  const second = await selected();
  if (second === first) fail("after a label the next unlabelled prefix is selected");
  const t1 = performance.now();
  await page.keyboard.press("n");
  await page.waitForFunction((p) => document.querySelector(`tr.prefix[data-prefix="${p}"]`)?.dataset.label === "nonmath", second);
  keyMs.push(performance.now() - t1);
  // Undo takes the label back and selects its prefix again; label it again.
  await page.keyboard.press("u");
  await page.waitForFunction((p) => document.querySelector(`tr.prefix[data-prefix="${p}"]`)?.dataset.label === "", second);
  if ((await selected()) !== second) fail("undo selects the prefix it took the label from");
  await page.keyboard.press("n");
  await page.waitForFunction((p) => document.querySelector(`tr.prefix[data-prefix="${p}"]`)?.dataset.label === "nonmath", second);
  await page.keyboard.press("?");
  if (!(await page.isVisible("#help"))) fail("? opens the help");
  await page.screenshot({ path: join(shots, "host-help.png"), fullPage: true });
  await checkContrast(page, "the host page's help");
  await page.keyboard.press("Escape");
  await page.screenshot({ path: join(shots, "host.png"), fullPage: true });
  await checkContrast(page, "the host page with labels");
  // A page's text, from a sample link.
  await page.click("tr.prefix td:last-child a >> nth=0");
  await page.waitForSelector("div.text, p.muted");
  await page.screenshot({ path: join(shots, "page.png"), fullPage: true });
  await checkContrast(page, "a page's text");
  // A page with formulas: rendered as MathML and laid out by the browser (boxes with height).
  await page.goto(base + mathPage);
  await page.waitForSelector("div.text");
  await page.screenshot({ path: join(shots, "math.png") });
  await checkContrast(page, "a page with formulas");
  const mathElements = await page.locator("div.text math").count();
  const laidOut = await page.evaluate(() => Array.from(document.querySelectorAll("div.text math")).filter((m) => m.getBoundingClientRect().height > 0).length);
  if (mathElements === 0 || laidOut === 0) fail(`formulas are laid out as MathML: ${mathElements} math elements, ${laidOut} with a height`);
  if (errors.length) fail("script errors: " + errors.join("; "));
  console.log(JSON.stringify({ host, labelled: [[first, "math"], [second, "nonmath"]], math_elements: mathElements, key_ms: keyMs }));
} finally {
  await context.close();
}
