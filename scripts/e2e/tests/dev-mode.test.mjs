// Zero-config `make dev` path: the runner's own dev identity issuer (no provider configured), a dev
// credential from `scripts/dev-token`, used by the SPA in chromium cross-origin — Bearer (preflighted)
// for Clerk, and the Better Auth session cookie (credentials: 'include') — then @insforge/sdk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { startSpa } from '../lib/spa-server.mjs';
import { goBuild } from '../lib/stack.mjs';
import { suite, ownRunnerStack } from '../lib/suite.mjs';
import { launchChromium, openSpa } from '../lib/browser.mjs';
import { freePort, jwtPayload, ARTIFACTS, LOOPBACK, REPO_ROOT } from '../lib/util.mjs';

const pexec = promisify(execFile);
let insforge; let runner; let spa; let browser; let issuerUrl; let devToken;
const { skip } = suite({ deps: ['go', 'postgres', 'chromium'], timeout: 360_000, async start({ own }) {
  spa = await own(startSpa());
  const jwtSecret = randomBytes(32).toString('hex');
  const issuerPort = await freePort();
  issuerUrl = `http://${LOOPBACK}:${issuerPort}`;
  // Only what a newcomer would set for an SPA: its origin. Providers come from the dev profile.
  ({ insforge, runner } = await ownRunnerStack(own, {
    jwtSecret, issuerPort, params: () => ({ ALLOWED_ORIGINS: spa.origin, INSFORGE_JWT_SECRET: jwtSecret }),
  }));
  devToken = await goBuild('./scripts/dev-token', 'dev-token');
  browser = await own(launchChromium(), (b) => b.close());
} });

const credential = async (...args) => (await pexec(devToken, [...args, '--issuer', issuerUrl], { cwd: REPO_ROOT, timeout: 30_000 })).stdout.trim();

test('dev credentials from scripts/dev-token work in the SPA: Clerk bearer and Better Auth cookie, each user sees only their todos', { skip }, async () => {
  const clerkToken = await credential('clerk', 'user_2devAlice');
  const cookie = await credential('better-auth', 'bob-dev', '--kind', 'cookie');
  assert.match(cookie, /^(__Secure-)?better-auth\.session_token=/);
  const [name, ...rest] = cookie.split('=');

  const A = await openSpa(browser, spa.origin);
  const ra = await A.page.evaluate(([u, t]) => window.e2e.bridge(u, { bearer: t }), [`${runner.url}/token/clerk`, clerkToken]);
  assert.equal(ra.status, 200, JSON.stringify(ra));
  assert.equal(jwtPayload(ra.body.token).sub, 'user_2devAlice');

  const B = await openSpa(browser, spa.origin);
  // The cookie a Better Auth server on the same site would have set (host-only, HttpOnly, Lax).
  await B.context.addCookies([{ name, value: rest.join('='), domain: LOOPBACK, path: '/', httpOnly: true, sameSite: 'Lax' }]);
  const rb = await B.page.evaluate((u) => window.e2e.bridge(u, { cookies: true }), `${runner.url}/token/better-auth`);
  assert.equal(rb.status, 200, JSON.stringify(rb));
  assert.equal(jwtPayload(rb.body.token).sub, 'bob-dev');

  const ta = await A.page.evaluate(([u, k, t]) => window.e2e.todos(u, k, t, ['alice (dev)']), [insforge.url, insforge.anonKey, ra.body.token]);
  const tb = await B.page.evaluate(([u, k, t]) => window.e2e.todos(u, k, t, ['bob (dev)']), [insforge.url, insforge.anonKey, rb.body.token]);
  assert.deepEqual(ta.rows.map((r) => [r.user_id, r.title]), [['user_2devAlice', 'alice (dev)']]);
  assert.deepEqual(tb.rows.map((r) => [r.user_id, r.title]), [['bob-dev', 'bob (dev)']]);
  mkdirSync(ARTIFACTS, { recursive: true });
  await A.page.screenshot({ path: path.join(ARTIFACTS, 'dev-mode-clerk.png'), fullPage: true });
  await B.page.screenshot({ path: path.join(ARTIFACTS, 'dev-mode-better-auth.png'), fullPage: true });
  await A.context.close(); await B.context.close();
});
