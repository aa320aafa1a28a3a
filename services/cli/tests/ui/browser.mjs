// Debian's Chromium, headless, with a fresh profile and the flags this machine needs (no
// sandbox, no GPU, no background network, no component updates, no sync).
import { chromium } from "playwright-core";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function launch(viewport) {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "cm-chromium-")), {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport,
  });
}

export const fail = (msg) => { console.error(msg); process.exit(1); };

// WCAG 2.1 contrast (success criterion 1.4.3): every visible text of the page against the
// background it is drawn on, 4.5:1 for normal text and 3:1 for large text (24 px, or 18.66 px
// bold). Returns the failures: [{ text, fg, bg, ratio, need }].
export async function contrastFailures(page) {
  return page.evaluate(() => {
    const rgba = (s) => {
      const m = s.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const [r, g, b, a] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return [r, g, b, a ?? 1];
    };
    const over = (top, under) => top.slice(0, 3).map((c, i) => c * top[3] + under[i] * (1 - top[3])).concat(1);
    const background = (el) => {
      const layers = [];
      for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
        const c = rgba(getComputedStyle(e).backgroundColor);
        if (c && c[3] > 0) layers.push(c);
        if (c && c[3] >= 1) break;
      }
      return layers.reduceRight((under, top) => over(top, under), [255, 255, 255, 1]);
    };
    const luminance = (c) => {
      const [r, g, b] = c.slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const failures = [];
    for (const el of document.querySelectorAll("body *")) {
      const own = Array.from(el.childNodes).filter((n) => n.nodeType === 3 && n.textContent.trim()).map((n) => n.textContent.trim()).join(" ");
      if (!own) continue;
      const style = getComputedStyle(el);
      const box = el.getBoundingClientRect();
      if (style.visibility === "hidden" || style.display === "none" || box.width === 0 || box.height === 0) continue;
      const bg = background(el);
      const fgRaw = rgba(el instanceof SVGElement ? style.fill : style.color);
      if (!fgRaw) continue;
      const fg = over(fgRaw, bg);
      const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
      const ratio = (hi + 0.05) / (lo + 0.05);
      const px = parseFloat(style.fontSize);
      const large = px >= 24 || (px >= 18.66 && Number(style.fontWeight) >= 700);
      const need = large ? 3 : 4.5;
      if (ratio < need) failures.push({ text: own.slice(0, 40), fg: fg.slice(0, 3).map(Math.round), bg: bg.slice(0, 3).map(Math.round), ratio: Math.round(ratio * 100) / 100, need });
    }
    return failures;
  });
}

// Fails the test when `page` has text below the WCAG contrast minimum; `what` names the page.
export async function checkContrast(page, what) {
  const bad = await contrastFailures(page);
  if (bad.length) fail(`contrast below WCAG AA on ${what}: ${JSON.stringify(bad.slice(0, 5))}`);
}
