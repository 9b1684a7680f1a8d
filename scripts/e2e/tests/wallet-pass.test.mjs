// Wallets as InsForge users, in chromium through the local runner: @x402/fetch buys a pass
// (POST /x402/pass/pro), @insforge/sdk with the minted token reads premium_reports under RLS, a
// wallet without a pass reads none, and once the token expires Sign-In with Ethereum (viem's
// createSiweMessage through the SPA token client's wallet mode) gets a fresh one that reads while
// the pass lasts — and nothing after ends_at. Timings are printed and written to
// artifacts/e2e/wallet-pass-timeline.json.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { suite, ownRunnerStack } from '../lib/suite.mjs';
import { startSpa } from '../lib/spa-server.mjs';
import { launchChromium, openSpa } from '../lib/browser.mjs';
import { ARTIFACTS, fetchT } from '../lib/util.mjs';

const TOKEN_TTL_S = 30; // the shortest TOKEN_TTL: both the pass's token and the SIWE token live 30 s
const PASS_S = 75; // the pass outlives the first token, and ends during the test

let insforge; let runner; let spa; let browser; let db;
const { skip } = suite({ deps: ['go', 'postgres', 'chromium'], timeout: 420_000, async start({ own }) {
  spa = await own(startSpa());
  ({ insforge, runner, db } = await ownRunnerStack(own, {
    // This database is a development one: its passes are bought through the mock facilitator.
    prepare: (c) => c.query('UPDATE public.x402_entitlement_settings SET accept_mock = true'),
    params: (i) => ({
      INSFORGE_JWT_SECRET: i.jwtSecret, TOKEN_TTL: `${TOKEN_TTL_S}s`, ALLOWED_ORIGINS: spa.origin, LOG_LEVEL: 'INFO',
      ENVIRONMENT: 'development', MOCK_OKX_FACILITATOR: 'true', PAYMENT_RECIPIENT: '0x209693bc6afc0c5328ba36faf03c514ef312287c',
      X402_PASS_PRODUCTS: JSON.stringify([{ id: 'pro', price: '1000', duration: `${PASS_S}s`, description: 'Premium reports (e2e)' }]),
      INSFORGE_ANON_KEY: i.anonKey,
    }),
  }));
  browser = await own(launchChromium(), (b) => b.close());
} });

const sleepUntil = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms - Date.now())));

describe('wallets as InsForge users (chromium, @x402/fetch, @insforge/sdk, viem SIWE)', { skip }, () => {
  it('a pass bought with x402 unlocks premium_reports for its wallet, across a SIWE re-sign-in, until it ends', { timeout: 240_000 }, async () => {
    const { page, consoleErrors } = await openSpa(browser, spa.origin);
    const key = generatePrivateKey();
    const address = privateKeyToAccount(key).address.toLowerCase();
    const timeline = [];
    const t0 = Date.now();
    const mark = (step, extra = {}) => { const e = { t: (Date.now() - t0) / 1000, step, ...extra }; timeline.push(e); console.log('wallet-pass', JSON.stringify(e)); };
    const read = (token) => page.evaluate(([u, k, t]) => window.e2e.premiumReports(u, k, t), [insforge.url, insforge.anonKey, token]);

    // 1. Buy the pass from the browser with the real x402 client.
    const buyStart = Date.now();
    const bought = await page.evaluate(([u, k]) => window.e2e.payX402(u, k), [`${runner.url}/x402/pass/pro`, key]);
    assert.equal(bought.status, 200, JSON.stringify(bought));
    assert.equal(bought.settlement?.success, true);
    const { token, pass, expires_in: expiresIn } = bought.body;
    assert.equal(pass.subject, `eip155:196:${address}`);
    assert.equal(pass.product, 'pro');
    assert.equal(expiresIn, TOKEN_TTL_S);
    mark('pass bought (402 → pay → 200)', { ms: Date.now() - buyStart });
    const { rows: [ent] } = await db.query('SELECT * FROM x402_entitlements WHERE subject = $1', [pass.subject]);
    assert.ok(ent, 'no entitlement row');
    const { rows: [payment] } = await db.query('SELECT status, delivered_at FROM x402_payments WHERE id = $1', [ent.payment_id]);
    assert.equal(payment.status, 'settled');
    assert.ok(payment.delivered_at);
    const endsAt = ent.ends_at.getTime();

    // 2. The minted token reads the reports.
    const first = await read(token);
    assert.equal(first.titles?.length, 2, JSON.stringify(first));
    mark('premium_reports read with the pass token', { rows: first.titles.length, ms: first.ms });

    // 3. A wallet without a pass signs in and reads nothing.
    const stranger = await page.evaluate(([u, k]) => window.e2e.siweSignIn(u, k), [`${runner.url}/token/wallet`, generatePrivateKey()]);
    assert.ok(stranger.token, JSON.stringify(stranger));
    const none = await read(stranger.token);
    assert.deepEqual(none.titles, [], JSON.stringify(none));
    mark('a wallet without a pass reads none', { signInMs: stranger.ms });

    // 4. After the token expires it reads nothing more; SIWE gets a fresh token that reads while the pass lasts.
    await sleepUntil(buyStart + (TOKEN_TTL_S + 2) * 1000);
    const expired = await read(token);
    assert.ok(expired.error || expired.titles?.length === 0, JSON.stringify(expired));
    mark('the pass token expired', { answer: expired.error ? expired.error.message : 'no rows' });
    const again = await page.evaluate(([u, k]) => window.e2e.siweSignIn(u, k), [`${runner.url}/token/wallet`, key]);
    assert.ok(again.token, JSON.stringify(again));
    assert.ok(Date.now() < endsAt, 'the pass ended before the re-sign-in');
    const renewed = await read(again.token);
    assert.equal(renewed.titles?.length, 2, JSON.stringify(renewed));
    mark('SIWE sign-in, then premium_reports read while the pass lasts', { signInMs: again.ms, readMs: renewed.ms });

    // 5. After ends_at: the wallet still signs in (it is a user), and reads nothing.
    await sleepUntil(endsAt + 1500);
    const late = await page.evaluate(([u, k]) => window.e2e.siweSignIn(u, k), [`${runner.url}/token/wallet`, key]);
    assert.ok(late.token, JSON.stringify(late));
    const after = await read(late.token);
    assert.deepEqual(after.titles, [], JSON.stringify(after));
    mark('after ends_at: SIWE sign-in works, premium_reports reads none', { signInMs: late.ms });

    // Expected in the console: the x402 challenge (402) and the SDK's refresh attempt with the expired token
    // (the local InsForge has no /api/auth/refresh: 404). Anything else is a failure.
    assert.deepEqual(consoleErrors.filter((e) => !/status of (401|402|404) /.test(e)), []);
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(path.join(ARTIFACTS, 'wallet-pass-timeline.json'), JSON.stringify(timeline, null, 2));
  });

  it('a replayed sign-in (same message and signature) is refused: the nonce signs in once', async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const { nonce } = await (await fetchT(`${runner.url}/token/wallet/nonce`)).json();
    const { createSiweMessage } = await import('viem/siwe');
    const host = new URL(spa.origin).host;
    const message = createSiweMessage({ address: account.address, chainId: 196, domain: host, nonce, uri: spa.origin, version: '1' });
    const body = JSON.stringify({ message, signature: await account.signMessage({ message }) });
    const post = () => fetchT(`${runner.url}/token/wallet`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal((await post()).status, 200);
    const replay = await post();
    assert.equal(replay.status, 401);
    assert.equal((await replay.json()).error, 'siwe_nonce_used');
  });
});
