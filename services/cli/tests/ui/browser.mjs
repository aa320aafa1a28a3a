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
