// The browser token client (shared/spa/token-client.mjs) in chromium, through the local runner:
// two users, one per provider — Clerk (bearer: a fresh provider session token per fetch, as
// Clerk's session.getToken() gives) and Better Auth (its session cookie, credentials: 'include') —
// keep one @insforge/sdk client each working across refreshes with TOKEN_TTL=30s (the minimum),
// ride out a real 503 burst from each bridge (Better Auth down; Clerk key rotated while the
// bridge's JWKS refetch cools down), and stop on sign-out. RLS keeps the two users apart throughout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startWorld } from '../lib/world.mjs';
import { startBetterAuth, baClient } from '../lib/better-auth.mjs';
import { callBridge } from '../lib/assert-token.mjs';
import { launchChromium, openSpa } from '../lib/browser.mjs';
import { startRunner } from '../lib/stack.mjs';
import { createDatabase } from '../lib/pg.mjs';
import { suite } from '../lib/suite.mjs';
import { ARTIFACTS, sleep } from '../lib/util.mjs';

const TTL = 30; // seconds: signer.MinTTL
// The shared world's peers, plus this suite's own Better Auth (which it takes down and brings back with
// the same secret and database, so sessions survive) and its own runner with TOKEN_TTL=30s pointing at it.
let w; let browser; let ba; let baOpts; let runner; let api;
const { skip } = suite({ deps: ['go', 'postgres', 'chromium'], timeout: 360_000, async start({ own, defer }) {
  w = await own(startWorld());
  baOpts = { databaseUrl: await createDatabase(w.pg.url, 'better_auth_kept'), trustedOrigins: [w.spa.origin], secret: randomBytes(32).toString('hex') };
  ba = await startBetterAuth(baOpts);
  // The test replaces ba (stopped, then started again): stop whichever runs at the end.
  defer(() => ba?.stop().catch(() => {}));
  runner = await own(startRunner({ envVars: { ...w.env, Parameters: { ...w.env.Parameters, TOKEN_TTL: `${TTL}s`, BETTER_AUTH_URL: ba.url } } }));
  api = runner.url;
  browser = await own(launchChromium(), (b) => b.close());
} });

/** Waits until the page's token client has received n tokens (or is in state). */
async function waitTokens(page, n, timeout = 90_000) {
  await page.waitForFunction((k) => window.e2e.keptState().tokens >= k, n, { timeout, polling: 200 });
}
async function waitState(page, state, timeout = 90_000) {
  await page.waitForFunction((s) => window.e2e.keptState().state === s, state, { timeout, polling: 200 });
}
async function waitEvent(page, pred, timeout = 90_000) {
  await page.waitForFunction(pred, null, { timeout, polling: 100 });
}
const todos = (page, titles) => page.evaluate((t) => window.e2e.keptTodos(t), titles);

test('chromium: the token client keeps @insforge/sdk signed in for a Clerk (bearer) and a Better Auth (cookie) user across refreshes, a 503 burst and sign-out', { skip, timeout: 360_000 }, async () => {
  const clerk = w.issuers.providers.clerk;
  const bridge = (name) => `${api}/token/${name}`;

  // User A: Better Auth, signed in in the browser; the session cookie goes to the bridge.
  const email = `kept-${Date.now()}@example.com`;
  const { user: userA } = await baClient(ba.url, w.spa.origin).signUp(email, 'correct horse battery', 'Kept A');
  const A = await openSpa(browser, w.spa.origin);
  assert.equal((await A.page.evaluate(([u, e]) => window.e2e.betterAuthSignIn(u, e, 'correct horse battery'), [ba.url, email])).status, 200);

  // User B: Clerk. The page's credential getter asks the provider for a fresh session token for
  // the same user each time (what Clerk's session.getToken() does); null once signed out.
  const subB = clerk.newSub();
  let clerkSignedOut = false;
  const B = await openSpa(browser, w.spa.origin);
  await B.page.exposeFunction('providerCredential', async () => (clerkSignedOut ? null : (await clerk.mint({ sub: subB })).token));

  const startA = A.page.evaluate(([b, u, k]) => window.e2e.startTokenClient(b, u, k, { cookie: true }), [bridge('better-auth'), w.insforge.url, w.insforge.anonKey]);
  const startB = B.page.evaluate(([b, u, k]) => window.e2e.startTokenClient(b, u, k), [bridge('clerk'), w.insforge.url, w.insforge.anonKey]);
  assert.deepEqual(await Promise.all([startA, startB]), [true, true]);

  const a1 = await todos(A.page, ['A1: before any refresh']);
  const b1 = await todos(B.page, ['B1: before any refresh']);
  assert.equal(a1.error, undefined, JSON.stringify(a1.error));
  assert.equal(b1.error, undefined, JSON.stringify(b1.error));
  assert.equal(a1.inserted[0].user_id, userA.id);
  assert.equal(b1.inserted[0].user_id, subB);

  // Two refreshes each; after the second the first token has expired (30 s), so a working SDK
  // call proves the refreshed token is the one in use.
  await Promise.all([waitTokens(A.page, 3), waitTokens(B.page, 3)]);
  const a2 = await todos(A.page, ['A2: after two refreshes']);
  const b2 = await todos(B.page, ['B2: after two refreshes']);
  assert.deepEqual(a2.rows?.map((r) => r.title), ['A1: before any refresh', 'A2: after two refreshes'], JSON.stringify(a2.error));
  assert.deepEqual(b2.rows?.map((r) => r.title), ['B1: before any refresh', 'B2: after two refreshes'], JSON.stringify(b2.error));

  // 503 bursts from the real bridges.
  // Better Auth: its server goes away; the bridge's session lookup fails → 503 provider_unavailable + Retry-After.
  // Clerk: an unknown-kid probe arms the bridge's JWKS refetch cooldown, then the provider rotates its
  // key: fresh credentials carry a kid the bridge cannot learn yet → 503 + Retry-After until the cooldown ends.
  const baPort = Number(new URL(ba.url).port);
  await ba.stop();
  const probe = await callBridge(api, 'clerk', { bearer: (await clerk.mintUnpublished({ sub: subB })).token });
  assert.equal(probe.status, 401, JSON.stringify(probe.body));
  await clerk.rotate();
  const saw503 = () => window.e2e.keptState().timeline.some((x) => x.bridge === 503);
  await Promise.all([waitEvent(A.page, saw503), waitEvent(B.page, saw503)]);
  // Counted before Better Auth comes back, so the token awaited below is one minted after the burst
  // (Clerk's may already be back: then its next token is awaited, which only takes longer).
  const tokensA = (await A.page.evaluate(() => window.e2e.keptState())).tokens;
  const tokensB = (await B.page.evaluate(() => window.e2e.keptState())).tokens;
  await sleep(8000); // Better Auth stays down for more retries: each one waits Retry-After, none hammers
  ba = await startBetterAuth({ ...baOpts, port: baPort });
  await Promise.all([waitTokens(A.page, tokensA + 1), waitTokens(B.page, tokensB + 1)]);
  const a3 = await todos(A.page, ['A3: after the 503 burst']);
  const b3 = await todos(B.page, ['B3: after the 503 burst']);
  assert.deepEqual(a3.rows?.map((r) => r.title), ['A1: before any refresh', 'A2: after two refreshes', 'A3: after the 503 burst'], JSON.stringify(a3.error));
  assert.deepEqual(b3.rows?.map((r) => r.title), ['B1: before any refresh', 'B2: after two refreshes', 'B3: after the 503 burst'], JSON.stringify(b3.error));
  // RLS: each sees only their own rows, and B cannot change A's.
  assert.ok(a3.rows.every((r) => r.user_id === userA.id));
  assert.ok(b3.rows.every((r) => r.user_id === subB));
  const hijack = await B.page.evaluate(async (id) => {
    const { data, error } = await window.e2e.kept.insforge.database.from('todos').update({ title: 'hijacked' }).eq('id', id).select();
    return { data, error };
  }, a1.inserted[0].id);
  assert.deepEqual(hijack.data ?? [], []);

  // Sign-out: Better Auth deletes the session and clears its cookie; Clerk's getter returns null. Each
  // client stops by itself at its next refresh and clears the SDK token. A refresh racing the sign-out
  // may still carry the cookie of the deleted session (the session is gone before the cookie is): the
  // bridge then answers 401 invalid_token instead of missing_credential; both are this sign-out, and
  // any 401 signs the client out. A refresh that reached the bridge before the deletion got a token:
  // the client signs out at the refresh after it.
  assert.equal((await A.page.evaluate((u) => window.e2e.betterAuthSignOut(u), ba.url)).status, 200);
  clerkSignedOut = true;
  await Promise.all([waitState(A.page, 'signed-out'), waitState(B.page, 'signed-out')]);
  const sa = await A.page.evaluate(() => window.e2e.keptState());
  const sb = await B.page.evaluate(() => window.e2e.keptState());
  assert.equal(sa.timeline.at(-1).event, 'signed-out');
  assert.ok(['missing_credential', 'invalid_token'].includes(sa.timeline.at(-1).reason), JSON.stringify(sa.timeline.slice(-3)));
  assert.equal(sa.timeline.at(-2).bridge, 401, 'signed out on the bridge\'s 401');
  assert.equal(sb.timeline.at(-1).event, 'signed-out');
  assert.equal(sb.timeline.at(-1).reason, 'credential');
  // No token in the SDK any more: the user's rows are out of reach.
  const gone = await todos(A.page, []);
  assert.ok(gone.error || gone.rows.length === 0, `after sign-out: ${JSON.stringify(gone)}`);
  // Stopped means stopped: no bridge request after the sign-out.
  const bridgeCalls = (s) => s.timeline.filter((x) => x.bridge).length;
  await sleep(3000);
  assert.equal(bridgeCalls(await A.page.evaluate(() => window.e2e.keptState())), bridgeCalls(sa));
  assert.equal(bridgeCalls(await B.page.evaluate(() => window.e2e.keptState())), bridgeCalls(sb));

  // The timeline (seconds since start): bridge answers and client events, never tokens.
  mkdirSync(ARTIFACTS, { recursive: true });
  const report = { ttl: TTL, betterAuth: sa.timeline, clerk: sb.timeline };
  writeFileSync(path.join(ARTIFACTS, 'spa-token-client-timeline.json'), JSON.stringify(report, null, 2));
  for (const [name, tl] of Object.entries({ 'better-auth (cookie)': sa.timeline, 'clerk (bearer)': sb.timeline })) {
    console.log(`# token client timeline ${name}: ${tl.map((x) => (x.bridge ? `${x.t}s bridge ${x.bridge}${x.retryAfter ? ` Retry-After ${x.retryAfter}` : ''}` : `${x.t}s ${x.event}${x.refreshIn !== undefined ? ` (refresh in ${x.refreshIn}s)` : ''}${x.retryIn !== undefined ? ` (retry in ${Math.round(x.retryIn / 100) / 10}s)` : ''}`)).join('; ')}`);
    assert.ok(tl.filter((x) => x.event === 'token').length >= 4, `${name}: first token, two refreshes, one after the burst`);
    assert.ok(!JSON.stringify(tl).includes('eyJ'), 'no token in the timeline');
    // The browser could read Retry-After (the bridge exposes it) and the client waited that long: Retry-After,
    // or the first backoff (1 to 1.5 s) when Retry-After is shorter (the Clerk bridge's cooldown may be
    // nearly over: "Retry-After: 1").
    const i = tl.findIndex((x) => x.bridge === 503);
    assert.match(tl[i].retryAfter ?? '', /^[1-9][0-9]*$/, `${name}: Retry-After readable by the page`);
    assert.equal(tl[i + 1].event, 'error');
    const ra = Number(tl[i].retryAfter) * 1000;
    assert.ok(tl[i + 1].retryIn >= ra && tl[i + 1].retryIn <= Math.max(ra, 1500), `${name}: waited ${tl[i + 1].retryIn} ms for Retry-After ${tl[i].retryAfter}`);
  }
  await A.page.screenshot({ path: path.join(ARTIFACTS, 'spa-token-client-a.png'), fullPage: true });
  assert.deepEqual([...A.consoleErrors, ...B.consoleErrors].filter((m) => !/Failed to load resource/.test(m)), []);
  await A.context.close(); await B.context.close();
});
