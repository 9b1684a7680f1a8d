// Through the local runner: every function's real bootstrap binary behind the Lambda Runtime API
// (scripts/dev), configured by a SAM env.json to trust the real peers started here.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startWorld, PAYMENT_RECIPIENT } from '../lib/world.mjs';
import { baClient } from '../lib/better-auth.mjs';
import { callBridge, assertMinted, assertRefused, todoRoundTrip, sdkFor } from '../lib/assert-token.mjs';
import { v2Fetch, paymentsOf, recordingPayer, payLikeGuide, newAccount, decodePaymentResponseHeader, unb64json, USDG, XLAYER } from '../lib/x402.mjs';
import { launchChromium, openSpa } from '../lib/browser.mjs';
import { suite, needs, lifecycle, ownDb } from '../lib/suite.mjs';
import { fetchT, ARTIFACTS, jwtPayload } from '../lib/util.mjs';

// The browser suites also need chromium; without it the others still run (and the world starts no SPA).
const browserSkip = needs('go', 'postgres', 'chromium');
let w;
mkdirSync(ARTIFACTS, { recursive: true });
const { skip } = suite({ deps: ['go', 'postgres'], timeout: 360_000, async start({ own }) {
  w = await own(startWorld({ browser: !browserSkip }));
} });

describe('Better Auth (real server) → /token/better-auth', { skip }, () => {
  let a; let b; const ba = () => baClient(w.ba.url);
  before(async () => {
    a = await ba().signUp(`alice-${Date.now()}@example.com`, 'correct horse battery', 'Alice');
    b = await ba().signUp(`bob-${Date.now()}@example.com`, 'correct horse battery', 'Bob');
  });

  it('session cookie (POST and GET) mints a token whose sub is the Better Auth user id', async () => {
    for (const method of ['POST', 'GET']) {
      const r = await callBridge(w.api, 'better-auth', { cookie: a.cookie, method });
      await assertMinted(r, { secret: w.jwtSecret, sub: a.user.id, label: `cookie ${method}` });
    }
  });

  it('bearer session token (raw and the bearer plugin\'s signed value) mints for that user', async () => {
    await assertMinted(await callBridge(w.api, 'better-auth', { bearer: a.sessionToken }), { secret: w.jwtSecret, sub: a.user.id, label: 'raw bearer' });
    await assertMinted(await callBridge(w.api, 'better-auth', { bearer: a.signedToken }), { secret: w.jwtSecret, sub: a.user.id, label: 'signed bearer' });
  });

  it('jwt() plugin token (EdDSA, verified via /api/auth/jwks) mints for that user; no plugin claim leaks', async () => {
    const { token } = await (await ba().get('/token', { cookie: b.cookie })).json();
    const r = await callBridge(w.api, 'better-auth', { bearer: token });
    const { payload } = await assertMinted(r, { secret: w.jwtSecret, sub: b.user.id, label: 'jwt plugin' });
    assert.deepEqual(Object.keys(payload).filter((k) => !['sub', 'role', 'aud', 'iat', 'exp', 'email', 'iss', 'nbf', 'jti'].includes(k)), []);
  });

  it('each minted token reads and writes only its own user\'s rows through the InsForge stack', async () => {
    const ta = (await assertMinted(await callBridge(w.api, 'better-auth', { cookie: a.cookie }), { secret: w.jwtSecret, sub: a.user.id })).token;
    const tb = (await assertMinted(await callBridge(w.api, 'better-auth', { cookie: b.cookie }), { secret: w.jwtSecret, sub: b.user.id })).token;
    const ra = await todoRoundTrip(w.insforge, ta, 'alice: buy milk');
    const rb = await todoRoundTrip(w.insforge, tb, 'bob: fix bike');
    assert.equal(ra.inserted.user_id, a.user.id);
    assert.equal(rb.inserted.user_id, b.user.id);
    assert.ok(ra.rows.length >= 1 && ra.rows.every((x) => x.user_id === a.user.id));
    assert.ok(rb.rows.length >= 1 && rb.rows.every((x) => x.user_id === b.user.id));
    const hijack = await sdkFor(w.insforge, ta).database.from('todos').update({ title: 'hijacked' }).eq('id', rb.inserted.id).select();
    assert.deepEqual(hijack.data ?? [], [], 'alice cannot change bob\'s row');
  });

  it('after sign-out the bridge refuses the cookie and the session token (401, nothing minted)', async () => {
    const s = await ba().signIn(`${a.user.email}`, 'correct horse battery');
    await assertMinted(await callBridge(w.api, 'better-auth', { cookie: s.cookie }), { secret: w.jwtSecret, sub: a.user.id });
    await ba().signOut(s.cookie);
    assertRefused(await callBridge(w.api, 'better-auth', { cookie: s.cookie }), 401, { label: 'signed-out cookie' });
    assertRefused(await callBridge(w.api, 'better-auth', { bearer: s.sessionToken }), 401, { label: 'signed-out bearer' });
  });

  it('a forged cookie, a missing credential and a garbage bearer are refused', async () => {
    assertRefused(await callBridge(w.api, 'better-auth', { cookie: 'better-auth.session_token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmE%3D' }), 401, { label: 'forged cookie' });
    assertRefused(await callBridge(w.api, 'better-auth', {}), 401, { label: 'no credential' });
    assertRefused(await callBridge(w.api, 'better-auth', { bearer: 'not.a.jwt' }), 401, { label: 'garbage' });
  });
});

describe('OIDC provider (oauth2-mock-server) → /token/<provider>', { skip }, () => {
  for (const name of ['workos', 'kinde', 'auth0', 'stytch', 'clerk']) {
    describe(name, () => {
      const p = () => w.issuers.providers[name];
      it('a valid provider token mints a token for that subject (role fixed) that reads only its own rows', async () => {
        const { token, sub } = await p().mint();
        const { token: minted } = await assertMinted(await callBridge(w.api, name, { bearer: token }), { secret: w.jwtSecret, sub, label: name });
        const { inserted, rows } = await todoRoundTrip(w.insforge, minted, `${name} todo`);
        assert.equal(inserted.user_id, sub);
        assert.ok(rows.every((r) => r.user_id === sub));
      });
      const cookieName = { clerk: '__session', stytch: 'stytch_session_jwt' }[name];
      if (cookieName) {
        it(`the provider's own ${cookieName} cookie (GET, as its SDK sets it) mints too`, async () => {
          const { token, sub } = await p().mint();
          await assertMinted(await callBridge(w.api, name, { cookie: `${cookieName}=${token}`, method: 'GET' }), { secret: w.jwtSecret, sub, label: `${name} cookie` });
        });
      }
      it('an expired token is refused (401)', async () => {
        const { token } = await p().mint({ expiresIn: -600 });
        assertRefused(await callBridge(w.api, name, { bearer: token }), 401, { label: `${name} expired` });
      });
      it(`a token for a foreign ${name === 'clerk' ? 'authorized party (azp)' : name === 'workos' ? 'client (issuer)' : 'audience'} is refused (401)`, async () => {
        const { token } = await p().mint({ mutate: p().foreignAud });
        assertRefused(await callBridge(w.api, name, { bearer: token }), 401, { label: `${name} foreign audience` });
      });
      // Rotation runs before the unknown-kid probe: a refetch for an unknown kid arms the bridge's
      // refetch cooldown (identity.DefaultUnknownKIDCooldown), during which a new key is not learnt.
      it('key rotation on the provider is picked up without restarting the function', async () => {
        const { token: before, sub: s1 } = await p().mint();
        await assertMinted(await callBridge(w.api, name, { bearer: before }), { secret: w.jwtSecret, sub: s1 });
        const kid = await p().rotate();
        const { token: after, sub: s2 } = await p().mint();
        assert.equal(JSON.parse(Buffer.from(after.split('.')[0], 'base64url')).kid, kid);
        await assertMinted(await callBridge(w.api, name, { bearer: after }), { secret: w.jwtSecret, sub: s2, label: `${name} rotated` });
      });
      // The rotation above made the bridge refetch the JWKS, so its unknown-kid refetch is cooling down (30 s):
      // the bridge cannot look this kid up yet and must say "retry" (503 + Retry-After), never mint, and never
      // call the key invalid (401 would sign a user out whose provider just rotated; see shared/identity/jwks.go).
      it('a token signed by a key the provider never published is refused: 503 + Retry-After while the refetch cools down', async () => {
        const { token } = await p().mintUnpublished();
        const r = await callBridge(w.api, name, { bearer: token });
        assertRefused(r, 503, { code: 'provider_unavailable', label: `${name} unknown kid` });
        assert.match(r.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/, `${name}: Retry-After`);
      });
    });
  }
});

describe('x402 (real @x402/fetch client, mock facilitator) → /x402/report', { skip }, () => {
  let db;
  lifecycle(async ({ own }) => { db = await ownDb(own, w.insforge.databaseUrl); });
  const rowsFor = (payer) => paymentsOf(db, payer);

  it('an unpaid request gets a v2 402 with a standard-base64 PAYMENT-REQUIRED challenge', async () => {
    const r = await fetchT(`${w.api}/x402/report`, { method: 'POST' });
    assert.equal(r.status, 402);
    const h = r.headers.get('payment-required');
    assert.match(h, /^[A-Za-z0-9+/]*={0,2}$/);
    const c = unb64json(h);
    assert.equal(c.x402Version, 2);
    const offer = c.accepts.find((x) => x.network === XLAYER && x.scheme === 'exact');
    assert.ok(offer, JSON.stringify(c.accepts));
    assert.equal(offer.asset.toLowerCase(), USDG);
    assert.equal(offer.payTo.toLowerCase(), PAYMENT_RECIPIENT);
    assert.equal(offer.amount, '1');
    assert.ok(offer.extra?.name && offer.extra?.version);
  });

  it('@x402/fetch pays once: resource served, PAYMENT-RESPONSE names the payer, exactly one ledger row', async () => {
    const account = newAccount();
    const r = await v2Fetch(account)(`${w.api}/x402/report`, { method: 'POST' });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    const settle = decodePaymentResponseHeader(r.headers.get('payment-response'));
    assert.equal(settle.success, true);
    assert.equal(settle.payer.toLowerCase(), account.address.toLowerCase());
    assert.match(settle.transaction, /^0x[0-9a-fA-F]{64}$/);
    const rows = await rowsFor(account.address);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.equal(rows[0].status, 'settled');
    assert.equal(rows[0].tx_hash, settle.transaction);
  });

  it('paying twice (fresh nonce each time) gives two rows; replaying a payment header gives no third', async () => {
    const account = newAccount();
    const { sent: seen, pay: f } = recordingPayer(account);
    assert.equal((await f(`${w.api}/x402/report`, { method: 'POST' })).status, 200);
    assert.equal((await f(`${w.api}/x402/report`, { method: 'POST' })).status, 200);
    let rows = await rowsFor(account.address);
    assert.equal(rows.length, 2);
    assert.notEqual(rows[0].nonce, rows[1].nonce);
    assert.equal(seen.length, 2);
    // One payment buys one delivery: the replay is a 402 "nonce already used" carrying the original receipt.
    const replay = await fetchT(`${w.api}/x402/report`, { method: 'POST', headers: { 'PAYMENT-SIGNATURE': seen[0] } });
    const replayBody = await replay.text();
    assert.equal(replay.status, 402, replayBody);
    assert.equal(unb64json(replay.headers.get('payment-required')).error, 'invalid_exact_evm_nonce_already_used');
    assert.ok(!replayBody.includes('"report"'), 'the content was delivered twice');
    const receipt = decodePaymentResponseHeader(replay.headers.get('payment-response'));
    const first = rows.find((row) => row.nonce === unb64json(seen[0]).payload.authorization.nonce.toLowerCase());
    assert.ok(first && first.delivered_at, JSON.stringify(rows));
    assert.equal(receipt.success, true);
    assert.equal(receipt.transaction, first.tx_hash);
    rows = await rowsFor(account.address);
    assert.equal(rows.length, 2, 'a replayed payment must not create a row or settle again');

    // A tampered amount (signature no longer matches) → 402 with an x402 reason; garbage → 400. No rows.
    const tampered = unb64json(seen[1]);
    tampered.payload.authorization.value = '2';
    tampered.payload.authorization.nonce = `0x${'11'.repeat(32)}`;
    const t1 = await fetchT(`${w.api}/x402/report`, { method: 'POST', headers: { 'PAYMENT-SIGNATURE': Buffer.from(JSON.stringify(tampered)).toString('base64') } });
    assert.equal(t1.status, 402, await t1.text());
    const t2 = await fetchT(`${w.api}/x402/report`, { method: 'POST', headers: { 'PAYMENT-SIGNATURE': '%%%not-base64%%%' } });
    assert.equal(t2.status, 400, await t2.text());
    assert.equal((await rowsFor(account.address)).length, 2);
  });

  it("the InsForge x402 guide's hybrid client (PAYMENT-SIGNATURE with v1 fields, signed with viem) pays", async () => {
    const account = newAccount();
    const { challengeResponse, response } = await payLikeGuide(`${w.api}/x402/report`, account);
    assert.equal(challengeResponse.status, 402);
    const text = await response.text();
    assert.equal(response.status, 200, text);
    assert.equal((await rowsFor(account.address)).length, 1);
  });

  it('GET /x402/payments lists the payments (mock rows are not revenue)', async () => {
    const r = await fetchT(`${w.api}/x402/payments`);
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.ok(Array.isArray(body.payments) && body.payments.length >= 4, JSON.stringify(body).slice(0, 300));
    assert.equal(body.stats.totalRevenue, '0');
    assert.ok(body.payments.every((p) => !('error' in p)), 'public rows carry no error text');
    assert.deepEqual(body.stats.endpoints.map((e) => e.endpoint), ['/x402/report']);
  });
});

describe('SPA in chromium (cross-origin) → bridges → @insforge/sdk', { skip: browserSkip }, () => {
  let browser;
  lifecycle(async ({ own }) => { browser = await own(launchChromium(), (b) => b.close()); });

  it('two users sign in, exchange credentials cross-origin, and each sees only their own todos', async () => {
    const email = `spa-${Date.now()}@example.com`;
    const { user } = await baClient(w.ba.url, w.spa.origin).signUp(email, 'correct horse battery', 'SPA user');
    // User A: Better Auth session cookie, sent by the browser with credentials: 'include'.
    const A = await openSpa(browser, w.spa.origin);
    const si = await A.page.evaluate(([u, e]) => window.e2e.betterAuthSignIn(u, e, 'correct horse battery'), [w.ba.url, email]);
    assert.equal(si.status, 200);
    const ra = await A.page.evaluate((u) => window.e2e.bridge(u, { cookies: true }), `${w.api}/token/better-auth`);
    assert.equal(ra.status, 200, JSON.stringify(ra));
    assert.equal(jwtPayload(ra.body.token).sub, user.id);
    // User B: a Clerk session token from the provider's token endpoint, sent as Bearer (preflighted).
    const B = await openSpa(browser, w.spa.origin);
    const clerk = w.issuers.providers.clerk;
    const tok = await B.page.evaluate((u) => window.e2e.oauthToken(u), `http://127.0.0.1:${clerk.port}/token`);
    assert.equal(tok.status, 200);
    const subB = jwtPayload(tok.body.access_token).sub;
    const rb = await B.page.evaluate(([u, t]) => window.e2e.bridge(u, { bearer: t }), [`${w.api}/token/clerk`, tok.body.access_token]);
    assert.equal(rb.status, 200, JSON.stringify(rb));
    assert.equal(jwtPayload(rb.body.token).sub, subB);

    const ta = await A.page.evaluate(([u, k, t]) => window.e2e.todos(u, k, t, ['A1: write tests', 'A2: ship']), [w.insforge.url, w.insforge.anonKey, ra.body.token]);
    const tb = await B.page.evaluate(([u, k, t]) => window.e2e.todos(u, k, t, ['B1: review']), [w.insforge.url, w.insforge.anonKey, rb.body.token]);
    assert.equal(ta.error, undefined, JSON.stringify(ta.error));
    assert.equal(tb.error, undefined, JSON.stringify(tb.error));
    assert.deepEqual(ta.rows.map((r) => r.title), ['A1: write tests', 'A2: ship']);
    assert.ok(ta.rows.every((r) => r.user_id === user.id));
    assert.deepEqual(tb.rows.map((r) => r.title), ['B1: review']);
    assert.ok(tb.rows.every((r) => r.user_id === subB));
    const hijack = await B.page.evaluate(([u, k, t, id]) => window.e2e.tryForeignUpdate(u, k, t, id), [w.insforge.url, w.insforge.anonKey, rb.body.token, ta.inserted[0].id]);
    assert.deepEqual(hijack.data ?? [], []);

    await A.page.screenshot({ path: path.join(ARTIFACTS, 'spa-user-a.png'), fullPage: true });
    await B.page.screenshot({ path: path.join(ARTIFACTS, 'spa-user-b.png'), fullPage: true });
    assert.deepEqual([...A.consoleErrors, ...B.consoleErrors], []);
    await A.context.close(); await B.context.close();
  });

  it('the preflight is answered for the allowed origin only, with credentials and Vary: Origin', async () => {
    for (const bridge of ['better-auth', 'clerk']) {
      const ok = await fetchT(`${w.api}/token/${bridge}`, { method: 'OPTIONS', headers: { origin: w.spa.origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
      assert.ok(ok.status === 204 || ok.status === 200, `${bridge} preflight ${ok.status}`);
      assert.equal(ok.headers.get('access-control-allow-origin'), w.spa.origin);
      assert.equal(ok.headers.get('access-control-allow-credentials'), 'true');
      assert.match(ok.headers.get('access-control-allow-headers') ?? '', /authorization/i);
      assert.match(ok.headers.get('vary') ?? '', /Origin/);
      const bad = await fetchT(`${w.api}/token/${bridge}`, { method: 'OPTIONS', headers: { origin: w.evil.origin, 'access-control-request-method': 'POST' } });
      assert.equal(bad.headers.get('access-control-allow-origin'), null);
    }
  });

  it('a page on a disallowed origin is blocked by the browser (no token reaches it)', async () => {
    const E = await openSpa(browser, w.evil.origin);
    const { token, sub } = await w.issuers.providers.clerk.mint();
    const r = await E.page.evaluate(([u, t]) => window.e2e.bridge(u, { bearer: t }), [`${w.api}/token/clerk`, token]);
    assert.match(r.error ?? '', /Failed to fetch/, JSON.stringify(r));
    const rc = await E.page.evaluate((u) => window.e2e.bridge(u, { cookies: true }), `${w.api}/token/better-auth`);
    assert.match(rc.error ?? '', /Failed to fetch/, JSON.stringify(rc));
    await E.page.screenshot({ path: path.join(ARTIFACTS, 'spa-disallowed-origin.png'), fullPage: true });
    await E.context.close();
    // "Failed to fetch" is also what a crashed server gives. The same call from the allowed
    // origin gets a token for the same credential, so the bridge is up and the block is CORS.
    const A = await openSpa(browser, w.spa.origin);
    const ok = await A.page.evaluate(([u, t]) => window.e2e.bridge(u, { bearer: t }), [`${w.api}/token/clerk`, token]);
    assert.equal(ok.status, 200, JSON.stringify(ok));
    assert.equal(jwtPayload(ok.body.token).sub, sub);
    await A.context.close();
    // And the server itself refuses the disallowed origin: 403 origin_not_allowed, no CORS grant.
    for (const bridge of ['clerk', 'better-auth']) {
      const res = await fetchT(`${w.api}/token/${bridge}`, { method: 'POST', headers: { origin: w.evil.origin, authorization: `Bearer ${token}` } });
      assert.equal(res.status, 403, bridge);
      assert.equal((await res.json()).error, 'origin_not_allowed', bridge);
      assert.equal(res.headers.get('access-control-allow-origin'), null, bridge);
    }
  });
});

describe('x402 from the browser (@x402/fetch bundled in the SPA, cross-origin)', { skip: browserSkip }, () => {
  let browser;
  lifecycle(async ({ own }) => { browser = await own(launchChromium(), (b) => b.close()); });

  it('the SPA pays /x402/report: the 402 challenge and the receipt are readable cross-origin, one ledger row', async () => {
    const { generatePrivateKey, privateKeyToAccount } = await import('viem/accounts');
    const key = generatePrivateKey();
    const address = privateKeyToAccount(key).address;
    const P = await openSpa(browser, w.spa.origin);
    const r = await P.page.evaluate(([u, k]) => window.e2e.payX402(u, k), [`${w.api}/x402/report`, key]);
    assert.equal(r.error, undefined, r.error);
    assert.equal(r.status, 200, JSON.stringify(r.body).slice(0, 300));
    assert.ok(r.settlement, 'PAYMENT-RESPONSE must be exposed to browser code (Access-Control-Expose-Headers)');
    assert.equal(r.settlement.payer.toLowerCase(), address.toLowerCase());
    const db = new pg.Client({ connectionString: w.insforge.databaseUrl });
    await db.connect();
    try {
      const rows = (await db.query('SELECT status FROM x402_payments WHERE lower(payer_address) = lower($1)', [address])).rows;
      assert.deepEqual(rows.map((x) => x.status), ['settled']);
    } finally { await db.end(); }
    await P.page.screenshot({ path: path.join(ARTIFACTS, 'spa-x402.png'), fullPage: true });
    await P.context.close();
  });
});
