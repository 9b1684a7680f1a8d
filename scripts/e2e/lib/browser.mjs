// Debian's chromium driven by playwright-core (never a downloaded browser), headless. playwright's
// launch() gives chromium a fresh temporary --user-data-dir of its own (it refuses one in args);
// every user gets an isolated BrowserContext (own cookie jar).
import { chromium } from 'playwright-core';
import { chromiumPath } from './util.mjs';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launchChromium() {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error('chromium not found at /usr/bin/chromium (scripts/e2e/ensure-deps installs it)');
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/** Opens the SPA in a fresh context and waits until window.e2e is ready; collects console errors. */
export async function openSpa(browser, origin) {
  const context = await browser.newContext();
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => window.e2eReady === true);
  return { context, page, consoleErrors };
}
