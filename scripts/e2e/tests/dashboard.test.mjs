// The live payments dashboard (GET /x402/dashboard) in Chromium, through the local runner: rows
// arrive over InsForge realtime (the local stack's socket.io endpoint, the vendored
// @insforge/sdk in the page) when paid with the real @x402/fetch client and with scripts/x402-pay;
// the reconciler's pending → settled shows live; a payment forged by a client publishing on the
// channel never shows; with realtime stopped the page polls.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startWorld } from '../lib/world.mjs';
import { v2Fetch, newAccount } from '../lib/x402.mjs';
import { launchChromium } from '../lib/browser.mjs';
import { bundleDashboardSdk, VENDORED } from '../lib/dashboard-sdk.mjs';
import { needs, lifecycle, ownDb } from '../lib/suite.mjs';
import { ARTIFACTS, REPO_ROOT } from '../lib/util.mjs';

const pexec = promisify(execFile);
const skip = needs('go', 'postgres', 'chromium');

const LIMIT_MS = 2000;
const latencies = [];

describe('payments dashboard (Chromium, live over InsForge realtime)', { skip }, () => {
  let w; let browser; let page; let context; let db;
  const work = mkdtempSync(path.join(tmpdir(), 'e2e-dash-'));
  after(() => {
    if (latencies.length) console.log(`dashboard latencies: ${latencies.map((l) => `${l.label} ${l.ms} ms`).join(', ')}`);
  });

  lifecycle(async ({ own, defer }) => {
    defer(() => rmSync(work, { recursive: true, force: true }));
    mkdirSync(ARTIFACTS, { recursive: true });
    w = await own(startWorld({ browser: false }));
    db = await ownDb(own, w.insforge.databaseUrl);
    browser = await own(launchChromium(), (b) => b.close());
    context = await own(browser.newContext({ viewport: { width: 1100, height: 900 } }), (c) => c.close());
    context.setDefaultTimeout(20_000);
    page = await context.newPage();
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
    await page.goto(`${w.api}/x402/dashboard`);
    await page.waitForSelector('#mode[data-mode="live"]');
    // Record when each row (by id) first appears and each status it shows, in page time.
    await page.evaluate(() => {
      window.seen = {};
      const note = () => {
        for (const tr of document.querySelectorAll('#rows tr')) {
          const k = `${tr.dataset.id}|${tr.dataset.status}`;
          window.seen[k] ??= { at: Date.now(), payer: tr.dataset.payer, status: tr.dataset.status, id: tr.dataset.id };
        }
      };
      new MutationObserver(note).observe(document.getElementById('rows'), { childList: true, subtree: true });
      note();
    });
  }, { timeout: 420_000 });


  // Waits for a row of payer with status, and returns when it appeared (page clock = this clock).
  async function rowAppears(payer, status, timeout = 10_000) {
    const h = await page.waitForFunction(([p, s]) => Object.values(window.seen).find((x) => x.payer === p && (!s || x.status === s)),
      [payer.toLowerCase(), status], { timeout });
    return h.jsonValue();
  }

  it('serves the vendored SDK exactly as esbuild builds it from the pinned @insforge/sdk', async () => {
    assert.equal(readFileSync(VENDORED, 'utf8'), await bundleDashboardSdk(),
      'shared/x402payments/dashboard/assets/insforge-sdk.mjs is stale: run node scripts/e2e/lib/dashboard-sdk.mjs --write');
    const res = await fetch(`${w.api}/x402/dashboard`);
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /default-src 'none'/);
    assert.ok(csp.includes(`connect-src 'self' ${w.insforge.url} ${w.insforge.url.replace('http:', 'ws:')}`), csp);
  });

  it('a payment with the real @x402/fetch client appears within 2 s, without a reload', async () => {
    const account = newAccount();
    const t0 = Date.now();
    const res = await v2Fetch(account)(`${w.api}/x402/report`, { method: 'POST' });
    const paid = Date.now();
    assert.equal(res.status, 200, await res.text());
    const row = await rowAppears(account.address, 'settled');
    const first = await rowAppears(account.address, null);
    latencies.push({ label: '@x402/fetch: request → first row', ms: first.at - t0 }, { label: '@x402/fetch: response → settled row', ms: row.at - paid });
    // The ledger row is written (pending, then settled) before the response leaves, so "after
    // the response" is usually negative: the row is on the page before the client has its answer.
    assert.ok(row.at - paid <= LIMIT_MS, `row appeared ${row.at - paid} ms after the response (${row.at - t0} ms after the request)`);
    const text = await page.locator(`#rows tr[data-id="${row.id}"]`).innerText();
    assert.match(text, /0\.000001 USDG/, text); // X402_PRICE=1 atomic unit, 6 decimals
    assert.match(text, /mock/);
    assert.equal(await page.locator(`#rows tr[data-id="${row.id}"] a[href^="https://www.okx.com/web3/explorer/xlayer/tx/0x"]`).count(), 1);
  });

  it('a payment with scripts/x402-pay appears within 2 s', async () => {
    const bin = path.join(work, 'x402-pay');
    await pexec('go', ['build', '-o', bin, './scripts/x402-pay'], { cwd: REPO_ROOT, timeout: 300_000 });
    const { generatePrivateKey, privateKeyToAccount } = await import('viem/accounts');
    const pk = generatePrivateKey();
    const payer = privateKeyToAccount(pk).address;
    const t0 = Date.now();
    const { stderr } = await pexec(bin, [`${w.api}/x402/report`], { env: { ...process.env, X402_PAYER_KEY: pk }, timeout: 60_000 });
    const paid = Date.now();
    assert.match(stderr, /status: 200/, stderr);
    const row = await rowAppears(payer, 'settled');
    const first = await rowAppears(payer, null);
    latencies.push({ label: 'x402-pay: process start → first row', ms: first.at - t0 }, { label: 'x402-pay: exit → settled row', ms: row.at - paid });
    assert.ok(row.at - paid <= LIMIT_MS, `row appeared ${row.at - paid} ms after the payment`);
  });

  it('a pending row turns settled live when the reconciler runs', async () => {
    const payer = newAccount().address.toLowerCase();
    const tx = `0x${'ab'.repeat(32)}`;
    // A settle whose outcome the paywall never recorded (e.g. the function died after settling).
    await db.query(`INSERT INTO x402_payments (payer_address, endpoint, amount, tx_hash, status, network, asset, pay_to, nonce, valid_before, mock, created_at)
      VALUES ($1, '/x402/report', '10000', $2, 'pending', 'eip155:196', '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8', '0x209693bc6afc0c5328ba36faf03c514ef312287c', $3, 4102444800, true, now() - interval '10 minutes')`,
    [payer, tx, `0x${'cd'.repeat(32)}`]);
    await rowAppears(payer, 'pending');
    const envFile = path.join(work, 'env.json');
    writeFileSync(envFile, JSON.stringify(w.env), { mode: 0o600 });
    const started = Date.now();
    await pexec('go', ['run', './scripts/invoke', '--quiet', '--env-vars', envFile, 'X402ReconcileFunction', 'events/x402-reconcile-scheduled.json'],
      { cwd: REPO_ROOT, timeout: 300_000, maxBuffer: 16 << 20 });
    const done = Date.now();
    const row = await rowAppears(payer, 'settled');
    latencies.push({ label: 'reconciler exit → settled row', ms: row.at - done });
    assert.ok(row.at - started >= 0);
    assert.equal((await db.query('SELECT status FROM x402_payments WHERE payer_address = $1', [payer])).rows[0].status, 'settled');
  });

  it('any status string renders, mock rows are marked, and the error column never reaches the page', async () => {
    const payer = newAccount().address.toLowerCase();
    await db.query('ALTER TABLE x402_payments DROP CONSTRAINT IF EXISTS x402_payments_status_check');
    await db.query(`INSERT INTO x402_payments (payer_address, endpoint, amount, status, network, asset, pay_to, nonce, valid_before, mock, error)
      VALUES ($1, '/x402/report', '1234567', 'needs_review', 'eip155:196', '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8', '0x209693bc6afc0c5328ba36faf03c514ef312287c', $2, 4102444800, false, 'SECRET-INTERNAL-DETAIL')`,
    [payer, `0x${'ef'.repeat(32)}`]);
    const row = await rowAppears(payer, 'needs_review');
    const text = await page.locator(`#rows tr[data-id="${row.id}"]`).innerText();
    assert.match(text, /1\.234567 USDG/);
    assert.match(text, /needs_review/);
    assert.doesNotMatch(text, /mock/);
    assert.doesNotMatch(await page.content(), /SECRET-INTERNAL-DETAIL/);
    // The totals come from the API, refreshed a second after realtime traffic.
    const settled = Number((await db.query("SELECT count(*) FROM x402_payments WHERE status = 'settled'")).rows[0].count);
    await page.waitForFunction((n) => document.getElementById('stat-requests').textContent === String(n), settled);
    // Per-route revenue: one table row per endpoint of the payments API's breakdown.
    const api = await (await fetch(`${w.api}/x402/payments`)).json();
    const perRoute = api.stats.endpoints;
    assert.ok(Array.isArray(perRoute) && perRoute.length > 0, 'settled payments give a per-endpoint breakdown');
    await page.waitForSelector('#routes:not([hidden])');
    assert.equal(await page.locator('#route-rows tr').count(), perRoute.length);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 1, `horizontal overflow of ${overflow}px at phone width`);
    await page.setViewportSize({ width: 1100, height: 900 });
    if (process.env.DASHBOARD_SCREENSHOT) copyFileSync(path.join(ARTIFACTS, 'dashboard.png'), process.env.DASHBOARD_SCREENSHOT);
  });

  it('a payment a client publishes on the ledger channel is refused, and never shown where it gets through', async () => {
    const { createClient } = await import('@insforge/sdk');
    const rt = createClient({ baseUrl: w.insforge.url, anonKey: w.insforge.anonKey }).realtime;
    const errors = [];
    rt.on('error', (e) => errors.push(e));
    const forgedId = randomUUID();
    const forged = { new: { id: forgedId, payer_address: `0x${'f0'.repeat(20)}`, endpoint: '/x402/report', amount: '999999999999',
      status: 'settled', created_at: new Date().toISOString(), updated_at: '2099-01-01T00:00:00Z', network: 'eip155:196',
      asset: '0x4ae46a509f6b1d9056937ba4500cb143933d2dc8', mock: false } };
    const echoed = new Promise((resolve) => rt.on('INSERT_x402_payments', (m) => { if (m?.new?.id === forgedId) resolve(m); }));
    const policy = readFileSync(path.join(REPO_ROOT, 'infra/migrations/0007_x402_realtime_publish.sql'), 'utf8');
    try {
      await rt.connect();
      assert.equal((await rt.subscribe('x402_payments')).ok, true, 'anyone with the anon key may watch the ledger');
      // 0007, applied by the stack as the owner of realtime.messages, refuses the publish.
      await rt.publish('x402_payments', 'INSERT_x402_payments', forged);
      const deadline = Date.now() + 10_000;
      while (!errors.some((e) => e?.code === 'REALTIME_UNAUTHORIZED') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.ok(errors.some((e) => e?.code === 'REALTIME_UNAUTHORIZED' && e.channel === 'x402_payments'), JSON.stringify(errors));

      // Where 0007 could not be applied (run as project_admin), the message is delivered, marked
      // senderType "user" by the server, and the page must still ignore it.
      await db.query('DROP POLICY x402_payments_no_client_publish ON realtime.messages');
      await rt.publish('x402_payments', 'INSERT_x402_payments', forged);
      const m = await echoed;
      assert.equal(m.meta.senderType, 'user');
      // A real payment after it: messages reach the page in commit order, so once this row is on
      // the page the forged message has been handled too.
      const account = newAccount();
      const res = await v2Fetch(account)(`${w.api}/x402/report`, { method: 'POST' });
      assert.equal(res.status, 200);
      await rowAppears(account.address, 'settled');
      assert.equal(await page.evaluate((id) => Object.values(window.seen).some((x) => x.id === id), forgedId), false, 'the forged row was rendered');
      assert.equal(await page.locator(`#rows tr[data-id="${forgedId}"]`).count(), 0);
      assert.doesNotMatch(await page.locator('#rows').innerText(), /999,999\.999999/);
    } finally {
      rt.disconnect();
      await db.query(policy); // as postgres, the owner: the policy is back for the tests that follow
    }
  });

  it('with realtime stopped the page says so and polls GET /x402/payments', async () => {
    w.insforge.stopRealtime();
    await page.waitForSelector('#mode[data-mode="polling"]', { timeout: 10_000 });
    assert.match(await page.locator('#mode').innerText(), /realtime unavailable.*polling/);
    const account = newAccount();
    const res = await v2Fetch(account)(`${w.api}/x402/report`, { method: 'POST' });
    assert.equal(res.status, 200);
    const paid = Date.now();
    const row = await rowAppears(account.address, 'settled', 15_000);
    latencies.push({ label: 'polling: response → row', ms: row.at - paid });
    assert.deepEqual(page.errors.filter((e) => !/socket|websocket|503|ERR_/i.test(e)), []);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-polling.png'), fullPage: true });
  });

  it('when realtime comes back the page goes live again by itself', async () => {
    w.insforge.startRealtime();
    await page.waitForSelector('#mode[data-mode="live"]', { timeout: 20_000 });
    const account = newAccount();
    const res = await v2Fetch(account)(`${w.api}/x402/report`, { method: 'POST' });
    assert.equal(res.status, 200);
    const paid = Date.now();
    const row = await rowAppears(account.address, 'settled');
    latencies.push({ label: 'live again: response → settled row', ms: row.at - paid });
    assert.ok(row.at - paid <= LIMIT_MS, `row appeared ${row.at - paid} ms after the payment`);
  });
});
