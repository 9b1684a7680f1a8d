// Unit tests of token-client.mjs with Node's built-in runner: fake timers
// (mock.timers: setTimeout and Date) and a fake bridge answering like
// POST /token/<provider> does (docs/openapi.yaml).
import { test, mock, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createTokenClient, SignedOutError, isSignedOutError } from './token-client.mjs';

const T0 = Date.UTC(2026, 0, 1);
const S = 1000;

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 }));
afterEach(() => mock.timers.reset());

// flush lets promise chains (fetch → json → accept) run between fake-time steps.
async function flush() {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}
async function advance(ms) {
  mock.timers.tick(ms);
  await flush();
}
// callAt proves the bridge's next request comes exactly ms from now: n requests at ms - 1, n + 1 at ms.
async function callAt(bridge, ms, n, what = 'the next request') {
  await advance(ms - 1);
  assert.equal(bridge.calls.length, n, `${what} came before its time`);
  await advance(1);
  assert.equal(bridge.calls.length, n + 1, `${what} did not come on time`);
}

// fakeBridge answers from a script of responses (the last one repeats); each token
// lives ttl seconds from the fake now. It records every request.
function fakeBridge({ ttl = 3600, script = [] } = {}) {
  const calls = [];
  let n = 0;
  const fetch = async (url, init) => {
    calls.push({ url, init, at: Date.now() });
    const step = script.length ? script[Math.min(calls.length - 1, script.length - 1)] : { status: 200 };
    if (step.throw) throw new TypeError('Failed to fetch');
    const status = step.status ?? 200;
    const headers = new Headers(step.headers ?? {});
    headers.set('Content-Type', 'application/json');
    if (status === 200) {
      n++;
      const now = Math.floor(Date.now() / 1000);
      const life = step.ttl ?? ttl;
      return new Response(JSON.stringify({ token: `tok.${n}.sig`, token_type: 'Bearer', expires_in: life, expires_at: now + life }), { status, headers });
    }
    return new Response(JSON.stringify({ error: step.code ?? 'x', message: 'm' }), { status, headers });
  };
  return { fetch, calls };
}

function fakeSdk() {
  const set = [];
  return { set, setAccessToken: (t) => set.push(t) };
}

// fakePage is a document + window with visibility and focus events.
function fakePage() {
  const doc = new EventTarget();
  doc.visibilityState = 'visible';
  const win = new EventTarget();
  return {
    document: doc, window: win,
    hide() { doc.visibilityState = 'hidden'; doc.dispatchEvent(new Event('visibilitychange')); },
    show() { doc.visibilityState = 'visible'; doc.dispatchEvent(new Event('visibilitychange')); },
    focus() { win.dispatchEvent(new Event('focus')); },
  };
}

function client(bridge, extra = {}) {
  const sdk = fakeSdk();
  const events = [];
  const c = createTokenClient({
    url: 'https://api.example.com/token/clerk', fetch: bridge.fetch, insforge: sdk,
    getCredential: async () => 'provider.jwt.value', random: () => 0.5, document: null, window: null, ...extra,
  });
  c.onChange((e) => events.push(e));
  return { c, sdk, events };
}

test('concurrent getToken calls share one bridge request and the SDK gets the token once', async () => {
  const bridge = fakeBridge();
  const { c, sdk } = client(bridge);
  const all = Promise.all([c.getToken(), c.getToken(), c.getToken(), c.getToken(), c.getToken()]);
  await flush();
  assert.deepEqual(await all, Array(5).fill('tok.1.sig'));
  assert.equal(bridge.calls.length, 1);
  assert.deepEqual(sdk.set, ['tok.1.sig']);
  assert.equal(await c.getToken(), 'tok.1.sig');
  assert.equal(bridge.calls.length, 1, 'a valid token is served without a request');
  c.stop();
});

test('a browser clock that is off does not make fresh tokens look expired (expires_in wins over expires_at)', async () => {
  // The bridge's clock is 2 h behind the browser: expires_at is in the browser's past.
  const calls = [];
  const fetch = async () => {
    calls.push(Date.now());
    const serverNow = Math.floor(Date.now() / 1000) - 7200;
    return new Response(JSON.stringify({ token: 'tok.skew.sig', token_type: 'Bearer', expires_in: 3600, expires_at: serverNow + 3600 }), { status: 200 });
  };
  const { c, events } = client({ fetch });
  const tok = c.getToken();
  await flush();
  assert.equal(await tok, 'tok.skew.sig');
  assert.equal(await c.getToken(), 'tok.skew.sig');
  assert.equal(calls.length, 1);
  assert.equal(events[0].refreshAt, T0 + 3535 * S);
  c.stop();
});

test('a token that is already expired on arrival is handed out once, then refreshed no sooner than minInterval (no refetch loop)', async () => {
  const bridge = fakeBridge({ ttl: 0 });
  const { c } = client(bridge, { minInterval: 5 * S });
  const tok = c.getToken();
  await flush();
  assert.equal(await tok, 'tok.1.sig');
  assert.equal(bridge.calls.length, 1);
  await callAt(bridge, 5 * S, 1);
  c.stop();
});

test('bearer mode sends the credential as Authorization: Bearer without cookies; cookie mode sends credentials: include and no Authorization', async () => {
  const b1 = fakeBridge();
  const { c: bearer } = client(b1);
  await Promise.all([bearer.getToken(), flush()]);
  const i1 = b1.calls[0].init;
  assert.equal(i1.method, 'POST');
  assert.equal(i1.headers.Authorization, 'Bearer provider.jwt.value');
  assert.equal(i1.credentials, 'omit');
  assert.equal(i1.cache, 'no-store');
  bearer.stop();

  const b2 = fakeBridge();
  const { c: cookie } = client(b2, { getCredential: undefined, credentials: 'include' });
  await Promise.all([cookie.getToken(), flush()]);
  const i2 = b2.calls[0].init;
  assert.equal(i2.headers.Authorization, undefined);
  assert.equal(i2.credentials, 'include');
  cookie.stop();

  assert.throws(() => createTokenClient({ url: 'https://x/token/clerk' }), /getCredential|credentials/);
});

test('refreshes ahead of expires_at by refreshBefore plus jitter, and sets each new token on the SDK', async () => {
  // ttl 3600 s: lead = min(60 s, 1200 s) + 0.5 × min(10 s, 360 s) = 65 s.
  const bridge = fakeBridge({ ttl: 3600 });
  const { c, sdk, events } = client(bridge);
  await Promise.all([c.getToken(), flush()]);
  assert.equal(events[0].refreshAt, T0 + 3535 * S);
  await callAt(bridge, 3535 * S, 1, 'the refresh');
  assert.deepEqual(sdk.set, ['tok.1.sig', 'tok.2.sig']);
  assert.equal(await c.getToken(), 'tok.2.sig');
  await advance(3535 * S);
  assert.equal(bridge.calls.length, 3, 'and again for the next token');
  c.stop();
});

test('jitter spreads refresh times between clients', async () => {
  const at = [];
  for (const r of [0, 1]) {
    const { c, events } = client(fakeBridge({ ttl: 3600 }), { random: () => r });
    await Promise.all([c.getToken(), flush()]);
    at.push(events[0].refreshAt - T0);
    c.stop();
  }
  assert.deepEqual(at, [3540 * S, 3530 * S]);
});

test('short-lived tokens refresh at two thirds of their life, never sooner than minInterval', async () => {
  // ttl 30 s: lead = min(60, 10) + 0.5 × min(10, 3) = 11.5 s → refresh at 18.5 s.
  const bridge = fakeBridge({ ttl: 30 });
  const { c, events } = client(bridge);
  await Promise.all([c.getToken(), flush()]);
  assert.equal(events[0].refreshAt, T0 + 18_500);
  c.stop();
  // ttl 3 s: two thirds would be 1.85 s; minInterval (5 s) wins.
  const b2 = fakeBridge({ ttl: 3 });
  const { c: c2 } = client(b2, { minInterval: 5 * S });
  await Promise.all([c2.getToken(), flush()]);
  await callAt(b2, 5 * S, 1);
  c2.stop();
});

test('503 and 429 are retried after Retry-After; the current token stays in use meanwhile', async () => {
  for (const status of [503, 429]) {
    mock.timers.reset();
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 });
    const bridge = fakeBridge({ ttl: 60, script: [{ status: 200 }, { status, headers: { 'Retry-After': '7' } }, { status: 200 }] });
    const { c, sdk, events } = client(bridge, { refreshBefore: 20 * S, jitter: 0 });
    await Promise.all([c.getToken(), flush()]);
    await advance(40 * S); // refresh due at 40 s → the bridge answers with status
    assert.equal(bridge.calls.length, 2);
    const err = events.find((e) => e.type === 'error');
    assert.deepEqual({ status: err.status, retryIn: err.retryIn, fatal: err.fatal }, { status, retryIn: 7 * S, fatal: false });
    assert.equal(c.state, 'retrying');
    assert.equal(await c.getToken(), 'tok.1.sig', 'still valid, still served');
    await callAt(bridge, 7 * S, 2, 'the retry after Retry-After');
    assert.deepEqual(sdk.set, ['tok.1.sig', 'tok.2.sig']);
    assert.equal(c.state, 'active');
    c.stop();
  }
});

test('without Retry-After failures back off exponentially, capped at maxBackoff (Retry-After too)', async () => {
  const bridge = fakeBridge({ script: [{ throw: true }, { status: 502 }, { status: 500 }, { status: 503 }, { status: 503 }, { status: 503, headers: { 'Retry-After': '600' } }, { status: 200 }] });
  const { c, events } = client(bridge, { backoffBase: 1 * S, maxBackoff: 5 * S, random: () => 0 });
  const first = c.getToken();
  await flush();
  const waits = [];
  for (let i = 0; i < 6; i++) {
    const e = events.filter((x) => x.type === 'error').at(-1);
    waits.push(e.retryIn);
    await advance(e.retryIn);
  }
  assert.deepEqual(waits, [1 * S, 2 * S, 4 * S, 5 * S, 5 * S, 5 * S]);
  assert.equal(await first, 'tok.1.sig', 'a caller without a token waits for the retry that succeeds');
  assert.equal(bridge.calls.length, 7);
  c.stop();
});

// Retry-After only ever lengthens a wait: "0", a past date or a delay shorter than the
// backoff all wait the backoff, so a bridge or proxy answering them cannot make the
// client call it in a loop.
for (const [name, retryAfter] of [
  ['Retry-After: 0', '0'],
  ['a Retry-After date in the past', new Date(T0 - 3600 * S).toUTCString()],
  ['a Retry-After shorter than the backoff', '1'],
]) {
  test(`${name} waits the exponential backoff, never less`, async () => {
    const bridge = fakeBridge({ script: [{ status: 503, headers: { 'Retry-After': retryAfter } }, { status: 503, headers: { 'Retry-After': retryAfter } },
      { status: 429, headers: { 'Retry-After': retryAfter } }, { status: 200 }] });
    const { c, events } = client(bridge, { backoffBase: 1 * S, maxBackoff: 60 * S, random: () => 0 });
    const first = c.getToken();
    await flush();
    const waits = [];
    for (let i = 0; i < 3; i++) {
      const calls = bridge.calls.length;
      const e = events.filter((x) => x.type === 'error').at(-1);
      waits.push(e.retryIn);
      await callAt(bridge, e.retryIn, calls, `retry ${i + 1}`);
    }
    assert.deepEqual(waits, [1 * S, 2 * S, 4 * S]);
    assert.equal(await first, 'tok.1.sig');
    assert.equal(bridge.calls.length, 4, 'four requests in seven seconds');
    c.stop();
  });
}

test('a Retry-After longer than the backoff is honoured', async () => {
  const bridge = fakeBridge({ script: [{ status: 503, headers: { 'Retry-After': new Date(T0 + 30 * S).toUTCString() } }, { status: 200 }] });
  const { c, events } = client(bridge, { backoffBase: 1 * S, random: () => 0 });
  const first = c.getToken();
  await flush();
  assert.equal(events.at(-1).retryIn, 30 * S);
  await advance(30 * S - 1);
  assert.equal(bridge.calls.length, 1);
  await advance(1);
  assert.equal(await first, 'tok.1.sig');
  c.stop();
});

test('401 stops the client, clears the SDK token and emits signed-out; nothing is fetched afterwards', async () => {
  const bridge = fakeBridge({ ttl: 60, script: [{ status: 200 }, { status: 401, code: 'token_expired' }] });
  const { c, sdk, events } = client(bridge, { jitter: 0 });
  await Promise.all([c.getToken(), flush()]);
  await advance(40 * S);
  assert.equal(bridge.calls.length, 2);
  assert.deepEqual(events.at(-1), { type: 'signed-out', reason: 'token_expired' });
  assert.deepEqual(sdk.set, ['tok.1.sig', null]);
  assert.equal(c.state, 'signed-out');
  assert.equal(await c.getToken(), null);
  await advance(3600 * S);
  assert.equal(bridge.calls.length, 2);
});

// A sign-out racing a refresh: the cookie is gone (missing_credential), or the session is gone while its
// cookie was still sent (invalid_token), or the credential expired. Every 401 is the same sign-out.
for (const code of ['missing_credential', 'invalid_token', 'token_expired', undefined]) {
  test(`a 401 ${code ?? 'without a code'} during a refresh signs out the same way`, async () => {
    const bridge = fakeBridge({ ttl: 60, script: [{ status: 200 }, { status: 401, code }] });
    if (code === undefined) {
      const f = bridge.fetch;
      bridge.fetch = async (...a) => { const r = await f(...a); return r.status === 401 ? new Response('', { status: 401 }) : r; };
    }
    const { c, sdk, events } = client(bridge, { jitter: 0, credentials: 'include', getCredential: undefined });
    await Promise.all([c.getToken(), flush()]);
    await advance(40 * S);
    assert.deepEqual(events.at(-1), { type: 'signed-out', reason: code ?? 'unauthorized' });
    assert.equal(c.state, 'signed-out');
    assert.deepEqual(sdk.set, ['tok.1.sig', null]);
    assert.equal(await c.getToken(), null);
    await advance(3600 * S);
    assert.equal(bridge.calls.length, 2, 'nothing fetched after the sign-out');
  });
}

test('a credential getter that says signed out (null, SignedOutError, WorkOS LoginRequiredError, Auth0 login_required) signs out without a request', async () => {
  class LoginRequiredError extends Error { constructor() { super('login required'); this.name = 'LoginRequiredError'; } }
  const auth0 = Object.assign(new Error('Login required'), { error: 'login_required' });
  const getters = {
    null: async () => null,
    SignedOutError: async () => { throw new SignedOutError(); },
    LoginRequiredError: async () => { throw new LoginRequiredError(); },
    login_required: () => Promise.reject(auth0),
  };
  for (const [name, getCredential] of Object.entries(getters)) {
    const bridge = fakeBridge();
    const { c, events } = client(bridge, { getCredential });
    const tok = c.getToken();
    await flush();
    assert.equal(await tok, null, name);
    assert.equal(bridge.calls.length, 0, name);
    assert.equal(events.at(-1).type, 'signed-out', name);
  }
  assert.equal(isSignedOutError(new TypeError('network')), false);
});

test('a getter failing for another reason is retried, not a sign-out', async () => {
  let fail = true;
  const bridge = fakeBridge();
  const { c, events } = client(bridge, { getCredential: async () => { if (fail) throw new Error('provider sdk offline'); return 'cred'; }, random: () => 0 });
  const tok = c.getToken();
  await flush();
  assert.equal(events[0].type, 'error');
  assert.equal(events[0].fatal, false);
  fail = false;
  await advance(events[0].retryIn);
  assert.equal(await tok, 'tok.1.sig');
  c.stop();
});

test('other 4xx (origin_not_allowed, method_not_allowed) are configuration errors: stop with a fatal error, no retries', async () => {
  const bridge = fakeBridge({ script: [{ status: 403, code: 'origin_not_allowed' }] });
  const { c, events } = client(bridge);
  const tok = c.getToken();
  await flush();
  assert.equal(await tok, null);
  assert.deepEqual(events.at(-1), { type: 'error', status: 403, code: 'origin_not_allowed', fatal: true });
  assert.equal(c.state, 'failed');
  await advance(3600 * S);
  assert.equal(bridge.calls.length, 1);
});

test('while the tab is hidden no refresh is fetched; becoming visible refreshes at once when due, focus before due does not', async () => {
  const page = fakePage();
  const bridge = fakeBridge({ ttl: 60 });
  const { c } = client(bridge, { document: page.document, window: page.window, jitter: 0 });
  await Promise.all([c.getToken(), flush()]); // refresh due at 40 s
  page.focus();
  await flush();
  assert.equal(bridge.calls.length, 1, 'focus before due: nothing');
  page.hide();
  await advance(50 * S);
  assert.equal(bridge.calls.length, 1, 'hidden: the due refresh waits');
  page.show();
  await flush();
  assert.equal(bridge.calls.length, 2, 'visible again and due: refreshed');
  page.hide();
  await advance(40 * S);
  assert.equal(bridge.calls.length, 2);
  page.focus(); // focus while still reported hidden does nothing
  await flush();
  assert.equal(bridge.calls.length, 2);
  page.document.visibilityState = 'visible';
  page.focus();
  await flush();
  assert.equal(bridge.calls.length, 3, 'focus when visible and due: refreshed');
  c.stop();
});

test('getToken while hidden with an expired token still fetches (on demand is not paused)', async () => {
  const page = fakePage();
  const bridge = fakeBridge({ ttl: 60 });
  const { c } = client(bridge, { document: page.document, window: page.window });
  await Promise.all([c.getToken(), flush()]);
  page.hide();
  await advance(120 * S);
  assert.equal(bridge.calls.length, 1);
  const tok = c.getToken();
  await flush();
  assert.equal(await tok, 'tok.2.sig');
  c.stop();
});

test('onChange unsubscribes; stop() ends refreshing, emits stopped and removes the page listeners', async () => {
  const page = fakePage();
  const removed = [];
  const orig = page.document.removeEventListener.bind(page.document);
  page.document.removeEventListener = (t, f) => { removed.push(t); orig(t, f); };
  const bridge = fakeBridge({ ttl: 60 });
  const { c, events } = client(bridge, { document: page.document, window: page.window });
  const seen = [];
  const off = c.onChange((e) => seen.push(e.type));
  await Promise.all([c.getToken(), flush()]);
  off();
  c.stop();
  assert.deepEqual(seen, ['token']);
  assert.equal(events.at(-1).type, 'stopped');
  assert.deepEqual(removed, ['visibilitychange']);
  await advance(3600 * S);
  page.show();
  await flush();
  assert.equal(bridge.calls.length, 1);
  assert.equal(await c.getToken(), null);
});

test('a listener that throws does not stop refreshing', async () => {
  const bridge = fakeBridge({ ttl: 60 });
  const { c } = client(bridge, { jitter: 0 });
  c.onChange(() => { throw new Error('app bug'); });
  await Promise.all([c.getToken(), flush()]);
  await advance(40 * S);
  assert.equal(bridge.calls.length, 2);
  c.stop();
});

test('never writes to the console: no token or credential can be logged', async () => {
  const spies = ['log', 'info', 'warn', 'error', 'debug', 'trace'].map((m) => mock.method(console, m, () => {}));
  try {
    const bridge = fakeBridge({ ttl: 60, script: [{ status: 200 }, { status: 503, headers: { 'Retry-After': '1' } }, { throw: true }, { status: 200 }, { status: 401 }] });
    const { c } = client(bridge, { jitter: 0, random: () => 0 });
    await Promise.all([c.getToken(), flush()]);
    for (let i = 0; i < 6; i++) await advance(40 * S);
    assert.equal(c.state, 'signed-out');
    for (const s of spies) assert.equal(s.mock.callCount(), 0, `console.${s.mock.name ?? ''} was called`);
  } finally {
    for (const s of spies) s.mock.restore();
  }
});

test('token-client.d.ts declares exactly what the module exports', async () => {
  const { readFile } = await import('node:fs/promises');
  const dts = await readFile(new URL('./token-client.d.ts', import.meta.url), 'utf8');
  const declared = [...dts.matchAll(/^export (?:declare )?(?:function|class|const) (\w+)/gm)].map((m) => m[1]).sort();
  const mod = await import('./token-client.mjs');
  assert.deepEqual(declared, Object.keys(mod).sort());
});

// fakeWalletBridge answers GET <url>/nonce and POST <url> like token-wallet does.
function fakeWalletBridge({ ttl = 3600, signIn = 200 } = {}) {
  const calls = [];
  let n = 0;
  const fetch = async (url, init) => {
    calls.push({ url, init });
    const headers = new Headers({ 'Content-Type': 'application/json' });
    if (url.endsWith('/nonce')) {
      n++;
      return new Response(JSON.stringify({ nonce: `nonce${String(n).padStart(8, '0')}`, expires_at: 0, chain_id: 196 }), { status: 200, headers });
    }
    if (signIn !== 200) return new Response(JSON.stringify({ error: 'siwe_signature_mismatch', message: 'm' }), { status: signIn, headers });
    return new Response(JSON.stringify({ token: `wtok.${n}.sig`, token_type: 'Bearer', expires_in: ttl, expires_at: 0 }), { status: 200, headers });
  };
  return { fetch, calls };
}

const ADDRESS = '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266';

test('wallet mode signs a fresh EIP-4361 message per fetch, with the nonce the bridge issued, and posts it as JSON', async () => {
  const b = fakeWalletBridge({ ttl: 600 });
  const signed = [];
  const sdk = fakeSdk();
  const c = createTokenClient({
    url: 'https://api.example.com/token/wallet', insforge: sdk, fetch: b.fetch, random: () => 0, document: null, window: null,
    wallet: { address: ADDRESS, domain: 'app.example.com', uri: 'https://app.example.com/login', statement: 'Sign in.',
      signMessage: async (m) => { signed.push(m); return '0x' + 'ab'.repeat(65); } },
  });
  assert.equal(await c.getToken(), 'wtok.1.sig');
  assert.deepEqual(sdk.set, ['wtok.1.sig']);
  assert.equal(b.calls[0].url, 'https://api.example.com/token/wallet/nonce');
  assert.equal(b.calls[0].init.method, 'GET');
  const post = b.calls[1];
  assert.equal(post.init.method, 'POST');
  assert.equal(post.init.headers['Content-Type'], 'application/json');
  assert.equal(post.init.headers.Authorization, undefined);
  assert.equal(post.init.credentials, 'omit');
  const body = JSON.parse(post.init.body);
  assert.equal(body.signature, '0x' + 'ab'.repeat(65));
  assert.equal(body.message, signed[0]);
  assert.equal(signed[0], 'app.example.com wants you to sign in with your Ethereum account:\n' + ADDRESS + '\n\nSign in.\n\n' +
    'URI: https://app.example.com/login\nVersion: 1\nChain ID: 196\nNonce: nonce00000001\nIssued At: ' + new Date(T0).toISOString());
  // The refresh (ahead of expiry, same rules as every mode) signs again with a new nonce.
  await advance(600 * S);
  assert.equal(signed.length, 2);
  assert.match(signed[1], /\nNonce: nonce00000002\n/);
  assert.equal(sdk.set.at(-1), 'wtok.2.sig');
  c.stop();
});

test('wallet mode: a rejected signature request, no account or a 401 from the bridge is signed out', async () => {
  for (const [name, wallet, status] of [
    ['user rejected (EIP-1193 4001)', { address: ADDRESS, signMessage: async () => { throw Object.assign(new Error('User rejected'), { code: 4001 }); } }, 200],
    ['no account', { getAddress: async () => null, signMessage: async () => '0x00' }, 200],
    ['bridge refuses', { address: ADDRESS, signMessage: async () => '0x00' }, 401],
  ]) {
    const b = fakeWalletBridge({ signIn: status });
    const events = [];
    const c = createTokenClient({ url: 'https://api.example.com/token/wallet', fetch: b.fetch, document: null, window: null,
      wallet: { domain: 'app.example.com', uri: 'https://app.example.com', ...wallet } });
    c.onChange((e) => events.push(e.type));
    assert.equal(await c.getToken(), null, name);
    assert.equal(c.state, 'signed-out', name);
    assert.deepEqual(events, ['signed-out'], name);
  }
});

test('wallet mode needs a signer', () => {
  assert.throws(() => createTokenClient({ url: 'https://api.example.com/token/wallet', wallet: { address: ADDRESS } }), TypeError);
});
